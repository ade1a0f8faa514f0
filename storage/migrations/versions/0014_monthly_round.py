"""the monthly report becomes the built-in monthly round: a round row per period, reports linked to it

Every period that has reports gets its ``round`` row (kind ``monthly``, code ``M2026-10``) and every version of
every report is linked to it by ``submission.round_id``; nothing else in the reports changes. ``round`` gains
``extended_at`` (when the office last moved a deadline with ``截止 #N``).

The deadline written here is the default rule's (the 25th of the following month, 23:59:59 Asia/Shanghai): a
placeholder only, since the office's configuration is not at hand in a migration. While ``extended_at`` is empty
the application keeps a monthly round's deadline equal to the configured rule (``storage.monthly_round``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHANGHAI = ZoneInfo("Asia/Shanghai")

_round = sa.table(
    "round",
    sa.column("kind", sa.String),
    sa.column("title", sa.String),
    sa.column("instructions", sa.Text),
    sa.column("fields", sa.JSON),
    sa.column("group", sa.String),
    sa.column("deadline", storage.models.UtcDateTime()),
    sa.column("state", sa.String),
    sa.column("code", sa.String),
    sa.column("created_at", storage.models.UtcDateTime()),
)


def _default_deadline(period: str) -> datetime:
    year, month = int(period[:4]), int(period[5:7])
    due = date(year + month // 12, month % 12 + 1, 25)
    return datetime.combine(due, time(23, 59, 59), tzinfo=_SHANGHAI).astimezone(UTC)


def upgrade() -> None:
    op.add_column("round", sa.Column("extended_at", storage.models.UtcDateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its REFERENCES clause in place; a batch copy of ``submission`` would have to
        # drop the table that ``stored_file`` rows point at.
        op.execute("ALTER TABLE submission ADD COLUMN round_id INTEGER REFERENCES round (id)")
    else:
        op.add_column("submission", sa.Column("round_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_submission_round_id_round"), "submission", "round", ["round_id"], ["id"])
    op.create_index("ix_submission_round_id", "submission", ["round_id"], unique=False)

    connection = op.get_bind()
    periods = [row[0] for row in connection.execute(sa.text("SELECT DISTINCT period FROM submission ORDER BY period"))]
    taken = {row[0] for row in connection.execute(sa.text("SELECT code FROM round WHERE kind = 'monthly'"))}
    now = datetime.now(UTC)
    rows = [
        {
            "kind": "monthly",
            "title": f"{int(period[:4])}年{int(period[5:7])}月工作进展",
            "instructions": "",
            "fields": [],
            "group": "",
            "deadline": _default_deadline(period),
            "state": "open",
            "code": f"M{period}",
            "created_at": now,
        }
        for period in periods
        if f"M{period}" not in taken
    ]
    if rows:
        op.bulk_insert(_round, rows)
    op.execute(
        "UPDATE submission SET round_id = (SELECT round.id FROM round WHERE round.code = 'M' || submission.period)"
    )


def downgrade() -> None:
    op.drop_index("ix_submission_round_id", table_name="submission")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column that holds a foreign key, and the batch copy that can drops ``submission``
        # itself, which would break the ``stored_file`` rows pointing at it (foreign keys are on, and cannot be
        # switched off inside the migration's transaction). Those links are set aside and put back.
        op.execute(
            "CREATE TEMPORARY TABLE _file_submission AS"
            " SELECT id, submission_id FROM stored_file WHERE submission_id IS NOT NULL"
        )
        op.execute("UPDATE stored_file SET submission_id = NULL WHERE submission_id IS NOT NULL")
        with op.batch_alter_table("submission", schema=None) as batch_op:
            batch_op.drop_column("round_id")
        op.execute(
            "UPDATE stored_file SET submission_id ="
            " (SELECT kept.submission_id FROM _file_submission AS kept WHERE kept.id = stored_file.id)"
            " WHERE id IN (SELECT id FROM _file_submission)"
        )
        op.execute("DROP TABLE _file_submission")
    else:
        op.drop_constraint(op.f("fk_submission_round_id_round"), "submission", type_="foreignkey")
        op.drop_column("submission", "round_id")
    op.execute("DELETE FROM round WHERE kind = 'monthly'")
    op.drop_column("round", "extended_at")  # a plain column: dropped in place on SQLite too
