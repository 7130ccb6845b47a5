"""Slash commands: ``/postmortem`` and its words."""

from slack_bolt.async_app import AsyncApp

from handlers.commands import postmortem


def register(app: AsyncApp) -> None:
    postmortem.register(app)
