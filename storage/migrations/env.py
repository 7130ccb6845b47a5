"""Alembic environment: runs on the connection `storage.db.upgrade` hands over."""

from alembic import context

from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Run migrations with `postmortem-bot migrate`, which supplies the database connection.")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
