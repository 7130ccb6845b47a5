"""Failures: a short human message for the user, the full context in the log."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from handlers.builders.modals import notice_view
from handlers.support import scope
from handlers.support.permissions import Refused

UNKNOWN_OUTCOME = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)
"""A Slack call that failed this way may have arrived: settle it by looking, never by repeating it."""
log = logging.getLogger("postmortem_bot.errors")
Listener = Callable[..., Awaitable[None]]


def _apology(ref: str) -> str:
    return (
        f":warning: Sorry, that didn't work because of a problem on our side (ref `{ref}`). "
        "Everything you saved before is kept; please try again in a moment."
    )


def _json(payload: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})


def _request_context(body: dict[str, Any]) -> dict[str, Any]:
    team, user, channel = scope.requester(body)
    return {
        "type": body.get("type") or ("slash_command" if "command" in body else None),
        "team": team,
        "user": user,
        "channel": channel,
        "command": body.get("command"),
        "text": body.get("text"),
        "callback_id": (body.get("view") or {}).get("callback_id"),
        "actions": [a.get("action_id") for a in body.get("actions") or []],
        "event": (body.get("event") or {}).get("type"),
    }


def _logged(error: Exception, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ref = uuid.uuid4().hex[:8]
    if (request := scope.current()) is not None:
        request.error_shown(ref)  # before the log line, so that it carries the ref too
    context = _request_context(body)
    log.error("handler failed ref=%s context=%s", ref, context, exc_info=error)
    return ref, context


async def _tell(ref: str, context: dict[str, Any], client: AsyncWebClient | None, respond: AsyncRespond | None) -> None:
    """After the ack, the only ways left to reach the user are response_url and a DM."""
    text = _apology(ref)
    try:
        if respond is not None:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        elif client is not None and context["user"]:
            await client.chat_postMessage(channel=context["user"], text=text)
    except Exception:
        log.warning("could not tell the user about error ref=%s", ref, exc_info=True)


async def on_error(
    error: Exception,
    body: dict[str, Any],
    response: BoltResponse | None,
    client: AsyncWebClient,
    respond: AsyncRespond | None,
) -> BoltResponse | None:
    """Failures before the ack: the answer to Slack itself carries the apology."""
    ref, context = _logged(error, body)
    if response is None:
        await _tell(ref, context, client, respond)
        return None
    if context["type"] == "view_submission":
        return _json({"response_action": "push", "view": notice_view("Not saved", _apology(ref))})
    if context["type"] == "slash_command":
        return _json({"response_type": "ephemeral", "text": _apology(ref)})
    await _tell(ref, context, client, respond)
    return BoltResponse(status=200, body="")


async def refuse(refusal: Refused, kwargs: dict[str, Any]) -> None:
    """Say no where the user is looking; before the ack, the ack itself carries the answer.

    A refused form is answered with a notice pushed over it, so what the user typed stays.
    """
    body: dict[str, Any] = kwargs.get("body") or kwargs.get("command") or {}
    log.warning("refused context=%s: %s", _request_context(body), refusal)
    ack, respond, client = kwargs["ack"], kwargs.get("respond"), kwargs.get("client")
    text = f":no_entry: {refusal.user_text}"
    if ack.response is None:
        if body.get("type") == "view_submission":
            await ack(response_action="push", view=notice_view("Not saved", text))
            return
        if "command" in body:
            await ack(text=text)
            return
        await ack()
    container = body.get("container") or {}
    if respond is not None and container.get("type") == "message":
        await respond(text=text, response_type="ephemeral", replace_original=False)
    elif client is not None and body.get("trigger_id"):
        in_modal = (body.get("view") or {}).get("type") == "modal"
        show = client.views_push if in_modal else client.views_open
        await show(trigger_id=body["trigger_id"], view=notice_view("Not allowed", text))


def guarded(listener: Listener) -> Listener:
    """Failures after the ack are reported here rather than by Bolt.

    Bolt's runner drops an ack already given when a listener raises within its 10 ms
    polling interval, and Slack then shows the user a timeout. Bolt injects arguments by
    the wrapped listener's parameter names, which ``wraps`` keeps visible.
    """

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Refused as refusal:
            await refuse(refusal, kwargs)
        except Exception as error:
            if kwargs["ack"].response is None:
                raise  # not acknowledged yet: on_error answers Slack with the apology
            ref, context = _logged(error, kwargs.get("body") or kwargs.get("command") or {})
            await _tell(ref, context, kwargs.get("client"), kwargs.get("respond"))

    return run


def register(app: AsyncApp) -> None:
    app.error(on_error)
