"""The timeline of section 2: messages of the incident channel, each at its own time.

A message's text arrives as Slack's mrkdwn (``<@U1>``, ``<https://x|label>``, ``&lt;``); the
timeline keeps it as plain text, so an export reads like what people saw and the modals
escape it once more where it becomes mrkdwn again.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from bot.domain.clip import clip

TEXT_MAX = 3000
SUMMARY_MAX = 3000
VIA = ("shortcut", "reaction", "pin")

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def _link_text(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):
        return (target[0] + label) if label else target
    if target.startswith("!"):
        return "@" + (label or target[1:].split("^")[0])
    return f"{label} ({target})" if label and label != target else target


def readable(mrkdwn: str) -> str:
    """Slack's message text as a person reads it: mentions and links spelled out, entities decoded."""
    return html.unescape(_LINK.sub(_link_text, mrkdwn))


def plain_text(mrkdwn: str) -> str:
    """``readable`` within ``TEXT_MAX``, never ending in half an emoji."""
    return clip(readable(mrkdwn), TEXT_MAX)


def message_time(ts: str) -> datetime:
    """A message's own time: its ``ts`` is seconds since the epoch, with microseconds after the dot."""
    seconds, _, micros = ts.partition(".")
    return datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int((micros or "0").ljust(6, "0")[:6]))


class TimelineEntry(BaseModel):
    """One captured message. ``summary`` is what people made of it (the message's text until edited)."""

    id: int | None = None
    message_ts: str
    at: datetime
    author: str
    text: str = ""
    summary: str | None = None
    permalink: str = ""
    files: list[str] = Field(default_factory=list)
    """Permalinks of the message's files and images."""
    deleted: bool = False
    via: str = "shortcut"

    @property
    def shown(self) -> str:
        """What the timeline says for this entry."""
        return self.summary if self.summary is not None else self.text


def in_order(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    return sorted(entries, key=lambda e: (e.at, e.message_ts))


def local_time(moment: datetime, zone: tzinfo) -> str:
    """Date and time in ``zone`` with its abbreviation: a multi-day incident reads in order."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def utc_time(moment: datetime) -> str:
    """ISO 8601 in UTC, to the second: ``2026-05-05T23:50:12Z``."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def zone_named(name: str | None) -> tzinfo:
    """Slack's ``tz`` of a person (``Europe/Berlin``); UTC when unknown or not a zone this machine knows."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_label(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)
