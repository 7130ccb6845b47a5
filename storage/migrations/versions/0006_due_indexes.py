"""indexes for the reminder sweep's due query: actions by owner, and the open unowned ones

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None

# storage.models.OPEN_AND_UNOWNED as of this revision: no Slack user id to remind
OPEN_AND_UNOWNED = (
    "status = 'open' AND (owner IS NULL OR length(owner) < 3 OR substr(owner, 1, 1) NOT IN ('U', 'W')"
    " OR trim(substr(owner, 2), '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ') <> '')"
)


def upgrade() -> None:
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.create_index("ix_corrective_actions_owner", ["owner", "status"], unique=False)
        batch_op.create_index(
            "ix_corrective_actions_unowned",
            ["id"],
            unique=False,
            sqlite_where=sa.text(OPEN_AND_UNOWNED),
            postgresql_where=sa.text(OPEN_AND_UNOWNED),
        )


def downgrade() -> None:
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_corrective_actions_unowned")
        batch_op.drop_index("ix_corrective_actions_owner")
