"""outbox: a file the message carries (blob reference and name) and its platform upload (media id, when)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("file_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("media_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("media_uploaded_at", storage.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_outbox_file_sha256_blob"), "blob", ["file_sha256"], ["sha256"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_file_sha256_blob"), type_="foreignkey")
        batch_op.drop_column("media_uploaded_at")
        batch_op.drop_column("media_id")
        batch_op.drop_column("file_name")
        batch_op.drop_column("file_sha256")
