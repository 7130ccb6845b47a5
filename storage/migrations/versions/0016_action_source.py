"""a corrective action remembers the Slack message it was created from

Revision ID: 0016_action_source
Revises: 0013_eval_cases
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = "0016_action_source"
down_revision = "0013_eval_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.drop_column("source")
