"""an index of the closed actions by when they were closed, with what the insights count of them

Revision ID: 0017_closed_index
Revises: 0014_installations
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa


revision = "0017_closed_index"
down_revision = "0014_installations"
branch_labels = None
depends_on = None

COLUMNS = ["closed_at", "status", "due", "created_at", "postmortem_id"]
CLOSED = "closed_at IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_corrective_actions_closed",
        "corrective_actions",
        COLUMNS,
        unique=False,
        sqlite_where=sa.text(CLOSED),
        postgresql_where=sa.text(CLOSED),
    )


def downgrade() -> None:
    op.drop_index("ix_corrective_actions_closed", table_name="corrective_actions")
