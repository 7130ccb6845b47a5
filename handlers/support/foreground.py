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

PATIENCE_SECONDS = 0.5
"""The longest deferred work waits for others' answers: a stream of requests never starves it."""

_own: ContextVar[asyncio.Future[None] | None] = ContextVar("postmortem_bot_own_answer", default=None)
"""The answer of the request whose code runs (the listeners' tasks inherit it from the dispatch)."""


class Foreground:
    """The answers and modals owed; ``turn`` waits for the others owed when it is called, never
    for later ones, nor for its own answer (Bolt sends that one by itself)."""

    def __init__(self, patience: float = PATIENCE_SECONDS) -> None:
        self.patience = patience
        self._owed: set[asyncio.Future[None]] = set()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around a request's way to its answer (Bolt's dispatch returns once the listener acked)."""
        with self.owing() as answered:
            token = _own.set(answered)
            try:
                yield
            finally:
                _own.reset(token)

    @contextlib.contextmanager
    def owing(self) -> Iterator[asyncio.Future[None]]:
        """Around work Slack waits for besides an answer: a ``views.open`` on a trigger that expires."""
        owed = asyncio.get_running_loop().create_future()
        self._owed.add(owed)
        try:
            yield owed
        finally:
            self._owed.discard(owed)
            owed.set_result(None)

    async def turn(self) -> None:
        """Until the answers and modals others owe now are sent, or ``patience`` ran out."""
        others = self._owed - {_own.get()}
        if others:
            await asyncio.wait(others, timeout=self.patience)
