"""The Slack request a log line or a shown error belongs to, carried in a context variable.

Set once where a request enters the app (``bot.app``), it is inherited by the tasks Bolt
starts for the listeners, so every log line of the request, those after the ack too, can
name its team, user, channel and surface, and the reference code of an error shown to the
user. Only ids and bounded names: never a token, never the request body.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from handlers.support.metrics import Metrics

_SURFACES = {
    "block_actions": "block_actions",
    "view_submission": "view_submission",
    "view_closed": "view_closed",
    "shortcut": "shortcut",
    "message_action": "shortcut",
    "block_suggestion": "options",
    "url_verification": "url_verification",
}
_EVENT_TYPE = re.compile(r"[a-z_]{1,60}")


def surface_of(body: Mapping[str, Any]) -> str:
    """``command``, ``block_actions``, ``view_submission``, ``view_closed``, ``event:<type>``,
    ``shortcut``, ``options``; ``other`` for the rest."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    if kind == "event_callback":
        event = str((body.get("event") or {}).get("type"))
        return f"event:{event}" if _EVENT_TYPE.fullmatch(event) else "event:other"
    return _SURFACES.get(str(kind), "other")


def requester(body: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """Team, user and channel of a request, wherever its kind of payload keeps them."""
    event = body.get("event") or {}
    return (
        _id(body.get("team")) or _id(body.get("team_id")),
        _id(body.get("user")) or _id(body.get("user_id")) or _id(event.get("user")),
        _id(body.get("channel")) or _id(body.get("channel_id")) or _id(event.get("channel") or event.get("item")),
    )


def _id(value: Any) -> str | None:
    """An id as Slack sends it: a string, or an object (or a reaction's ``item``) holding it."""
    if isinstance(value, dict):
        value = value.get("id") or value.get("channel")
    return value if isinstance(value, str) else None


@dataclass
class RequestScope:
    surface: str
    team: str | None
    user: str | None
    channel: str | None
    metrics: Metrics | None = None
    ref: str | None = None
    """The reference code of the error shown to the user, once one is."""

    def fields(self) -> dict[str, str]:
        named = {"team": self.team, "user": self.user, "channel": self.channel, "surface": self.surface}
        return {key: value for key, value in {**named, "ref": self.ref}.items() if value}

    def error_shown(self, ref: str) -> None:
        self.ref = ref
        if self.metrics is not None:
            self.metrics.errors.labels(self.surface).inc()


_current: ContextVar[RequestScope | None] = ContextVar("postmortem_bot_request", default=None)


def current() -> RequestScope | None:
    return _current.get()


@contextlib.contextmanager
def entered(body: Mapping[str, Any], metrics: Metrics | None = None) -> Iterator[RequestScope]:
    """The request's scope for the code (and the tasks it starts) inside; cleared on the way out."""
    scope = RequestScope(surface_of(body), *requester(body), metrics=metrics)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
