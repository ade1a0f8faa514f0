"""person.feishu_userid: a liaison's Feishu account, unique like the WeCom and DingTalk ids

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feishu_userid", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_person_feishu_userid"), ["feishu_userid"])


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_person_feishu_userid"), type_="unique")
        batch_op.drop_column("feishu_userid")
