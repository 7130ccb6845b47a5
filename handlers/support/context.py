"""What every listener needs, handed over through Bolt's context by one middleware."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.domain.catalog import Catalog
from bot.domain.clock import Clock
from handlers.support.foreground import Foreground
from handlers.support.insights import UserGroups
from storage.store import Store

_KEY = "services"


@dataclass(frozen=True)
class Services:
    store: Store
    metadata_key: bytes
    """Seals modal metadata (``handlers.support.metadata``)."""
    foreground: Foreground
    """Work after an answer waits on ``foreground.turn()`` for the answers other requests still owe;
    the same one the app's dispatch enters, so it must be handed in, never made here."""
    canvas: bool = False
    """``POSTMORTEM_CANVAS``: keep each postmortem as its channel's canvas too."""
    timeline_reaction: str = "pushpin"
    """The reaction that adds a message to the timeline (``TIMELINE_REACTION``)."""
    groups: UserGroups = field(default_factory=UserGroups)
    """Each workspace's user groups, the teams of the insights (a cache)."""

    @property
    def catalog(self) -> Catalog:
        """The templates on offer, and every version met; the store reads old versions back through it."""
        return self.store.catalog

    @property
    def clock(self) -> Clock:
        """The app's one clock, shared with the store so what handlers decide and what is stored agree."""
        return self.store.clock


def services(context: AsyncBoltContext) -> Services:
    return context[_KEY]


def register(app: AsyncApp, provided: Services) -> None:
    async def inject(context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:  # noqa: A002
        context[_KEY] = provided
        return await next()

    app.middleware(inject)
