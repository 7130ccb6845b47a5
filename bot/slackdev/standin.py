"""A local, stateful stand-in for Slack: its Web API and Socket Mode on 127.0.0.1.

The bot's tests and the ``postmortem-bot demo`` command run the real app against
this server instead of slack.com (which no machine here can reach).  It answers
the way Slack answers - ``{"ok": false, "error": ...}`` with HTTP 200, Block Kit
limit violations worded like Slack's ``response_metadata.messages`` - so a bot
that passes here is not merely passing against a permissive mock.

Point ``slack_sdk``'s ``AsyncWebClient(base_url=standin.api_url)`` at it.

``SlackStandin`` is the HTTP front: it reads a call as Slack does, checks its token,
logs it (``calls``) and serves response_urls, and composes the parts, one concern each:

- ``webapi``: the methods and the workspace state they keep (users, messages, views);
- ``limits``: Slack's documented limits and the words it refuses a view or message with;
- ``files``: the external upload flow (``files.getUploadURLExternal``, the upload URL,
  ``files.completeUploadExternal``) and ``usergroups.list``;
- ``faults``: the errors, dropped connections, rate limits and slow methods a test asks for;
- ``socket_mode``: the WebSocket ``apps.connections.open`` hands out (with the app-level
  ``xapp-`` token), greeting each connection with ``hello`` and carrying the envelopes a
  test pushes (``socket_command``, ``socket_send``) and the app's acks (``socket_ack``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self, TypeVar

from aiohttp import web

from bot.slackdev.canvases import Canvases
from bot.slackdev.faults import Fault, FaultInjection
from bot.slackdev.files import Files
from bot.slackdev.socket_mode import SocketModeServer
from bot.slackdev.webapi import Clock, WebApi
from bot.slackdev.wire import JSON, ApiError
from bot.slackdev.workspaces import Workspace, Workspaces

T = TypeVar("T")

_JSON_FIELDS = ("view", "blocks", "attachments", "metadata")
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
"""Methods that take the app-level (``xapp-``) token; every other one takes the bot token."""
_NO_TOKEN_METHODS = frozenset({"api.test", "oauth.v2.access"})
"""Methods that need no token: ``oauth.v2.access`` authenticates the app by its client id and secret."""


@dataclass(frozen=True)
class Call:
    """One request the stand-in received, kept so tests can assert on traffic."""

    method: str
    params: JSON
    response: JSON | None
    status: int
    time: float
    dropped: bool = False
    token: str | None = None
    """The token the call was made with: whose workspace it acted in."""


# --------------------------------------------------------------------------
# request parsing


async def _read_params(request: web.Request) -> JSON:
    """Merge query and body the way Slack does: slack_sdk mixes GET query strings,
    form bodies (with JSON-encoded ``view``/``blocks``) and JSON bodies."""
    params: JSON = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    for key in _JSON_FIELDS:
        if isinstance(params.get(key), str):
            # A string that is not JSON stays a string: the limit checks reject it.
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params


def default_channel_name(channel: str) -> str:
    """The channel_name Slack puts in a slash command's payload."""
    if channel.startswith("D"):
        return "directmessage"
    if channel.startswith("G"):
        return "privategroup"
    return channel.lower()


def _bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip()
    return None


