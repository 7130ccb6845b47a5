"""Plays Slack's side of the conversation with the bot's HTTP endpoint.

It sends slash commands, interactivity payloads and Events API envelopes to the
running app, signed exactly as Slack signs them, and then applies the app's HTTP
answers to the stand-in's modal stack the way Slack's client would.  The bot's
request verification, ack timing and payload parsing are therefore exercised for
real, not bypassed.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock_time
from typing import Any, NamedTuple, Self
from urllib.parse import urlencode

import aiohttp

from bot.slackdev.limits import iter_elements
from bot.slackdev.standin import SlackStandin, default_channel_name
from bot.slackdev.wire import JSON

ACK_DEADLINE_SECONDS = 3.0
"""Slack gives up on an answer (and shows the user an error) after 3 seconds."""


def sign(secret: str, timestamp: int | str, body: str) -> str:
    """Slack's v0 request signature over ``v0:{timestamp}:{body}``."""
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return f"v0={digest.hexdigest()}"


@dataclass(frozen=True)
class Signing:
    """How to sign one request; the defaults sign it correctly, as Slack would.

    ``secret`` replaces the signing secret (a forged request); ``timestamp`` or
    ``offset`` (seconds added to now) produce a stale or future-dated one.
    """

    secret: str | None = None
    timestamp: int | None = None
    offset: int = 0


@dataclass
class DriverResult:
    """What the app answered, plus what that answer did on Slack's side."""

    status: int
    headers: dict[str, str]
    text: str
    json: Any
    elapsed: float
    trigger_id: str | None = None
    response_url: str | None = None
    event_id: str | None = None
    errors: dict[str, str] | None = None
    view: JSON | None = None
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# state.values shapes


def _option(element: JSON, value: Any) -> JSON:
    """The option object Slack sends for ``value`` (its text and value)."""
    if isinstance(value, dict):
        return value
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options", [])
    for option in options:
        if option.get("value") == value:
            return {key: option[key] for key in ("text", "value", "description") if key in option}
    raise LookupError(f"{element.get('action_id')!r} has no option with value {value!r}")


def _options(element: JSON, values: Any) -> list[JSON]:
    return [_option(element, value) for value in values]


