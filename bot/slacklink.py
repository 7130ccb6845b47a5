"""Whether Slack takes the bot token, asked with ``auth.test`` when ``run`` starts.

A wrong token would otherwise surface only at the first person's command, and an outage
of Slack (or of the proxy in front of it) at start-up should not keep the bot from serving
the moment Slack is back: an unreachable Slack is asked again, with backoff, and
``/healthz`` says so meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

TOKEN_REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
"""auth.test errors that asking again will not change."""
RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 15, 30, 60)
"""Seconds before each new auth.test while Slack is unreachable; the last one repeats."""

State = Literal["unchecked", "up", "unreachable", "refused"]
log = logging.getLogger("postmortem_bot.slack")


class SlackLink:
    """What auth.test last said: ``state`` for /healthz, ``refused`` (Slack's error) for the exit line."""

    def __init__(self, client: AsyncWebClient, *, token: bool = True) -> None:
        """``token=False`` (the OAuth install, with a token per workspace): api.test, which
        needs none, tells whether Slack answers."""
        self.client = client
        self.token = token
        self.state: State = "unchecked"
        self.refused: str | None = None
        self._problem = ""

    @property
    def up(self) -> bool:
        return self.state == "up"

    async def check(self) -> State:
        """One auth.test."""
        try:
            identity = await (self.client.auth_test() if self.token else self.client.api_test())
        except SlackApiError as exc:
            status, error = _answer(exc)
            if error in TOKEN_REFUSED:
                self.state, self.refused = "refused", error
                return self.state
            self._problem = f"HTTP {status}, {error or 'not an answer from Slack'}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        else:
            self.state = "up"
            if self.token:
                log.debug("auth.test: workspace %s, bot user %s", identity["team"], identity["user_id"])
            return self.state
        self.state = "unreachable"
        return self.state

    async def until_up(self) -> None:
        """auth.test again, with backoff, until Slack answers; it ends too if Slack refuses the token."""
        delays = itertools.chain(RETRY_DELAYS, itertools.repeat(RETRY_DELAYS[-1]))
        for attempt, delay in enumerate(delays, start=1):
            if self.state != "unreachable":
                if attempt > 1 and self.up:
                    log.info("Slack answers at %s again", self.client.base_url)
                return
            log.warning(
                "Slack is unreachable at %s (%s); auth.test again in %g s (retry %d)",
                self.client.base_url,
                self._problem,
                delay,
                attempt,
            )
            await asyncio.sleep(delay)
            await self.check()


def _answer(exc: SlackApiError) -> tuple[object, str | None]:
    """HTTP status and Slack's ``error``; a body that is not JSON leaves slack_sdk's raw response."""
    response = exc.response
    if isinstance(response, AsyncSlackResponse):
        return response.status_code, response.get("error")
    return getattr(response, "status", "?"), None
