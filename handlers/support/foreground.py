"""Answers Slack is waiting for come before work that can wait.

Every request must be answered within 3 seconds and a slash command's ``trigger_id`` expires
3 seconds after the command, but a card edit or a database write after the answer has no
such deadline. They share one event loop: when twenty commands arrive together, the later
ones' answers and modals would wait behind the earlier ones' database writes and card
posts. So work after an answer first lets the other requests that are still unanswered be
answered, waiting at most ``patience``.
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
    """The requests not answered yet; ``turn`` waits for the others unanswered when it is called,
    never for later ones, nor for its own (Bolt sends that one by itself)."""

    def __init__(self, patience: float = PATIENCE_SECONDS) -> None:
        self.patience = patience
        self._unanswered: set[asyncio.Future[None]] = set()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around a request's way to its answer (Bolt's dispatch returns once the listener acked)."""
        answered = asyncio.get_running_loop().create_future()
        self._unanswered.add(answered)
        token = _own.set(answered)
        try:
            yield
        finally:
            _own.reset(token)
            self._unanswered.discard(answered)
            answered.set_result(None)

    async def turn(self) -> None:
        """Until the other requests unanswered now have their answers, or ``patience`` ran out."""
        others = self._unanswered - {_own.get()}
        if others:
            await asyncio.wait(others, timeout=self.patience)
