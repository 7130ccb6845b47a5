"""view_submission: the section modals and the corrective-action form."""

from slack_bolt.async_app import AsyncApp

from handlers.views import submissions, timeline


def register(app: AsyncApp) -> None:
    submissions.register(app)
    timeline.register(app)
