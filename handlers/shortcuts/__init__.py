"""Message shortcuts: a message of the incident channel onto the timeline."""

from slack_bolt.async_app import AsyncApp

from handlers.shortcuts import timeline


def register(app: AsyncApp) -> None:
    timeline.register(app)
