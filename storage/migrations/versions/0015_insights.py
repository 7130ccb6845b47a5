"""insights: when a postmortem was finished and an action closed, and the weekly post's claims

Revision ID: 0015_insights
Revises: 0016_action_source
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = "0015_insights"
down_revision = "0016_action_source"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("postmortems", sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("corrective_actions", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "insights_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=32), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_id", sa.String(length=32), nullable=True),
        sa.Column("permalink", sa.String(length=500), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "week", name="uq_insights_posts_week"),
    )


def downgrade() -> None:
    op.drop_table("insights_posts")
    op.drop_column("corrective_actions", "closed_at")
    op.drop_column("postmortems", "finished_at")
