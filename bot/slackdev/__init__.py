"""Local Slack: a Web API stand-in and a driver that plays Slack's side.

``SlackStandin`` answers the bot's Web API calls on 127.0.0.1 as Slack would;
``SlackDriver`` sends the bot signed slash commands, interactivity payloads and
events, and applies the bot's answers to the stand-in's modal stack.
"""

from bot.slackdev.driver import ACK_DEADLINE_SECONDS, DriverResult, Signing, SlackDriver, sign
from bot.slackdev.limits import MAX_VIEW_STACK, TRIGGER_TTL_SECONDS, iter_elements, message_violations, view_violations
from bot.slackdev.standin import Call, SlackStandin

__all__ = [
    "ACK_DEADLINE_SECONDS",
    "MAX_VIEW_STACK",
    "TRIGGER_TTL_SECONDS",
    "Call",
    "DriverResult",
    "Signing",
    "SlackDriver",
    "SlackStandin",
    "iter_elements",
    "message_violations",
    "sign",
    "view_violations",
]
