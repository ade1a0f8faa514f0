"""meeting: a 会议 round's meeting — start, place, attendees, and the declared series it belongs to

Meeting rounds posted before this revision kept the meeting only in their text ("时间：12月9日（周三）15:00",
"地点：…", "参会：…"); each gets its row read back from that text, in the product's zone (Asia/Shanghai), the
year being the first one that puts the meeting on or after the 回执 deadline.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 22:00:00
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONE = ZoneInfo("Asia/Shanghai")
_WHEN = re.compile(r"^时间：(\d{1,2})月(\d{1,2})日（周.）(\d{1,2}):(\d{2})")


def _meeting_of(instructions: str, deadline: datetime) -> dict[str, object]:
    """The meeting row a pre-0011 meeting round's text describes (its deadline if the time cannot be read)."""
    lines = instructions.splitlines()
    starts = deadline.astimezone(UTC)
    when = _WHEN.match(lines[0]) if lines else None
    if when is not None:
        due = deadline.astimezone(ZONE)
        month, day, hour, minute = (int(part) for part in when.groups())
        for year in (due.year, due.year + 1):
            try:
                local = datetime(year, month, day, hour, minute, tzinfo=ZONE)
            except ValueError:  # 2月29日 of a common year
                continue
            if local.date() >= due.date():
                starts = local.astimezone(UTC)
                break
    place = next((line.removeprefix("地点：") for line in lines if line.startswith("地点：")), "")
    attendees = next((line.removeprefix("参会：") for line in lines if line.startswith("参会：")), "")
    return {"starts_at": starts, "place": place[:200], "attendees": attendees[:200]}


def upgrade() -> None:
    meeting = op.create_table(
        "meeting",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("attendees", sa.String(length=200), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=True),
        sa.Column("nominal", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_meeting_round_id_round")),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_meeting")),
        sa.UniqueConstraint("series", "nominal", name="uq_meeting_series_nominal"),
    )
    round_ = sa.table(
        "round",
        sa.column("id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("instructions", sa.Text()),
        sa.column("deadline", storage.models.UtcDateTime(timezone=True)),
    )
    rows = op.get_bind().execute(
        sa.select(round_.c.id, round_.c.instructions, round_.c.deadline).where(round_.c.kind == "meeting")
    )
    found = [{"round_id": id_, **_meeting_of(text or "", deadline)} for id_, text, deadline in rows]
    if found:
        op.bulk_insert(meeting, found)


def downgrade() -> None:
    op.drop_table("meeting")
