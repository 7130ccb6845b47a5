"""Slack's Web API limits, kept on our side: calls paced per method, a 429 pausing only its method.

Slack applies its limits "per API method per app per workspace"
(https://docs.slack.dev/apis/web-api/rate-limits): Tier 3 methods allow "50+ per minute"
(``conversations.open``, ``conversations.history``), Tier 4 "100+ per minute"
(``users.info``). ``chat.postMessage`` is special: "It will generally allow an app to post 1
message per second to a specific channel. There are limits governing your app's relationship
with the entire workspace above that, limiting posting to several hundred messages per
minute" (https://docs.slack.dev/reference/methods/chat.postMessage); we take 300 for
"several hundred". Commercially distributed apps outside the Slack Marketplace get 1 per
minute for ``conversations.history`` since 2025; such an operator sets it lower.

A limit reads ``COUNT/PERIOD``, period ``s``, ``min`` or a number of seconds (``300/2s``):
at most COUNT calls in any window of PERIOD, the literal reading of "N per minute".
``SLACK_RATE_LIMITS`` overrides the defaults per method (``chat.postMessage/channel`` is
the per-channel one), e.g. ``users.info=50/min,chat.postMessage=600/min``.

Only the bot's own work waits for its turn (reminder digests, weekly insights): a call that
answers a person (the card, a modal) leaves at once, since a card must not queue behind a
sweep's thousand digests. Slack counts it all the same, so once answered it takes its place
in its method's window, and the bot's own calls leave it room.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from handlers.support.errors import UNKNOWN_OUTCOME
from handlers.support.metrics import Metrics, slack_outcome

PER_CHANNEL = "/channel"
DEFAULT_LIMITS = (
    "chat.postMessage=300/min,chat.postMessage/channel=1/s,"
    "users.info=100/min,conversations.open=50/min,conversations.history=50/min,"
    "conversations.canvases.create=20/min,canvases.create=20/min,canvases.edit=50/min,canvases.sections.lookup=50/min"
)
_LIMIT = re.compile(r"^\s*([\w.]+(?:/channel)?)\s*=\s*(\d+)\s*/\s*(\d+(?:\.\d+)?s|s|min)\s*$")
_CHANNEL_BUCKETS = 1024  # idle per-channel windows are dropped past this many
_paced: ContextVar[bool] = ContextVar("postmortem_bot_paced_call", default=False)
"""Set while a ``PacedWebClient`` call holds its place: its answer is already counted."""


@dataclass(frozen=True)
class Rate:
    """At most ``count`` calls in any ``period`` seconds."""

    count: int
    period: float

    def __str__(self) -> str:
        return f"{self.count}/{self.period:g}s"


def parse_rate_limits(text: str) -> dict[str, Rate]:
    """``method=COUNT/PERIOD`` items, comma-separated; later items win."""
    limits: dict[str, Rate] = {}
    for item in filter(str.strip, text.split(",")):
        match = _LIMIT.match(item)
        if match is None:
            raise ValueError(f"{item.strip()!r} is not like 'users.info=100/min' or 'chat.postMessage/channel=1/s'")
        method, count, unit = match.groups()
        period = {"s": 1.0, "min": 60.0}.get(unit) or float(unit.removesuffix("s"))
        if int(count) < 1 or period <= 0:
            raise ValueError(f"{item.strip()!r} allows no call at all")
        limits[method] = Rate(int(count), period)
    return limits


def rate_limits(overrides: str = "") -> dict[str, Rate]:
    """Slack's published limits, with the operator's overrides."""
    return {**parse_rate_limits(DEFAULT_LIMITS), **parse_rate_limits(overrides)}


class SlidingWindow:
    """Slack's side of a limit: the call that would be the count+1-th in a window is refused."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.accepted: deque[float] = deque(maxlen=rate.count)

    def wait(self, now: float) -> float:
        """Seconds until a call would be allowed (0: now)."""
        if len(self.accepted) < self.rate.count:
            return 0.0
        return max(self.accepted[0] + self.rate.period - now, 0.0)

    def count(self, now: float) -> None:
        self.accepted.append(now)


