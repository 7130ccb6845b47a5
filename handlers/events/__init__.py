"""Events API listeners."""

from slack_bolt.async_app import AsyncApp

from handlers.events import home, timeline


def register(app: AsyncApp) -> None:
    home.register(app)
    timeline.register(app)
