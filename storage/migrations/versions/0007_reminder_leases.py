"""reminder ledger: the sweep that owns a claim, and the lease it renews while it runs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from datetime import timedelta

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_EPOCH = "1970-01-01 00:00:00"  # for settled rows, whose lease nobody reads
_OLD_STALE_CLAIM = timedelta(minutes=10)


def _leases_for_claims_in_progress() -> None:
    """A claim from before owners and leases may be mid-send: it becomes "sending" under the
    old ten-minute rule, so it is settled by the DM history, never sent again blindly."""
    ledger = sa.table(
        "reminder_ledger",
        sa.column("key", sa.String),
        sa.column("state", sa.String),
        sa.column("claimed_at", sa.DateTime(timezone=True)),
        sa.column("lease_until", sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(ledger.c.key, ledger.c.claimed_at).where(ledger.c.state.in_(("claimed", "checking")))
    )
    for key, claimed_at in rows.all():
        connection.execute(
            ledger.update()
            .where(ledger.c.key == key)
            .values(state="sending", lease_until=claimed_at + _OLD_STALE_CLAIM)
        )


def upgrade() -> None:
    with op.batch_alter_table("reminder_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False, server_default=_EPOCH))
    _leases_for_claims_in_progress()
    with op.batch_alter_table("reminder_ledger", schema=None) as batch_op:
        batch_op.alter_column("claimed_by", server_default=None)
        batch_op.alter_column("lease_until", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("reminder_ledger", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")
