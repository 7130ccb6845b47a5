"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.String(length=150), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_edited_by", sa.String(length=32), nullable=True),
        sa.Column("last_edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("card_ts", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", name="uq_postmortems_channel"),
        sa.UniqueConstraint("team_id", "incident_id", name="uq_postmortems_incident"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("section_key", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["postmortem_id"], ["postmortems.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_postmortem_id"), ["postmortem_id"], unique=False)

    op.create_table(
        "corrective_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=150), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("artifact", sa.String(length=150), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["postmortem_id"], ["postmortems.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.create_index("ix_corrective_actions_open", ["status", "due"], unique=False)
        batch_op.create_index(batch_op.f("ix_corrective_actions_postmortem_id"), ["postmortem_id"], unique=False)

    op.create_table(
        "section_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("section_key", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["postmortem_id"], ["postmortems.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("postmortem_id", "section_key", name="uq_section_answers_section"),
    )


def downgrade() -> None:
    op.drop_table("section_answers")
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_corrective_actions_postmortem_id"))
        batch_op.drop_index("ix_corrective_actions_open")

    op.drop_table("corrective_actions")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_postmortem_id"))

    op.drop_table("audit_log")
    op.drop_table("postmortems")
