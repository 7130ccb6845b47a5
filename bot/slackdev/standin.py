"""A local, stateful stand-in for the Slack Web API.

The bot's tests and the ``postmortem-bot demo`` command run the real app against
this server instead of slack.com (which no machine here can reach).  It answers
the way Slack answers - ``{"ok": false, "error": ...}`` with HTTP 200, Block Kit
limit violations worded like Slack's ``response_metadata.messages`` - so a bot
that passes here is not merely passing against a permissive mock.

Point ``slack_sdk``'s ``AsyncWebClient(base_url=standin.api_url)`` at it.

It also speaks Socket Mode: ``apps.connections.open`` (with the app-level
``xapp-`` token) hands out a ``ws://`` URL on the same server, which greets each
connection with Slack's ``hello`` and then carries the envelopes a test pushes
(``socket_command``, ``socket_send``) and the acks the app sends back
(``socket_ack``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.slackdev.faults import Fault, FaultInjection
from bot.slackdev.limits import (
    MAX_VIEW_STACK,
    TRIGGER_TTL_SECONDS,
    check_message,
    check_view,
    iter_elements,
    response_action_problems,
)
from bot.slackdev.socket_mode import SocketModeServer
from bot.slackdev.wire import JSON, ApiError, invalid_arguments

Clock = Callable[[], float]
T = TypeVar("T")

_JSON_FIELDS = ("view", "blocks", "attachments", "metadata")
_VIEW_DEFAULTS = {
    "private_metadata": "",
    "callback_id": "",
    "external_id": "",
    "clear_on_close": False,
    "notify_on_close": False,
}
_VIEW_IDENTITY = ("id", "team_id", "app_id", "app_installed_team_id", "bot_id", "root_view_id", "previous_view_id")
_MESSAGE_FIELDS = ("text", "blocks", "attachments", "thread_ts", "metadata")
"""What a message keeps from chat.postMessage/update; chat.update leaves omitted ones as they were."""
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
"""Methods that take the app-level (``xapp-``) token; every other one takes the bot token."""
_TZ_LABELS = {
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "UTC": "Coordinated Universal Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
}


@dataclass(frozen=True)
class Call:
    """One request the stand-in received, kept so tests can assert on traffic."""

    method: str
    params: JSON
    response: JSON | None
    status: int
    time: float
    dropped: bool = False


@dataclass
class _Trigger:
    user_id: str
    issued_at: float
    view_id: str | None
    used: bool = False


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


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip()
    return None


def _token(request: web.Request, params: JSON) -> str | None:
    bearer = _bearer(request)
    return bearer if bearer is not None else params.get("token")


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros.ljust(6, "0")[:6])


@dataclass(frozen=True)
class _Window:
    """conversations.history's oldest/latest/inclusive bounds (and our cursor)."""

    oldest: tuple[int, int]
    latest: tuple[int, int]
    inclusive: bool

    @classmethod
    def from_params(cls, params: JSON) -> _Window:
        latest = str(params.get("latest") or "9999999999")
        inclusive = _truthy(params.get("inclusive"))
        if params.get("cursor"):  # our cursor: the ts of the last message already returned
            latest = base64.b64decode(params["cursor"]).decode().removeprefix("next_ts:")
            inclusive = False
        return cls(_ts_key(str(params.get("oldest") or "0")), _ts_key(latest), inclusive)

    def contains(self, ts: str) -> bool:
        key = _ts_key(ts)
        if self.inclusive:
            return self.oldest <= key <= self.latest
        return self.oldest < key < self.latest


# --------------------------------------------------------------------------
# the server


