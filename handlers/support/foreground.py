"""Answers Slack is waiting for come before work that can wait.

Every request must be answered within 3 seconds and a slash command's ``trigger_id`` expires
3 seconds after the command, but a card edit or a database write after the answer has no
such deadline. They share one event loop: when twenty commands arrive together, the later
ones' answers and modals would wait behind the earlier ones' database writes and card
posts. So work after an answer first lets the other requests that are still unanswered be
answered, and the modals still owed on their triggers be opened, waiting at most ``patience``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

PATIENCE_SECONDS = 0.5
"""The longest deferred work waits for others' answers: a stream of requests never starves it."""

_own: ContextVar[int | None] = ContextVar("postmortem_bot_own_answer", default=None)
"""The ticket of the answer of the request whose code runs (the listeners' tasks inherit it from the dispatch)."""


@dataclass(eq=False)
class _Turn:
    """Deferred work waiting for the ``left`` answers and modals owed by others up to ticket ``last``."""

    last: int
    own: int | None
    left: int
    over: asyncio.Future[None]

    def settled(self, ticket: int) -> None:
        if ticket <= self.last and ticket != self.own:
            self.left -= 1
            if self.left == 0:
                _end(self.over)


def _end(over: asyncio.Future[None]) -> None:
    if not over.done():
        over.set_result(None)


class Foreground:
    """The answers and modals owed; ``turn`` waits for the others owed when it is called, never
    for later ones, nor for its own answer (Bolt sends that one by itself).

    Each thing owed is a ticket, numbered in the order it began, and a waiting turn counts down
    the tickets it waits for as they are settled. Waiting on a future per thing owed instead
    (``asyncio.wait``) ran a callback on the event loop per settled ticket and waiting turn: in
    bursts of twenty commands 10-13 us of the loop's time per command against 1-3 us, in bursts
    of a hundred 68-75 us against 8-21 (``bench/foreground.py``), spent while later commands
    of the burst still wait for their modals.
    """

    def __init__(self, patience: float = PATIENCE_SECONDS) -> None:
        self.patience = patience
        self._issued = 0
        self._owed: set[int] = set()
        self._turns: set[_Turn] = set()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around a request's way to its answer (Bolt's dispatch returns once the listener acked)."""
        with self.owing() as ticket:
            token = _own.set(ticket)
            try:
                yield
            finally:
                _own.reset(token)

    @contextlib.contextmanager
    def owing(self) -> Iterator[int]:
        """Around work Slack waits for besides an answer: a ``views.open`` on a trigger that expires."""
        self._issued += 1
        ticket = self._issued
        self._owed.add(ticket)
        try:
            yield ticket
        finally:
            self._owed.discard(ticket)
            for turn in self._turns:
                turn.settled(ticket)

    async def turn(self) -> None:
        """Until the answers and modals others owe now are sent, or ``patience`` ran out."""
        own = _own.get()
        left = len(self._owed) - (own in self._owed)
        if not left:
            return
        loop = asyncio.get_running_loop()
        turn = _Turn(self._issued, own, left, loop.create_future())
        self._turns.add(turn)
        patience = loop.call_later(self.patience, _end, turn.over)
        try:
            await turn.over
        finally:
            patience.cancel()
            self._turns.discard(turn)
