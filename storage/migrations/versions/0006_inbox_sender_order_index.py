"""inbox: partial index on each sender's unsettled rows (the worker's per-sender order)

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSETTLED = sa.text("state IN ('pending', 'processing')")


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_sender_unsettled",
            ["platform", "sender_id", "id"],
            unique=False,
            postgresql_where=UNSETTLED,
            sqlite_where=UNSETTLED,
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_sender_unsettled", postgresql_where=UNSETTLED, sqlite_where=UNSETTLED)
