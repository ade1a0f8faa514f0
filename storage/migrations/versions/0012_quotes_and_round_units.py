"""inbox.quoted (the text a message quotes) and round.units (the units a round asks, when listed by name)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD/DROP COLUMN on both databases (SQLite has both since 3.35): a batch copy of ``inbox`` or ``round``
# would drop the table while answers and files still point at it, which SQLite's foreign keys refuse.


def upgrade() -> None:
    op.add_column("inbox", sa.Column("quoted", sa.Text(), server_default="", nullable=False))
    op.add_column("round", sa.Column("units", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    op.drop_column("round", "units")
    op.drop_column("inbox", "quoted")
