"""reminder ledger, Slack user cache, postmortem owner column

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _backfill_owner() -> None:
    """Owners named before this column existed live in the summary section's JSON."""
    connection = op.get_bind()
    answers = sa.table(
        "section_answers", sa.column("postmortem_id", sa.Integer), sa.column("section_key"), sa.column("data", sa.JSON)
    )
    postmortems = sa.table("postmortems", sa.column("id", sa.Integer), sa.column("owner", sa.String))
    rows = connection.execute(
        sa.select(answers.c.postmortem_id, answers.c.data).where(answers.c.section_key == "summary")
    )
    for postmortem_id, data in rows.all():
        owner = (data or {}).get("owner")
        if owner:
            connection.execute(postmortems.update().where(postmortems.c.id == postmortem_id).values(owner=owner))


def upgrade() -> None:
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=150), nullable=True))
        batch_op.create_index(batch_op.f("ix_postmortems_owner"), ["owner"], unique=False)
    _backfill_owner()
    op.create_table(
        "slack_users",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=True),
        sa.Column("gone", sa.Boolean(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "reminder_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("slot", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["action_id"], ["corrective_actions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("reminder_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_ledger_action_id"), ["action_id"], unique=False)
        batch_op.create_index("ix_reminder_ledger_state", ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminder_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_ledger_state")
        batch_op.drop_index(batch_op.f("ix_reminder_ledger_action_id"))

    op.drop_table("reminder_ledger")
    op.drop_table("slack_users")
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postmortems_owner"))
        batch_op.drop_column("owner")