class _Pace:
    """Our side of a limit: never count+1 calls in a window; half a window's worth at once
    ("bursts are welcome"), then evenly spaced.

    Slack counts a call when it arrives: after it leaves here, before its answer is back.
    So a call takes its place in the window when it leaves and keeps it until a window
    after its answer; however long the trip, Slack never sees one call too many.
    """

    def __init__(self, rate: Rate | None) -> None:
        self.rate = rate
        self.lock = asyncio.Lock()
        self.interval = rate.period / rate.count if rate else 0.0
        self.burst = max(1, rate.count // 2) if rate else 1
        self.due = -math.inf  # GCRA's theoretical arrival time: what spaces the calls evenly
        self.paused_until = -math.inf
        self.answered: deque[float] = deque()
        self.in_flight = 0
        self.freed = asyncio.Event()

    def delay(self, now: float) -> float | None:
        """Seconds until a call may leave; None: not before a call in flight is answered."""
        waits = [self.due - (self.burst - 1) * self.interval - now, self.paused_until - now, 0.0]
        if self.rate:
            self._forget(now - self.rate.period)
            over = len(self.answered) + self.in_flight + 1 - self.rate.count  # places to free first
            if over > len(self.answered):
                return None
            if over > 0:
                waits.append(self.answered[over - 1] + self.rate.period - now)
        return max(waits)

    def note(self, now: float) -> None:
        """A call that did not wait here was answered: it used a place in the window all the same."""
        self.due = max(self.due, now) + self.interval
        if self.rate:
            self._forget(now - self.rate.period)
            self.answered.append(now)

    def _forget(self, until: float) -> None:
        """Answers a window old (at ``until`` or before) no longer count."""
        while self.answered and self.answered[0] <= until:
            self.answered.popleft()

    def idle(self, now: float) -> bool:
        return not self.lock.locked() and not self.in_flight and self.delay(now) == 0.0

    @contextlib.asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        async with self.lock:  # FIFO: callers go in the order they asked
            while (wait := self.delay(loop.time())) != 0:
                self.freed.clear()
                if wait is None:
                    await self.freed.wait()
                else:
                    await asyncio.sleep(wait)
            self.due = max(self.due, loop.time()) + self.interval
            self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            if self.rate:
                self.answered.append(loop.time())
            self.freed.set()


class Limiter:
    """Per-method paces (and per-channel ones where a limit says so) and pauses after a 429."""

    def __init__(self, limits: Mapping[str, Rate]) -> None:
        self.limits = dict(limits)
        self._methods: dict[str, _Pace] = {}
        self._channels: dict[tuple[str, str], _Pace] = {}

    def _method(self, method: str) -> _Pace:
        if method not in self._methods:
            self._methods[method] = _Pace(self.limits.get(method))
        return self._methods[method]

    @contextlib.asynccontextmanager
    async def calling(self, method: str, channel: str | None = None) -> AsyncIterator[None]:
        """Hold a place for one call: its channel's, then its method's, until it is answered."""
        async with contextlib.AsyncExitStack() as places:
            per_channel = self.limits.get(method + PER_CHANNEL)
            if per_channel and channel:
                await places.enter_async_context(self._channel(method, channel, per_channel).place())
            if method in self.limits or method in self._methods:
                await places.enter_async_context(self._method(method).place())
            yield

    def _channel(self, method: str, channel: str, rate: Rate) -> _Pace:
        if len(self._channels) > _CHANNEL_BUCKETS:
            now = asyncio.get_running_loop().time()
            for key in [key for key, pace in self._channels.items() if pace.idle(now)]:
                del self._channels[key]
        return self._channels.setdefault((method, channel), _Pace(rate))

    def noted(self, method: str) -> None:
        """A call of ``method`` made without ``calling`` (a person's, see the module) reached Slack."""
        if method in self.limits:
            self._method(method).note(asyncio.get_running_loop().time())

    def pause(self, method: str, seconds: float) -> None:
        """Slack answered 429: no call of this method leaves before Retry-After has passed."""
        pace = self._method(method)
        pace.paused_until = max(pace.paused_until, asyncio.get_running_loop().time() + seconds)

    async def resumed(self, method: str) -> None:
        """Back from a pause of this method (at once if there is none)."""
        pace = self._method(method)
        loop = asyncio.get_running_loop()
        while (wait := pace.paused_until - loop.time()) > 0:
            await asyncio.sleep(wait)


class RateLimitRetry(AsyncRetryHandler):
    """A 429 pauses its method in the limiter for Retry-After, then the call waits its turn again.

    Other methods go on meanwhile; a 429 is Slack refusing unprocessed, so a retry cannot
    post twice. slack_sdk asks it about every answer and every failure, and Bolt hands the
    same handler to the client it makes for each request: each call's last attempt is
    counted here in ``metrics``, whichever client made it, and a request's call (not paced:
    see the module) that Slack answered is noted in the limiter.
    """

    def __init__(self, limiter: Limiter, max_retry_count: int = 3, metrics: Metrics | None = None) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.limiter = limiter
        self.metrics = metrics

    async def can_retry_async(self, **attempt: Any) -> bool:
        """Asked after every attempt: the one not retried is the call's outcome."""
        retrying = await super().can_retry_async(**attempt)
        if retrying:
            return True
        method, response = _method(attempt["request"]), attempt.get("response")
        if response is not None and response.status_code != 429 and not _paced.get():
            self.limiter.noted(method)
        if self.metrics is not None:
            self.metrics.slack_calls.labels(method, _outcome(response, attempt.get("error"))).inc()
        return False

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 429

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        method = _method(request)
        retry_after = _retry_after(response)
        if self.metrics is not None:
            self.metrics.slack_ratelimited.labels(method).inc()
            self.metrics.slack_retry_after.labels(method).inc(retry_after)
        self.limiter.pause(method, retry_after)
        await self.limiter.resumed(method)  # the call keeps the place it holds in the limiter
        state.next_attempt_requested = True
        state.increment_current_attempt()


def _method(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1]


def _outcome(response: HttpResponse | None, error: Exception | None) -> str:
    """``ok``, Slack's error name, ``connection_error`` (the outcome is unknown) or ``other_error``."""
    if response is None:
        return "connection_error" if isinstance(error, UNKNOWN_OUTCOME) else "other_error"
    if response.status_code == 429:
        return "ratelimited"
    body = response.body or {}
    return "ok" if body.get("ok", response.status_code == 200) else slack_outcome(body.get("error"))


def _retry_after(response: HttpResponse | None) -> float:
    headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
    value = headers.get("retry-after") or ["1"]
    try:
        return float(value[0] if isinstance(value, list) else value)
    except ValueError:
        return 1.0


class PacedWebClient(AsyncWebClient):
    """slack_sdk's client whose every call first waits for its turn in ``limiter``; its retry
    handler counts the calls in ``metrics``."""

    def __init__(self, *, limiter: Limiter, metrics: Metrics | None = None, **kwargs: Any) -> None:
        super().__init__(retry_handlers=[RateLimitRetry(limiter, metrics=metrics)], **kwargs)
        self.limiter = limiter

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:  # type: ignore[override]
        async with self.limiter.calling(api_method, _channel(kwargs)):
            paced = _paced.set(True)
            try:
                return await super().api_call(api_method, **kwargs)
            finally:
                _paced.reset(paced)


def _channel(kwargs: Mapping[str, Any]) -> str | None:
    for part in ("json", "data", "params"):
        body = kwargs.get(part)
        if isinstance(body, Mapping) and body.get("channel"):
            return str(body["channel"])
    return None
