"""indexes for the reminder sweep's due query: ids by owner and status, and of actions with no user to remind

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# storage.models.NO_USER_OWNER as of this revision
NO_USER_OWNER = (
    "(owner IS NULL OR length(owner) < 3 OR substr(owner, 1, 1) NOT IN ('U', 'W')"
    " OR trim(substr(owner, 2), '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ') <> '')"
)


def upgrade() -> None:
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.create_index("ix_corrective_actions_owner", ["owner", "status", "id"], unique=False)
        batch_op.create_index(
            "ix_corrective_actions_unowned",
            ["status", "id"],
            unique=False,
            sqlite_where=sa.text(NO_USER_OWNER),
            postgresql_where=sa.text(NO_USER_OWNER),
        )


def downgrade() -> None:
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_corrective_actions_unowned")
        batch_op.drop_index("ix_corrective_actions_owner")
