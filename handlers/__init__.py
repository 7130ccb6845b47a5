"""Everything Slack-facing: one package of listeners per surface (commands, actions, views,
events), each with ``register(app)``; the Block Kit builders apart from them (``builders``,
which never register anything); and the plumbing listeners share (``support``)."""

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, events, shortcuts, views
from handlers.support import context, errors


def register(app: AsyncApp, services: context.Services) -> None:
    context.register(app, services)
    errors.register(app)
    # Bolt tries listeners in the order they were registered, and each one passed over costs about
    # 20 us: "Save & next", the most frequent request after a start, comes before the buttons.
    commands.register(app)
    views.register(app)
    actions.register(app)
    events.register(app)
    shortcuts.register(app)
