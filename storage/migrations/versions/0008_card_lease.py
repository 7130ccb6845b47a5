"""card lease as a holder and an expiry time: taken, extended and released in one statement each

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_lease_holder", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("card_lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("card_lease")


def downgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_lease", sa.String(length=32), nullable=True))
        batch_op.drop_column("card_lease_until")
        batch_op.drop_column("card_lease_holder")