def _as_date(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _as_time(value: Any) -> str:
    return value.strftime("%H:%M") if isinstance(value, clock_time) else str(value)


def _as_epoch(value: Any) -> int:
    return int(value.timestamp()) if isinstance(value, datetime) else int(value)


class _Field(NamedTuple):
    """How Slack reports one input element type in state.values."""

    key: str
    empty: Any
    initial: str
    convert: Callable[[JSON, Any], Any]


def _text(_: JSON, value: Any) -> str:
    return str(value)


def _same(_: JSON, value: Any) -> Any:
    return value


_FIELDS: dict[str, _Field] = {
    "plain_text_input": _Field("value", None, "initial_value", _text),
    "number_input": _Field("value", None, "initial_value", _text),
    "email_text_input": _Field("value", None, "initial_value", _text),
    "url_text_input": _Field("value", None, "initial_value", _text),
    "static_select": _Field("selected_option", None, "initial_option", _option),
    "radio_buttons": _Field("selected_option", None, "initial_option", _option),
    "multi_static_select": _Field("selected_options", [], "initial_options", _options),
    "checkboxes": _Field("selected_options", [], "initial_options", _options),
    "users_select": _Field("selected_user", None, "initial_user", _text),
    "multi_users_select": _Field("selected_users", [], "initial_users", _same),
    "conversations_select": _Field("selected_conversation", None, "initial_conversation", _text),
    "channels_select": _Field("selected_channel", None, "initial_channel", _text),
    "datepicker": _Field("selected_date", None, "initial_date", lambda _, v: _as_date(v)),
    "timepicker": _Field("selected_time", None, "initial_time", lambda _, v: _as_time(v)),
    "datetimepicker": _Field("selected_date_time", None, "initial_date_time", lambda _, v: _as_epoch(v)),
    "rich_text_input": _Field("rich_text_value", None, "initial_value", _same),
}
_OTHER_FIELD = _Field("value", None, "initial_value", _same)


def _untouched(element: JSON) -> JSON:
    """What Slack sends for an element the user left alone: initial_* or empty."""
    spec = _FIELDS.get(element.get("type", ""), _OTHER_FIELD)
    return {"type": element["type"], spec.key: element.get(spec.initial, spec.empty)}


def _answered(element: JSON, answer: Any) -> JSON:
    """What Slack sends once the user has typed or picked ``answer``."""
    spec = _FIELDS.get(element.get("type", ""), _OTHER_FIELD)
    return {"type": element["type"], spec.key: spec.convert(element, answer)}


def _find(blocks: Any, action_id: str, block_id: str | None = None) -> tuple[JSON, JSON]:
    """The (block, element) with this action_id: action_ids are only unique per
    block, so a block_id is needed when several blocks reuse one."""
    found = [
        (block, element)
        for block, element, _ in iter_elements(blocks)
        if element.get("action_id") == action_id and (block_id is None or block.get("block_id") == block_id)
    ]
    if not found:
        raise LookupError(f"no element with action_id {action_id!r} in these blocks")
    if len(found) > 1:
        raise LookupError(f"action_id {action_id!r} is in several blocks: pass block_id")
    return found[0]


# --------------------------------------------------------------------------
# the driver


class SlackDriver:
    """Sends Slack's requests to the app at ``app_url`` (e.g.
    ``http://127.0.0.1:PORT/slack/events``) on behalf of users of ``standin``.

    Use ``async with`` or call ``close()``: the driver owns an aiohttp session
    unless one is passed in.
    """

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        standin: SlackStandin,
        *,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.app_url = app_url
        self.standin = standin
        self.signing_secret = signing_secret
        self._session = session
        self._owns_session = session is None
        self._event_ids = itertools.count(1)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # ---- slash commands -------------------------------------------------------

    async def command(
        self,
        text: str,
        *,
        user: str,
        channel: str,
        command: str = "/postmortem",
        channel_name: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        trigger_id: str | None = None,
        response_url: str | None = None,
        signing: Signing | None = None,
    ) -> DriverResult:
        """Type ``{command} {text}`` in ``channel``.  Pass an earlier result's
        ``trigger_id`` (and ``response_url``) to replay a doubled delivery."""
        form = self.standin.command_payload(
            text,
            user=user,
            channel=channel,
            command=command,
            channel_name=channel_name,
            trigger_id=trigger_id,
            response_url=response_url,
        )
        result = await self._send(
            urlencode(form),
            "application/x-www-form-urlencoded",
            retry=(retry_num, retry_reason),
            signing=signing,
        )
        result.trigger_id, result.response_url = form["trigger_id"], form["response_url"]
        return result

    # ---- interactivity --------------------------------------------------------

    async def click(
        self,
        surface: JSON,
        action_id: str,
        *,
        user: str,
        value: str | None = None,
        block_id: str | None = None,
        selected_user: str | None = None,
        selected_option: str | JSON | None = None,
        signing: Signing | None = None,
    ) -> DriverResult:
        """Use the element ``action_id`` on a stored view or message (a dict from
        the stand-in's accessors) and send the ``block_actions`` payload."""
        if "ts" in surface:
            payload, trigger_id = self._message_action(surface, user)
            blocks = payload.get("message", surface)["blocks"]
        else:
            payload, trigger_id = self._view_action(surface, user)
            blocks = payload["view"]["blocks"]
        block, element = _find(blocks, action_id, block_id)
        fields = _action_fields(element, value, selected_user, selected_option)
        payload["actions"] = [
            {
                "action_id": action_id,
                "block_id": block["block_id"],
                "type": element.get("type"),
                "action_ts": f"{time.time():.6f}",
                **fields,
            }
        ]
        if "view" in payload and element.get("type") in _FIELDS:
            entry = {"type": element["type"], **fields}
            self._remember(payload["view"], block["block_id"], action_id, entry)
        result = await self._interact(payload, signing)
        result.trigger_id = trigger_id
        result.response_url = payload.get("response_url")
        return result

    async def message_shortcut(self, message: JSON, callback_id: str, *, user: str) -> DriverResult:
        """Use a message shortcut (``callback_id``) from the menu of ``message`` (as the stand-in
        returns it from ``post_as_user``): Slack's ``message_action`` payload, with a trigger_id."""
        channel = message["channel"]
        trigger_id = self.standin.issue_trigger(user)
        stored = {k: v for k, v in message.items() if k != "channel"}
        payload = {
            "type": "message_action",
            **self._context(user),
            "callback_id": callback_id,
            "trigger_id": trigger_id,
            "response_url": self.standin.new_response_url(),
            "message_ts": message["ts"],
            "message": stored,
            "channel": {"id": channel, "name": default_channel_name(channel)},
            "action_ts": f"{time.time():.6f}",
        }
        result = await self._interact(payload, None)
        result.trigger_id, result.response_url = trigger_id, payload["response_url"]
        return result

    async def reaction_added(self, message: JSON, reaction: str, *, user: str) -> DriverResult:
        """``user`` reacts to ``message``: the event names the message, it does not carry it;
        ``item_user`` is left out for a message no user wrote (a webhook's, a bot's), as Slack does."""
        return await self.event(
            {
                "type": "reaction_added",
                "user": user,
                "reaction": reaction,
                **({"item_user": message["user"]} if message.get("user") else {}),
                "item": {"type": "message", "channel": message["channel"], "ts": message["ts"]},
                "event_ts": f"{time.time():.6f}",
            }
        )

    async def pin_added(self, message: JSON, *, user: str) -> DriverResult:
        """``user`` pins ``message``: the event carries the whole message."""
        channel = message["channel"]
        stored = {k: v for k, v in message.items() if k != "channel"}
        return await self.event(
            {
                "type": "pin_added",
                "user": user,
                "channel_id": channel,
                **({"item_user": message["user"]} if message.get("user") else {}),
                "pinned_info": {"channel": channel, "pinned_by": user, "pinned_ts": int(time.time())},
                "item": {
                    "type": "message",
                    "channel": channel,
                    "created": int(time.time()),
                    "created_by": user,
                    "message": stored,
                },
                "event_ts": f"{time.time():.6f}",
            }
        )

    async def message_changed(self, message: JSON, text: str) -> DriverResult:
        """The author edits ``message``: a hidden ``message`` event with subtype ``message_changed``."""
        channel = message["channel"]
        before, after = self.standin.edit_as_user(channel, message["ts"], text)
        return await self.event(
            {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": channel,
                "message": after,
                "previous_message": before,
                "ts": after["edited"]["ts"],
                "event_ts": after["edited"]["ts"],
                "channel_type": "channel",
            }
        )

    async def message_deleted(self, message: JSON) -> DriverResult:
        """The author deletes ``message``: subtype ``message_deleted``, naming it by ``deleted_ts``."""
        channel = message["channel"]
        before = self.standin.delete_as_user(channel, message["ts"])
        stamp = f"{time.time():.6f}"
        return await self.event(
            {
                "type": "message",
                "subtype": "message_deleted",
                "hidden": True,
                "channel": channel,
                "ts": stamp,
                "deleted_ts": message["ts"],
                "previous_message": before,
                "event_ts": stamp,
                "channel_type": "channel",
            }
        )

    def fill(self, view: JSON, answers: dict[str, Any]) -> JSON:
        """Type ``answers`` (keyed by action_id) into the open view and return
        its ``state.values`` as Slack will send them.

        Every input block appears; untouched ones keep their initial_* value or
        their empty shape, and values typed by earlier fill() calls persist, as in
        a real modal.  Unknown action_ids raise, so typos fail loudly.
        """
        stored = self._open_view(view)
        values: JSON = stored["state"]["values"]
        for block, element, _ in iter_elements(stored["blocks"]):
            if block.get("type") == "input":
                previous = values.get(block["block_id"], {}).get(element["action_id"])
                values.setdefault(block["block_id"], {})[element["action_id"]] = previous or _untouched(element)
        for action_id, answer in answers.items():
            block, element = _find(stored["blocks"], action_id)
            values.setdefault(block["block_id"], {})[action_id] = _answered(element, answer)
        self.standin.set_state(stored["id"], values)
        return values

    async def submit(
        self,
        view: JSON,
        answers: dict[str, Any] | None = None,
        *,
        user: str,
        signing: Signing | None = None,
    ) -> DriverResult:
        """Press the submit button of the user's top modal, then apply the app's
        answer like Slack: empty body closes the view, ``response_action``
        ``update``/``push``/``clear`` change the stack, ``errors`` keep it open."""
        self._require_top(view, user)
        self.fill(view, answers or {})
        stored = self.standin.view(view["id"])
        trigger_id = self.standin.issue_trigger(user, view_id=stored["id"])
        payload = {
            "type": "view_submission",
            **self._context(user),
            "trigger_id": trigger_id,
            "view": stored,
            "response_urls": [],
        }
        result = await self._interact(payload, signing)
        result.trigger_id = trigger_id
        result.problems += self._apply_submission_answer(result, stored, user)
        result.view = self.standin.current_view(user)
        return result

    async def close_view(
        self,
        view: JSON,
        *,
        user: str,
        notify: bool = True,
        signing: Signing | None = None,
    ) -> DriverResult | None:
        """The user presses Cancel/X on their top modal.  The view (or, with
        ``clear_on_close``, the whole stack) closes; a ``view_closed`` payload is
        sent only if the view asked for it with ``notify_on_close``."""
        self._require_top(view, user)
        stored = self.standin.view(view["id"])
        self.standin.close_view(user, clear=bool(stored.get("clear_on_close")))
        if not (notify and stored.get("notify_on_close")):
            return None
        payload = {
            "type": "view_closed",
            **self._context(user),
            "view": stored,
            "is_cleared": bool(stored.get("clear_on_close")),
        }
        result = await self._interact(payload, signing)
        result.view = self.standin.current_view(user)
        return result

    # ---- Events API -------------------------------------------------------

    async def event(
        self,
        event: JSON,
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        event_id: str | None = None,
        signing: Signing | None = None,
    ) -> DriverResult:
        """Deliver ``event`` in an ``event_callback`` envelope.  Reuse a result's
        ``event_id`` with ``retry_num`` to replay Slack's redelivery of it."""
        event_id = event_id or f"Ev{next(self._event_ids):010d}"
        envelope = {
            "token": self.standin.verification_token,
            "team_id": self.standin.team_id,
            "context_team_id": self.standin.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.standin.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.standin.team_id,
                    "user_id": self.standin.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{event_id}",
        }
        result = await self._send(
            json.dumps(envelope),
            "application/json",
            retry=(retry_num, retry_reason),
            signing=signing,
        )
        result.event_id = event_id
        return result

    async def app_home_opened(self, user: str, *, tab: str = "home") -> DriverResult:
        """The user opens the app's Home tab (the event carries the published view)."""
        event: JSON = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.standin.dm_channel(user),
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        }
        home = self.standin.home_view(user)
        if home is not None:
            event["view"] = home
        return await self.event(event)

    async def app_uninstalled(self) -> DriverResult:
        """Someone removes the app from the current workspace: its tokens stop working, and
        Slack tells the app with its last event there."""
        self.standin.uninstall(self.standin.team_id)
        return await self.event({"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"})

    async def tokens_revoked(self, *, bot: bool = True, users: Sequence[str] = ()) -> DriverResult:
        """The workspace's tokens are revoked: its bot token (``bot``) and ``users``' user tokens."""
        if bot:
            self.standin.uninstall(self.standin.team_id)
        revoked = {"oauth": list(users), "bot": [self.standin.bot_user_id] if bot else []}
        return await self.event({"type": "tokens_revoked", "tokens": revoked, "event_ts": f"{time.time():.6f}"})

    # ---- plumbing ----------------------------------------------------------

    async def _send(
        self,
        body: str,
        content_type: str,
        *,
        retry: tuple[int | None, str] = (None, ""),
        signing: Signing | None,
    ) -> DriverResult:
        """POST ``body`` signed as Slack signs it (or as ``signing`` tampers it)."""
        retry_num, retry_reason = retry
        signing = signing or Signing()
        timestamp = signing.timestamp or int(time.time()) + signing.offset
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(signing.secret or self.signing_secret, timestamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        if self._session is None:
            self._session = aiohttp.ClientSession()
        started = time.monotonic()
        async with self._session.post(self.app_url, data=body.encode(), headers=headers) as resp:
            text = await resp.text()
            result = DriverResult(
                status=resp.status,
                headers=dict(resp.headers),
                text=text,
                json=_parse_json(text),
                elapsed=time.monotonic() - started,
            )
        if result.elapsed > ACK_DEADLINE_SECONDS:
            result.problems.append(f"answered after {result.elapsed:.1f} s: Slack gave up at 3 s")
        return result

    async def _interact(self, payload: JSON, signing: Signing | None) -> DriverResult:
        body = urlencode({"payload": json.dumps(payload)})
        return await self._send(body, "application/x-www-form-urlencoded", signing=signing)

    def _context(self, user: str) -> JSON:
        """The fields every interactivity payload carries."""
        return {
            "team": {"id": self.standin.team_id, "domain": self.standin.team_domain},
            "user": {
                "id": user,
                "username": self._user_name(user),
                "name": self._user_name(user),
                "team_id": self.standin.team_id,
            },
            "api_app_id": self.standin.app_id,
            "token": self.standin.verification_token,
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def _user_name(self, user: str) -> str:
        known = self.standin.user(user)
        return known["name"] if known else user.lower()

    def _open_view(self, view: JSON) -> JSON:
        if not self.standin.is_open(view["id"]):
            raise LookupError(f"view {view['id']} is not open: a user cannot interact with it")
        return self.standin.view(view["id"])

    def _require_top(self, view: JSON, user: str) -> None:
        top = self.standin.current_view(user)
        if top is None or top["id"] != view["id"]:
            raise LookupError(f"view {view['id']} is not the modal {user} is looking at")

    def _remember(self, view: JSON, block_id: str, action_id: str, entry: JSON) -> None:
        """A selection made in a view stays in its state (and in this payload's
        copy of it), as the user left it."""
        view["state"]["values"].setdefault(block_id, {})[action_id] = entry
        self.standin.set_state(view["id"], view["state"]["values"])

    def _view_action(self, surface: JSON, user: str) -> tuple[JSON, str]:
        stored = self._open_view(surface)
        trigger_id = self.standin.issue_trigger(user, view_id=stored["id"])
        payload = {
            "type": "block_actions",
            **self._context(user),
            "container": {"type": "view", "view_id": stored["id"]},
            "trigger_id": trigger_id,
            "view": stored,
        }
        return payload, trigger_id

    def _message_action(self, surface: JSON, user: str) -> tuple[JSON, str]:
        channel = surface["channel"]
        ephemeral = bool(surface.get("is_ephemeral"))
        trigger_id = self.standin.issue_trigger(user)
        payload = {
            "type": "block_actions",
            **self._context(user),
            "container": {
                "type": "message",
                "message_ts": surface["ts"],
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            },
            "trigger_id": trigger_id,
            "channel": {"id": channel, "name": default_channel_name(channel)},
            "state": {"values": {}},
            "response_url": self.standin.new_response_url(),
        }
        if not ephemeral:  # Slack does not echo ephemeral messages back
            payload["message"] = self._stored_message(channel, surface["ts"])
        return payload, trigger_id

    def _stored_message(self, channel: str, ts: str) -> JSON:
        for message in self.standin.messages(channel):
            if message["ts"] == ts:
                del message["channel"]
                return message
        raise LookupError(f"no message {ts} in {channel}")

    def _apply_submission_answer(self, result: DriverResult, view: JSON, user: str) -> list[str]:
        """Slack's reaction to the app's answer to a view_submission."""
        if result.elapsed > ACK_DEADLINE_SECONDS:
            return []  # Slack ignores a late answer; _send has noted it
        if result.status != 200:
            return [f"answered HTTP {result.status}: Slack shows an error, view stays"]
        if not result.text.strip():
            self.standin.close_view(user)
            return []
        if not isinstance(result.json, dict):
            return ["answer is not a JSON object: Slack shows an error, view stays"]
        action = result.json.get("response_action")
        if action == "errors":
            result.errors = result.json.get("errors") or {}
            return _unknown_error_keys(result.errors, view["blocks"])
        if action == "update":
            return self.standin.replace_view(view["id"], result.json.get("view"))
        if action == "push":
            return self.standin.push_view(user, result.json.get("view"))
        if action == "clear":
            self.standin.close_view(user, clear=True)
            return []
        return [f"unknown response_action {action!r}: Slack shows an error, view stays"]


def _unknown_error_keys(errors: JSON, blocks: Iterable[JSON]) -> list[str]:
    """Slack only accepts errors keyed by the block_id of an input block."""
    inputs = {b.get("block_id") for b in blocks if b.get("type") == "input"}
    return [f"errors key {key!r} is not an input block_id" for key in errors if key not in inputs]


def _action_fields(element: JSON, value: str | None, selected_user: str | None, selected_option: Any) -> JSON:
    """The element-specific part of a block_actions action, as Slack sends it."""
    kind = element.get("type")
    if kind == "button":
        return {"text": element.get("text"), "value": value or element.get("value")}
    if kind in ("static_select", "radio_buttons", "overflow"):
        return {"selected_option": _option(element, selected_option)}
    if kind in ("multi_static_select", "checkboxes"):
        return {"selected_options": [_option(element, selected_option)]}
    if kind == "users_select":
        return {"selected_user": selected_user}
    if kind in _FIELDS:
        return {_FIELDS[kind].key: value}
    return {"value": value}


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None
