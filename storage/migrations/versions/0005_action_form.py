"""corrective action form: the form that created an action, unique, so a doubled submission creates one

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_view", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint("uq_corrective_actions_form", ["postmortem_id", "form_view"])


def downgrade() -> None:
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_corrective_actions_form", type_="unique")
        batch_op.drop_column("form_view")
