"""Message shortcuts: a message of the incident channel onto the timeline, or into a corrective action."""

from slack_bolt.async_app import AsyncApp

from handlers.shortcuts import actions, timeline


def register(app: AsyncApp) -> None:
    timeline.register(app)
    actions.register(app)
