"""rounds: collections asked of member units (征集) and their answers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("group", sa.String(length=128), nullable=False),
        sa.Column("deadline", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", storage.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["person.id"], name=op.f("fk_round_created_by_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round")),
        sa.UniqueConstraint("code", name=op.f("uq_round_code")),
    )
    op.create_table(
        "round_answer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("parsed", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("received_at", storage.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["inbox_id"], ["inbox.id"], name=op.f("fk_round_answer_inbox_id_inbox")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_round_answer_person_id_person")),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_round_answer_round_id_round")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_round_answer_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_answer")),
        sa.UniqueConstraint("round_id", "unit_id", "version", name="uq_round_answer_round_unit_version"),
    )
    op.create_index("ix_round_answer_round_unit", "round_answer", ["round_id", "unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_round_answer_round_unit", table_name="round_answer")
    op.drop_table("round_answer")
    op.drop_table("round")
