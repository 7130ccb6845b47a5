"""Everything Slack-facing: one package of listeners per surface (commands, actions, views,
events), each with ``register(app)``; the Block Kit builders apart from them (``builders``,
which never register anything); and the plumbing listeners share (``support``)."""

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, events, shortcuts, views
from handlers.support import context, errors


def register(app: AsyncApp, services: context.Services) -> None:
    context.register(app, services)
    errors.register(app)
    commands.register(app)
    actions.register(app)
    views.register(app)
    events.register(app)
    shortcuts.register(app)
