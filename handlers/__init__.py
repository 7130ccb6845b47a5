"""Everything Slack-facing, one module per surface, each with ``register(app)``."""

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, context, errors, events, reminders, views


def register(app: AsyncApp, services: context.Services) -> None:
    context.register(app, services)
    errors.register(app)
    commands.register(app)
    actions.register(app)
    views.register(app)
    reminders.register(app)
    events.register(app)
