"""block_actions: the card's and the modals' buttons, and the reminder buttons of DMs and App Home."""

from slack_bolt.async_app import AsyncApp

from handlers.actions import postmortem, reminders, timeline


def register(app: AsyncApp) -> None:
    postmortem.register(app)
    reminders.register(app)
    timeline.register(app)