class SlackStandin(FaultInjection):
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
        super().__init__()
        self.bot_token = bot_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.app_id = app_id
        self.bot_id = bot_id
        self.bot_user_id = bot_user_id
        self.verification_token = verification_token
        self.app_token = app_token
        self.clock = clock
        self.calls: list[Call] = []
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1)
        self._triggers: dict[str, _Trigger] = {}
        self._views: dict[str, JSON] = {}
        self._view_owner: dict[str, str] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._messages: dict[str, list[JSON]] = {}
        self._ephemerals: dict[str, list[JSON]] = {}
        self._last_ts: dict[str, int] = {}
        self._users: dict[str, JSON] = {}
        self._open_dms: set[str] = set()
        self._responses: dict[str, list[JSON]] = {}
        self._socket_mode = SocketModeServer(app_id=app_id, ids=self._ids)
        self._methods: dict[str, Callable[[JSON], JSON]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
        }

    # ---- lifecycle ------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        app.router.add_get("/socket/{ticket}", self._socket_mode.handle)
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

    # ---- test-side accessors ----------------------------------------------

    def issue_trigger(self, user_id: str, *, view_id: str | None = None) -> str:
        """Mint a trigger_id as Slack does for an interaction by ``user_id``
        (inside view ``view_id`` when the interaction happened in a modal)."""
        now = self.clock()
        trigger_id = f"{next(self._ids)}.{int(now)}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(user_id, now, view_id)
        return trigger_id

    def new_response_url(self) -> str:
        response_id = f"R{next(self._ids):08d}"
        self._responses[response_id] = []
        return f"{self.url}/response/{response_id}"

    def responses(self, response_url: str) -> list[JSON]:
        """What the bot posted to a response_url (full URL or its id), in order."""
        return copy.deepcopy(self._responses[response_url.rsplit("/", 1)[-1]])

    def view(self, view_id: str) -> JSON:
        return copy.deepcopy(self._views[view_id])

    def open_modal_stack(self, user_id: str) -> list[JSON]:
        """The user's open modals, bottom (root) first."""
        return [self.view(view_id) for view_id in self._stacks.get(user_id, [])]

    def current_view(self, user_id: str) -> JSON | None:
        """The modal the user is looking at: the top of their stack."""
        stack = self._stacks.get(user_id)
        return self.view(stack[-1]) if stack else None

    def home_view(self, user_id: str) -> JSON | None:
        view_id = self._homes.get(user_id)
        return self.view(view_id) if view_id else None

    def messages(self, channel: str) -> list[JSON]:
        """Messages in ``channel`` in ts order, each with a ``channel`` key added."""
        return [{**copy.deepcopy(m), "channel": channel} for m in self._messages.get(channel, [])]

    def ephemerals(self, channel: str, user: str | None = None) -> list[JSON]:
        return [copy.deepcopy(m) for m in self._ephemerals.get(channel, []) if user is None or m["recipient"] == user]

    def dm_channel(self, user_id: str) -> str:
        return f"D{user_id}"

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        display_name: str | None = None,
        tz: str = "America/New_York",
        deleted: bool = False,
        is_bot: bool = False,
    ) -> JSON:
        ZoneInfo(tz)  # fail at setup, not inside users.info, on a bad zone name
        name = name or user_id.lower()
        self._users[user_id] = raw = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "real_name": real_name or name.title(),
            "tz": tz,
            "is_bot": is_bot,
            "profile": {
                "real_name": real_name or name.title(),
                "display_name": display_name if display_name is not None else name,
            },
        }
        return self._render_user(raw)

    def set_user_deleted(self, user_id: str, deleted: bool = True) -> None:
        self._users[user_id]["deleted"] = deleted

    def user(self, user_id: str) -> JSON | None:
        """The users.info object for a registered user, or None."""
        raw = self._users.get(user_id)
        return None if raw is None else self._render_user(raw)

    def _render_user(self, raw: JSON) -> JSON:
        """Slack computes tz_label/tz_offset for the current instant (DST moves them)."""
        user = copy.deepcopy(raw)
        moment = datetime.fromtimestamp(self.clock(), tz=UTC).astimezone(ZoneInfo(user["tz"]))
        offset = moment.utcoffset()
        abbreviation = moment.tzname() or ""
        user["tz_label"] = _TZ_LABELS.get(abbreviation, abbreviation)
        user["tz_offset"] = int(offset.total_seconds()) if offset else 0
        return user

    async def wait_until(self, predicate: Callable[[], T], *, timeout: float = 10.0) -> T:
        """Poll ``predicate`` until truthy: Bolt acks before its listener finishes,
        so a test must wait for the listener's Web API calls rather than assume them."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.005)
        return result

    # ---- Socket Mode -------------------------------------------------------

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
            "is_enterprise_install": "false",
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

    # ---- the modal stack, as Slack's client changes it (used by SlackDriver) --

    def set_state(self, view_id: str, values: JSON) -> None:
        """Record what the user has typed/selected in an open view."""
        self._views[view_id]["state"] = {"values": copy.deepcopy(values)}

    def is_open(self, view_id: str) -> bool:
        """Whether the view is on screen (in its user's stack, or their Home tab):
        Slack answers not_found when an app updates a view the user has closed."""
        owner = self._view_owner.get(view_id)
        if owner is None:
            return False
        return view_id in self._stacks.get(owner, []) or self._homes.get(owner) == view_id

    def close_view(self, user_id: str, *, clear: bool = False) -> None:
        """The top view closes (the user cancelled, or the app acked a submission
        with an empty body); ``clear`` closes the whole stack."""
        stack = self._stacks.get(user_id, [])
        del stack[0 if clear else -1 :]

    def replace_view(self, view_id: str, view: Any) -> list[str]:
        """Apply ``response_action: update``; returns Slack's complaints, if any."""
        stored = self._views[view_id]
        problems = response_action_problems(view, kind=stored["type"])
        if not problems:
            self._store_update(stored, view)
        return problems

    def push_view(self, user_id: str, view: Any) -> list[str]:
        """Apply ``response_action: push``; returns Slack's complaints, if any."""
        stack = self._stacks.get(user_id, [])
        problems = response_action_problems(view, kind="modal")
        if not stack:
            problems.append("not_found: the user has no open modal")
        elif len(stack) >= MAX_VIEW_STACK:
            problems.append("push_limit_reached")
        if not problems:
            stack.append(self._store_view(view, user_id, root=stack[0], previous=stack[-1])["id"])
        return problems

    # ---- HTTP -------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await _read_params(request)
        token = _token(request, params)
        params.pop("token", None)
        if method in _APP_TOKEN_METHODS:
            token = _bearer(request)  # Slack takes the app-level token only from the Authorization header
        fault = self._rate_limited(method, self._counted_channel(params)) or self._take_fault(method)
        if fault is not None and not fault.drop:
            return self._fail(method, params, fault)
        await self._slow_down(method)
        body = self._dispatch(method, token, params)
        return self._answer(request, method, params, body, dropped=fault is not None)

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

    def _fail(self, method: str, params: JSON, fault: Fault) -> web.Response:
        body = {"ok": False, "error": fault.error}
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        self.calls.append(Call(method, params, body, fault.status, self.clock()))
        return web.json_response(body, status=fault.status, headers=headers)

    def _answer(self, request: web.Request, method: str, params: JSON, body: JSON, *, dropped: bool) -> web.Response:
        self.calls.append(Call(method, params, body, 200, self.clock(), dropped))
        if dropped:
            request.transport.close()  # type: ignore[union-attr]
        return web.json_response(body)

    def _dispatch(self, method: str, token: str | None, params: JSON) -> JSON:
        handler = self._methods.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        if not token:
            return {"ok": False, "error": "not_authed"}
        wanted = self.app_token if method in _APP_TOKEN_METHODS else self.bot_token
        if token != wanted:
            # A valid token of the wrong kind is refused as such; any other one is not a token at all.
            known = token in (self.bot_token, self.app_token)
            return {"ok": False, "error": "not_allowed_token_type" if known else "invalid_auth"}
        try:
            return {"ok": True, **handler(params)}
        except ApiError as failure:
            return failure.body

    # ---- auth / users / conversations ---------------------------------------

    def _auth_test(self, params: JSON) -> JSON:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "postmortem-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: JSON) -> JSON:
        return {"url": f"{self.socket_url}{self._socket_mode.new_ticket()}?app_id={self.app_id}"}

    def _users_info(self, params: JSON) -> JSON:
        user = self.user(params.get("user", ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user}

    def _conversations_open(self, params: JSON) -> JSON:
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            raise ApiError("users_list_not_supplied")
        for user_id in users:
            if user_id not in self._users:
                raise ApiError("user_not_found")
            if self._users[user_id]["deleted"]:
                raise ApiError("user_disabled")
        channel = self.dm_channel(users[0]) if len(users) == 1 else "G" + "".join(sorted(users))
        already_open = channel in self._open_dms
        self._open_dms.add(channel)
        return {"no_op": already_open, "already_open": already_open, "channel": {"id": channel}}

    def _conversations_history(self, params: JSON) -> JSON:
        """Newest first, top-level messages only (thread replies live in
        conversations.replies), metadata only when include_all_metadata is set."""
        channel = self._channel(params)
        window = _Window.from_params(params)
        limit = int(params.get("limit") or 100)
        found = [
            m
            for m in reversed(self._messages.get(channel, []))
            if m.get("thread_ts", m["ts"]) == m["ts"] and window.contains(m["ts"])
        ]
        page = copy.deepcopy(found[:limit])
        if not _truthy(params.get("include_all_metadata")):
            for message in page:
                message.pop("metadata", None)
        more = len(found) > limit
        next_cursor = base64.b64encode(f"next_ts:{page[-1]['ts']}".encode()).decode() if more else ""
        return {"messages": page, "has_more": more, "response_metadata": {"next_cursor": next_cursor}}

    def _channel(self, params: JSON, *, user_id_opens_dm: bool = False) -> str:
        """The conversation a call names. Posting to a user id opens and uses the app's DM
        with them, as Slack does; reading or editing a DM takes its D… id."""
        channel = str(params.get("channel") or "")
        if not channel:
            raise ApiError("channel_not_found")
        if channel[0] in "UW":
            if channel not in self._users or not user_id_opens_dm:
                raise ApiError("channel_not_found")
            self._open_dms.add(self.dm_channel(channel))
            return self.dm_channel(channel)
        return channel

    # ---- views --------------------------------------------------------------

    def _exchange_trigger(self, params: JSON) -> _Trigger:
        trigger_id = params.get("trigger_id") or params.get("interactivity_pointer") or ""
        trigger = self._triggers.get(str(trigger_id))
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used:
            raise ApiError("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            raise ApiError("expired_trigger_id")
        return trigger

    def _checked_view(self, params: JSON, kind: str, *, replacing: str | None = None) -> JSON:
        """The request's view, if Slack would accept it (in place of ``replacing``)."""
        view = params.get("view")
        check_view(view, kind=kind)
        if self._find_external(view.get("external_id")) not in (None, replacing):
            raise ApiError("duplicate_external_id")
        return view

    def _views_open(self, params: JSON) -> JSON:
        trigger = self._exchange_trigger(params)
        view = self._checked_view(params, "modal")
        trigger.used = True
        stored = self._store_view(view, trigger.user_id, root=None, previous=None)
        self._stacks[trigger.user_id] = [stored["id"]]
        return {"view": copy.deepcopy(stored)}

    def _views_push(self, params: JSON) -> JSON:
        """Push onto the stack the trigger came from (or the user's open stack)."""
        trigger = self._exchange_trigger(params)
        view = self._checked_view(params, "modal")
        stack = self._stacks.get(trigger.user_id, [])
        if not stack or (trigger.view_id is not None and trigger.view_id not in stack):
            raise ApiError("not_found")
        if len(stack) >= MAX_VIEW_STACK:
            raise ApiError("push_limit_reached")
        trigger.used = True
        stored = self._store_view(view, trigger.user_id, root=stack[0], previous=stack[-1])
        stack.append(stored["id"])
        return {"view": copy.deepcopy(stored)}

    def _views_update(self, params: JSON) -> JSON:
        view_id = params.get("view_id") or self._find_external(params.get("external_id"))
        if view_id not in self._views or not self.is_open(view_id):
            raise ApiError("not_found")
        stored = self._views[view_id]
        if params.get("hash") and params["hash"] != stored["hash"]:
            raise ApiError("hash_conflict")
        self._store_update(stored, self._checked_view(params, stored["type"], replacing=view_id))
        return {"view": copy.deepcopy(stored)}

    def _views_publish(self, params: JSON) -> JSON:
        user_id = str(params.get("user_id") or "")
        if not user_id:
            raise invalid_arguments(["[ERROR] missing required field: user_id [json-pointer:/user_id]"])
        home_id = self._homes.get(user_id)
        if home_id and params.get("hash") and params["hash"] != self._views[home_id]["hash"]:
            raise ApiError("hash_conflict")
        view = self._checked_view(params, "home", replacing=home_id)
        if home_id is None:
            self._homes[user_id] = self._store_view(view, user_id, root=None, previous=None)["id"]
        else:
            self._store_update(self._views[home_id], view)
        return {"view": self.view(self._homes[user_id])}

    def _find_external(self, external_id: Any) -> str | None:
        if not external_id:
            return None
        return next((i for i, v in self._views.items() if v.get("external_id") == external_id), None)

    def _store_view(self, view: JSON, user_id: str, *, root: str | None, previous: str | None) -> JSON:
        view_id = f"V{next(self._ids):08d}"
        stored = {
            **_VIEW_DEFAULTS,
            **copy.deepcopy(view),
            "id": view_id,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
            "root_view_id": root or view_id,
            "previous_view_id": previous,
            "state": {"values": {}},
            "hash": self._new_hash(),
        }
        self._stamp_ids(stored.setdefault("blocks", []))
        self._views[view_id] = stored
        self._view_owner[view_id] = user_id
        return stored

    def _store_update(self, stored: JSON, view: JSON) -> None:
        """Replace a view in place; like Slack, keep typed input whose block_id and
        action_id survive the update (changing a block_id is how apps reset one)."""
        kept = {key: stored[key] for key in _VIEW_IDENTITY}
        old_values = stored["state"]["values"]
        stored.clear()
        stored.update(_VIEW_DEFAULTS)
        stored.update(copy.deepcopy(view), **kept, hash=self._new_hash())
        self._stamp_ids(stored.setdefault("blocks", []))
        live = {(b.get("block_id"), e.get("action_id")) for b, e, _ in iter_elements(stored["blocks"])}
        stored["state"] = {
            "values": {
                block_id: kept_actions
                for block_id, actions in old_values.items()
                if (kept_actions := {a: v for a, v in actions.items() if (block_id, a) in live})
            }
        }

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"

    def _stamp_ids(self, blocks: list[JSON]) -> None:
        """Slack fills in block_id and action_id when the app leaves them out."""
        for block in blocks:
            if isinstance(block, dict) and "block_id" not in block:
                block["block_id"] = f"sb{next(self._ids):06d}"
        for _, element, _ in iter_elements(blocks):
            element.setdefault("action_id", f"sa{next(self._ids):06d}")

    # ---- messages -------------------------------------------------------------

    def _checked_message(self, params: JSON) -> JSON:
        check_message(params)
        fields = {key: copy.deepcopy(params[key]) for key in _MESSAGE_FIELDS if key in params}
        self._stamp_ids(fields.get("blocks", []))
        return fields

    def _next_ts(self, channel: str) -> str:
        """Unique, increasing per channel even when the clock stands still."""
        micros = max(int(self.clock() * 1_000_000), self._last_ts.get(channel, 0) + 1)
        self._last_ts[channel] = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _chat_post_message(self, params: JSON) -> JSON:
        channel = self._channel(params, user_id_opens_dm=True)
        content = self._checked_message(params)
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": "",
            **content,
            "ts": self._next_ts(channel),
        }
        self._messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_update(self, params: JSON) -> JSON:
        channel = self._channel(params)
        ts = params.get("ts")
        message = next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)
        if message is None:
            raise ApiError("message_not_found")
        content = self._checked_message(params)
        message.update(content, edited={"user": self.bot_user_id, "ts": self._next_ts(channel)})
        return {"channel": channel, "ts": ts, "text": message["text"], "message": copy.deepcopy(message)}

    def _chat_post_ephemeral(self, params: JSON) -> JSON:
        channel = self._channel(params, user_id_opens_dm=True)
        user = str(params.get("user") or "")
        if not user:
            raise ApiError("user_not_in_channel")
        content = self._checked_message(params)
        message_ts = self._next_ts(channel)
        self._ephemerals.setdefault(channel, []).append(
            {
                "type": "message",
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "text": "",
                **content,
                "ts": message_ts,
                "channel": channel,
                "recipient": user,
                "is_ephemeral": True,
            }
        )
        return {"message_ts": message_ts}