def _basic(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth.removeprefix("Basic ").strip() if auth.startswith("Basic ") else None


def _token(request: web.Request, params: JSON) -> str | None:
    bearer = _bearer(request)
    return bearer if bearer is not None else params.get("token")


# --------------------------------------------------------------------------
# the server


class SlackStandin(Workspaces, WebApi, FaultInjection, Canvases, Files):
    """Stateful Slack Web API stand-in served by aiohttp on 127.0.0.1.

    Use ``async with SlackStandin() as slack:`` (or ``await start()`` / ``await
    close()``); it runs in whatever asyncio loop starts it.  ``clock`` drives
    trigger expiry, message ts and users' tz offsets so tests can move time
    instead of sleeping.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-standin-bot-token",
        team_id: str = "T0STANDIN1",
        team_domain: str = "standin",
        team_name: str = "Stand-in Workspace",
        app_id: str = "A0STANDIN1",
        bot_id: str = "B0STANDIN1",
        bot_user_id: str = "U0STANDBOT",
        verification_token: str = "standin-verification-token",
        app_token: str = "xapp-standin-app-token",
        clock: Clock = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        WebApi.__init__(self)
        FaultInjection.__init__(self)
        Canvases.__init__(self)
        Files.__init__(self)
        Workspaces.__init__(self, Workspace(team_id, team_domain, team_name, bot_user_id, bot_id, bot_token))
        self.app_id = app_id
        self.verification_token = verification_token
        self.app_token = app_token
        self.clock = clock
        self.calls: list[Call] = []
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._responses: dict[str, list[JSON]] = {}
        self._socket_mode = SocketModeServer(app_id=app_id, ids=self._ids)
        self._methods["apps.connections.open"] = self._apps_connections_open
        self._methods["api.test"] = lambda params: {"args": params}
        self._methods.update(self.canvas_methods())
        self._methods.update(self.files_methods())

    # ---- the workspace a call acts in (the default one between calls) ---

    @property
    def team_id(self) -> str:
        return self.current.team_id

    @property
    def team_domain(self) -> str:
        return self.current.team_domain

    @property
    def team_name(self) -> str:
        return self.current.team_name

    @property
    def bot_id(self) -> str:
        return self.current.bot_id

    @property
    def bot_user_id(self) -> str:
        return self.current.bot_user_id

    @property
    def bot_token(self) -> str:
        return self.current.bot_token or ""

    # ---- lifecycle ------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        app.router.add_get("/socket/{ticket}", self._socket_mode.handle)
        app.router.add_post("/upload/v1/{token}", self.handle_upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._socket_mode.close()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the stand-in is not started")
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """The bot's SLACK_API_URL: slack_sdk appends method names to it."""
        return f"{self.url}/api/"

    @property
    def socket_url(self) -> str:
        """Where apps.connections.open sends the app (followed by a one-off ticket)."""
        return f"ws{self.url.removeprefix('http')}/socket/"

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def new_response_url(self) -> str:
        response_id = f"R{next(self._ids):08d}"
        self._responses[response_id] = []
        return f"{self.url}/response/{response_id}"

    def responses(self, response_url: str) -> list[JSON]:
        """What the bot posted to a response_url (full URL or its id), in order."""
        return copy.deepcopy(self._responses[response_url.rsplit("/", 1)[-1]])

    async def wait_until(self, predicate: Callable[[], T], *, timeout: float = 10.0) -> T:
        """Poll ``predicate`` until truthy: Bolt acks before its listener finishes,
        so a test must wait for the listener's Web API calls rather than assume them."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.005)
        return result

    # ---- slash commands and Socket Mode ------------------------------------

    def command_payload(
        self,
        text: str,
        *,
        user: str,
        channel: str,
        command: str = "/postmortem",
        channel_name: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> JSON:
        """The fields Slack sends for a slash command, over HTTP and in Socket Mode alike."""
        known = self.user(user)
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel,
            "channel_name": channel_name or default_channel_name(channel),
            "user_id": user,
            "user_name": known["name"] if known else user.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            **({"enterprise_id": self.current.enterprise_id} if self.current.enterprise_id else {}),
            "is_enterprise_install": "true" if self.current.org_install else "false",
            "response_url": response_url or self.new_response_url(),
            "trigger_id": trigger_id or self.issue_trigger(user),
        }

    async def socket_command(
        self,
        text: str,
        *,
        user: str,
        channel: str,
        command: str = "/postmortem",
        channel_name: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        connection: str | None = None,
    ) -> str:
        """Type ``{command} {text}`` in ``channel`` with the app in Socket Mode.

        Sends a ``slash_commands`` envelope whose payload carries the fields Slack
        posts to a Request URL, with a fresh trigger_id and a response_url on this
        server; returns its envelope_id (see ``socket_envelope``/``socket_ack``).
        """
        payload = self.command_payload(
            text,
            user=user,
            channel=channel,
            command=command,
            channel_name=channel_name,
            trigger_id=trigger_id,
            response_url=response_url,
        )
        return await self.socket_send("slash_commands", payload, connection=connection)

    async def socket_send(
        self,
        envelope_type: str,
        payload: JSON,
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        connection: str | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Deliver an envelope (``events_api``, ``interactive``, ``slash_commands``)
        over the newest open connection, or ``connection``; returns its envelope_id.

        Waits up to ``timeout`` seconds for the app to be connected (and greeted),
        since a client's connect can return before this side has registered it.
        """
        socket = await self.wait_until(lambda: self._socket_mode.live(connection), timeout=timeout)
        return await self._socket_mode.send(
            socket,
            envelope_type,
            payload,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )

    async def socket_disconnect(self, reason: str = "refresh_requested", *, connection: str | None = None) -> str:
        """Send Slack's ``disconnect`` message (``warning``, ``refresh_requested``,
        ``link_disabled``) on a connection; returns the connection's id.  slack_sdk
        answers it by opening a new connection and closing this one."""
        return await self._socket_mode.disconnect(reason, connection)

    def socket_ack(self, envelope_id: str) -> JSON | None:
        """The app's ack of an envelope (``{"envelope_id": ..., "payload": ...}``,
        payload only when it answered with one), or None while it has not acked."""
        return self._socket_mode.ack(envelope_id)

    def socket_envelope(self, envelope_id: str) -> JSON:
        """The envelope as it was sent, e.g. to read its payload's trigger_id."""
        return self._socket_mode.envelope(envelope_id)

    def socket_connections(self, *, include_closed: bool = False) -> list[str]:
        """Ids of the app's Socket Mode connections (open ones, oldest first)."""
        return self._socket_mode.connections(include_closed=include_closed)

    def _apps_connections_open(self, params: JSON) -> JSON:
        return {"url": f"{self.socket_url}{self._socket_mode.new_ticket()}?app_id={self.app_id}"}

    # ---- HTTP -------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await _read_params(request)
        token = _token(request, params)
        params.pop("token", None)
        if method in _APP_TOKEN_METHODS:
            token = _bearer(request)  # Slack takes the app-level token only from the Authorization header
        caller = self.caller(token) if token else None
        fault = self._rate_limited(method, self._counted_channel(params)) or self._take_fault(
            method, caller.team_id if caller else None
        )
        if fault is not None and not fault.drop:
            return self._fail(method, params, fault, token)
        await self._slow_down(method)
        if method == "oauth.v2.access":
            body = self._answered(lambda: self.oauth_v2_access(params, _basic(request)))
        else:
            body = self._dispatch(method, token, params)
        return self._answer(request, method, params, body, dropped=fault is not None, token=token)

    def _counted_channel(self, params: JSON) -> str:
        """The conversation a call counts against for a per-channel rate limit:
        a post to a user id counts against the DM it goes to."""
        channel = str(params.get("channel") or "")
        return self.dm_channel(channel) if channel and channel[0] in "UW" else channel

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        response_id = request.match_info["response_id"]
        body = await request.json()
        fault = self._take_fault("response_url")
        if fault is not None and not fault.drop:
            return self._fail("response_url", body, fault)
        self._responses.setdefault(response_id, []).append(body)
        self.calls.append(Call("response_url", body, None, 200, self.clock(), fault is not None))
        if fault is not None:
            request.transport.close()  # type: ignore[union-attr]
        return web.Response(text="ok")

    def _fail(self, method: str, params: JSON, fault: Fault, token: str | None) -> web.Response:
        body = {"ok": False, "error": fault.error}
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        self.calls.append(Call(method, params, body, fault.status, self.clock(), token=token))
        return web.json_response(body, status=fault.status, headers=headers)

    def _answer(
        self, request: web.Request, method: str, params: JSON, body: JSON, *, dropped: bool, token: str | None
    ) -> web.Response:
        self.calls.append(Call(method, params, body, 200, self.clock(), dropped, token))
        if dropped:
            request.transport.close()  # type: ignore[union-attr]
        return web.json_response(body)

    def _dispatch(self, method: str, token: str | None, params: JSON) -> JSON:
        handler = self._methods.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        if method in _NO_TOKEN_METHODS:
            return self._answered(lambda: handler(params))
        if not token:
            return {"ok": False, "error": "not_authed"}
        # A valid token of the wrong kind is refused as such; any other one is not a token at all.
        if method in _APP_TOKEN_METHODS:
            if token == self.app_token:
                return self._answered(lambda: handler(params))
            return {"ok": False, "error": "not_allowed_token_type" if self.caller(token) else self.refusal(token)}
        workspace = self.caller(token)
        if workspace is None:
            return {"ok": False, "error": "not_allowed_token_type" if token == self.app_token else self.refusal(token)}
        with self.acting_as(workspace.team_id):
            return self._answered(lambda: handler(params))

    @staticmethod
    def _answered(method: Callable[[], JSON]) -> JSON:
        try:
            return {"ok": True, **method()}
        except ApiError as failure:
            return failure.body
