"""the postmortem as a canvas: its id, whether it is standalone, the claim of its create, its render lease

Revision ID: 0012_canvas
Revises: 0009_templates
Create Date: 2026-12-10
"""

from alembic import op
import sqlalchemy as sa


revision = "0012_canvas"
down_revision = "0009_templates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("canvas_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("canvas_standalone", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("canvas_create_started", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("canvas_revision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("canvas_lease_holder", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("canvas_lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("canvas_digests", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        for column in (
            "canvas_digests",
            "canvas_lease_until",
            "canvas_lease_holder",
            "canvas_revision",
            "canvas_create_started",
            "canvas_standalone",
            "canvas_id",
        ):
            batch_op.drop_column(column)
