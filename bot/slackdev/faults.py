"""Fault injection: the stand-in misbehaves the ways Slack can, when a test asks it to.

A scripted error or a dropped connection for the next calls of a method, Slack's
per-method rate limits answered with 429 and Retry-After, and a slow method.  The
stand-in's HTTP front consults these before it processes a call, so the bot meets
them exactly where it would meet Slack's.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from bot.ratelimit import PER_CHANNEL, Rate, SlidingWindow


@dataclass(frozen=True)
class Fault:
    """A scripted failure for the next call of a method (see fail_next/drop_next)."""

    drop: bool
    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    team_id: str | None = None
    """Only for calls made with this workspace's token (Slack's limits are per workspace)."""


class FaultInjection:
    """The failures, rate limits and delays a test has asked for, method by method."""

    def __init__(self) -> None:
        self._faults: dict[str, deque[Fault]] = {}
        self._limits: dict[str, Rate] = {}
        self._windows: dict[tuple[str, str], SlidingWindow] = {}
        self._delays: dict[str, float] = {}
        self._holds: dict[str, asyncio.Event] = {}

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        team_id: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error, unprocessed.

        ``status=429`` defaults the error to ``ratelimited``, as Slack sends it;
        ``retry_after`` adds the Retry-After header slack_sdk's retry handler reads.
        ``method`` may also be ``"response_url"`` for the response_url endpoint.
        ``team_id``: only calls made with that workspace's token meet the error.
        """
        default = "ratelimited" if status == 429 else "fatal_error"
        fault = Fault(drop=False, error=error or default, status=status, retry_after=retry_after, team_id=team_id)
        self._faults.setdefault(method, deque()).extend([fault] * times)

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """Process the next call(s) fully, then drop the connection unanswered.

        This is the "unknown outcome" case: the message is stored but the client
        sees a connection error (and slack_sdk's default connection-error retry
        handler will send it again).
        """
        self._faults.setdefault(method, deque()).extend([Fault(drop=True)] * times)

    def enforce_rate_limits(self, limits: Mapping[str, Rate]) -> None:
        """From now on answer a call over its method's limit as Slack does: HTTP 429,
        ``ratelimited`` and a Retry-After header, nothing processed. ``limits`` are
        ``bot.ratelimit``'s (``method/channel`` for a per-channel one); other methods are free."""
        self._limits = dict(limits)
        self._windows.clear()

    def delay(self, method: str, seconds: float) -> None:
        """A slow Slack: every later call of ``method`` takes ``seconds`` before it is processed."""
        self._delays[method] = seconds

    def hold(self, method: str) -> asyncio.Event:
        """A Slack that stalls: calls of ``method`` wait, unprocessed, until the returned event is set
        (a test decides when, instead of guessing a delay)."""
        return self._holds.setdefault(method, asyncio.Event())

    def _take_fault(self, method: str, team_id: str | None = None) -> Fault | None:
        """The next fault for a call of ``method`` made in workspace ``team_id``."""
        queue = self._faults.get(method) or deque()
        fault = next((f for f in queue if f.team_id in (None, team_id)), None)
        if fault is not None:
            queue.remove(fault)
        return fault

    def _rate_limited(self, method: str, channel: str) -> Fault | None:
        """Slack's 429 for a call that would exceed a limit, with whole seconds to wait;
        None when the call is counted and may go ahead.  ``channel`` is the conversation
        a per-channel limit counts it against ("" for a call that names none)."""
        scopes = [(method, "")]
        if method + PER_CHANNEL in self._limits and channel:
            scopes.append((method + PER_CHANNEL, channel))
        windows = [self._window(*scope) for scope in scopes if scope[0] in self._limits]
        now = asyncio.get_running_loop().time()
        wait = max((w.wait(now) for w in windows), default=0.0)
        if wait:
            return Fault(drop=False, error="ratelimited", status=429, retry_after=max(1, math.ceil(wait)))
        for window in windows:
            window.count(now)
        return None

    def _window(self, limit: str, channel: str) -> SlidingWindow:
        return self._windows.setdefault((limit, channel), SlidingWindow(self._limits[limit]))

    async def _slow_down(self, method: str) -> None:
        if method in self._holds:
            await self._holds[method].wait()
        if method in self._delays:
            await asyncio.sleep(self._delays[method])
