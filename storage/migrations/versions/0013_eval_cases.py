"""eval cases: structured cases of a postmortem, for an eval harness

Revision ID: 0013_eval_cases
Revises: 0012_canvas
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = "0013_eval_cases"
down_revision = "0011_timeline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("action_ids", sa.JSON(), nullable=False),
        sa.Column("form_view", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["postmortem_id"], ["postmortems.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("postmortem_id", "form_view", name="uq_eval_cases_form"),
    )
    op.create_index("ix_eval_cases_postmortem_id", "eval_cases", ["postmortem_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_eval_cases_postmortem_id", table_name="eval_cases")
    op.drop_table("eval_cases")
