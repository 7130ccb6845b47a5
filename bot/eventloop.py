"""The event loop the bot runs on: uvloop where it is installed, asyncio's own elsewhere (Windows).

Every Slack request passes through the loop a dozen times (the HTTP request and its answer,
each Web API call, each database statement), and asyncio's loop, transports and futures are
Python code: about a tenth of a request's CPU. uvloop does the same work in C (libuv).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

try:
    import uvloop
except ImportError:  # not built for Windows
    uvloop = None  # type: ignore[assignment]

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop() if uvloop else asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the bot's loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
