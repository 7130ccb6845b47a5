"""Slack's HTTP requests are checked here before Bolt sees them: forged ones are 401, malformed ones 400.

Bolt verifies signatures too (and still does, behind this), but it parses the body first and
trusts its shape: a body that is not UTF-8 or not a JSON object fails inside aiohttp (500 and
a traceback), a timestamp that is not a number fails inside its verifier and reaches our error
handler as if the bot had broken. Here every refusal is one log line, and nothing runs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot import fastjson
from bot.urlform import decode_form
from handlers.support.metrics import Metrics

log = logging.getLogger("postmortem_bot.requests")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

WINDOW_SECONDS = 5 * 60
"""SignatureVerifier's replay window; repeated here only to tell a stale request from a forged one."""
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class Refused(Exception):
    """A request answered with ``status`` before Bolt sees it; the message goes to the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class _BytesVerifier(SignatureVerifier):
    """Slack signs the bytes it sends; the base class decodes them as UTF-8 first, so a signed
    body that is not UTF-8 would raise instead of being told apart from a forged one."""

    def generate_signature(self, *, timestamp: str, body: str | bytes) -> str:
        raw = body if isinstance(body, bytes) else body.encode()
        digest = hmac.new(self.signing_secret.encode(), b"v0:%s:%s" % (timestamp.encode(), raw), hashlib.sha256)
        return f"v0={digest.hexdigest()}"


class _Id(BaseModel):
    id: str


class _Payload(BaseModel):
    """Bolt reads the first authorization of any request for its team and enterprise."""

    authorizations: list[dict[str, Any]] | None = None


class _View(BaseModel):
    id: str
    type: str
    callback_id: str
    private_metadata: str
    hash: str
    state: dict[str, Any]


class _Action(BaseModel):
    action_id: str
    block_id: str


class _BlockActions(_Payload):
    team: _Id
    user: _Id
    trigger_id: str
    actions: list[_Action] = Field(min_length=1)
    channel: _Id | None = None
    view: _View | None = None


class _ViewPayload(_Payload):
    team: _Id
    user: _Id
    view: _View


class _Event(BaseModel):
    type: str


class _EventCallback(_Payload):
    team_id: str
    event_id: str
    event: _Event


class _UrlVerification(_Payload):
    challenge: str


class _SlashCommand(_Payload):
    command: str
    text: str
    team_id: str
    user_id: str
    channel_id: str
    trigger_id: str
    response_url: str


_SHAPES: dict[str, type[BaseModel]] = {
    "slash_command": _SlashCommand,
    "block_actions": _BlockActions,
    "view_submission": _ViewPayload,
    "view_closed": _ViewPayload,
    "event_callback": _EventCallback,
    "url_verification": _UrlVerification,
}
"""What Slack always sends with each kind of request; kinds the bot does not handle are Bolt's to answer."""


def slack_endpoint(app: AsyncApp, signing_secret: str, metrics: Metrics | None = None) -> Handler:
    """The handler of Slack's POSTs: check the request, then hand Bolt the body as read here.
    Refusals are counted in ``metrics`` by status: a run of 401s is often a wrong signing secret.

    Bolt's own adapter would parse the body again, and reads any form that merely contains
    the word "payload" (a channel named payload-team, a command ``start payload-7``) as empty.
    """
    verifier = _BytesVerifier(signing_secret)

    async def endpoint(request: web.Request) -> web.StreamResponse:
        try:
            body = await _check(request, verifier)
        except Refused as refusal:
            log.warning("refused a request from %s with HTTP %s: %s", request.remote, refusal.status, refusal)
            if metrics is not None:
                metrics.refused.labels(str(refusal.status)).inc()
            said = str(refusal) if refusal.status == 400 else "unauthenticated"  # no hints for a forger
            return web.json_response({"ok": False, "error": said}, status=refusal.status)
        bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)
        bolt_request.raw_body = await request.text()  # for Bolt's own signature check; parsed once, above
        bolt_request.body = body
        bolt_request.context = build_async_context(AsyncBoltContext({}), body)
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return endpoint


async def _check(request: web.Request, verifier: SignatureVerifier) -> dict[str, Any]:
    raw = await request.read()
    body: Any = None
    unreadable = ""
    try:
        body = _parse(await request.text(), request.headers.get("Content-Type", ""))
    except (ValueError, LookupError) as error:  # not text in its charset, or not JSON
        unreadable = f"unreadable body: {error}"
    if isinstance(body, dict) and body.get("ssl_check") == "1":
        return body  # Slack's unsigned check of the TLS setup: Bolt answers it with an empty 200, nothing runs
    _authenticate(verifier, request.headers, raw)
    if unreadable:
        raise Refused(400, unreadable)
    return _check_shape(body)


def _parse(text: str, content_type: str) -> Any:
    """The body as Bolt reads it: JSON, a form, or a form whose ``payload`` field is JSON."""
    if content_type.split(";")[0] == "application/json" or text.startswith("{"):
        return fastjson.loads(text)
    form = decode_form(text)
    return fastjson.loads(form["payload"]) if "payload" in form else form


def _authenticate(verifier: SignatureVerifier, headers: Mapping[str, str], raw: bytes) -> None:
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if timestamp is None or signature is None:
        raise Refused(401, "no X-Slack-Request-Timestamp or X-Slack-Signature header")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Refused(401, "X-Slack-Request-Timestamp is not a Unix time")
    if not _SIGNATURE.fullmatch(signature):
        raise Refused(401, "X-Slack-Signature is not a v0 signature")
    if verifier.is_valid(raw, timestamp, signature):
        return
    if abs(verifier.clock.now() - int(timestamp)) > WINDOW_SECONDS:
        raise Refused(401, "X-Slack-Request-Timestamp is more than 5 minutes away")
    raise Refused(401, "the signature does not match the body")


def _check_shape(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Refused(400, f"the body is a JSON {type(body).__name__}, not an object")
    kind = "slash_command" if "command" in body else body.get("type")
    if not isinstance(kind, str):
        raise Refused(400, "the body has no type")
    shape = _SHAPES.get(kind)
    if shape is None:
        return body
    try:
        shape.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Refused(400, f"{kind} with a bad {where}: {first['msg']}") from None
    return body
