"""card revision and lease: one renderer at a time, and it ends on the newest state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_revision", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("card_lease", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.drop_column("card_lease")
        batch_op.drop_column("card_revision")
