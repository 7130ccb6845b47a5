"""The Slack Web API methods the bot calls, and the workspace state they keep.

Users and their DMs, channel messages and ephemerals, trigger_ids, views and each user's
modal stack and Home tab: kept as Slack keeps them, so that a method answers as Slack
would (``user_not_found``, ``expired_trigger_id``, ``hash_conflict``, ...), and read back
by tests through the accessors below.
"""

from __future__ import annotations

import base64
import copy
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.slackdev.limits import (
    MAX_VIEW_STACK,
    TRIGGER_TTL_SECONDS,
    check_message,
    check_view,
    iter_elements,
    response_action_problems,
)
from bot.slackdev.wire import JSON, ApiError, invalid_arguments

Clock = Callable[[], float]

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


@dataclass
class _Trigger:
    """A trigger_id Slack minted: for whom, when, from which view, and whether it was exchanged."""

    user_id: str
    issued_at: float
    view_id: str | None
    used: bool = False


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


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


class WebApi:
    """The Web API of one workspace with the app installed: each method's handler
    (``_methods``, by name) and the state they share.

    A part of ``SlackStandin``, which serves the handlers over HTTP after checking the
    caller's token, and names the workspace and the clock: the attributes declared here.
    """

    team_id: str
    team_domain: str
    team_name: str
    app_id: str
    bot_id: str
    bot_user_id: str
    clock: Clock
    team_of_channel: Callable[[str], str]
    """The workspace a channel belongs to (``bot.slackdev.workspaces``): the only one whose token sees it."""

    def __init__(self) -> None:
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
        self._methods: dict[str, Callable[[JSON], JSON]] = {
            "auth.test": self._auth_test,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
            "chat.getPermalink": self._chat_get_permalink,
        }

    # ---- test-side accessors ----------------------------------------------

    def issue_trigger(self, user_id: str, *, view_id: str | None = None) -> str:
        """Mint a trigger_id as Slack does for an interaction by ``user_id``
        (inside view ``view_id`` when the interaction happened in a modal)."""
        now = self.clock()
        trigger_id = f"{next(self._ids)}.{int(now)}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(user_id, now, view_id)
        return trigger_id

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
        team_id: str | None = None,
    ) -> JSON:
        """A person of ``team_id`` (the stand-in's own workspace unless named)."""
        ZoneInfo(tz)  # fail at setup, not inside users.info, on a bad zone name
        name = name or user_id.lower()
        self._users[user_id] = raw = {
            "id": user_id,
            "team_id": team_id or self.team_id,
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

    def _users_info(self, params: JSON) -> JSON:
        user = self.user(params.get("user", ""))
        if user is None or user["team_id"] != self.team_id:
            raise ApiError("user_not_found")
        return {"user": user}

    def _ours(self, user_id: str) -> bool:
        """A person of the calling workspace: the only people its token can reach."""
        return user_id in self._users and self._users[user_id]["team_id"] == self.team_id

    def _conversations_open(self, params: JSON) -> JSON:
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            raise ApiError("users_list_not_supplied")
        for user_id in users:
            if not self._ours(user_id):
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

    def _conversations_replies(self, params: JSON) -> JSON:
        """The thread of ``ts`` (its parent, or any message in it; an unthreaded message is a thread of
        one), oldest first, within oldest/latest/inclusive; ``thread_not_found`` for no such message."""
        channel = self._channel(params)
        ts = str(params.get("ts") or "")
        messages = self._messages.get(channel, [])
        named = next((m for m in messages if m["ts"] == ts), None)
        if named is None:
            raise ApiError("thread_not_found")
        parent = named.get("thread_ts", ts)
        after = base64.b64decode(params.get("cursor") or "").decode().removeprefix("next_ts:") or "0"
        window = _Window.from_params({k: v for k, v in params.items() if k != "cursor"})
        found = [
            m
            for m in messages
            if m.get("thread_ts", m["ts"]) == parent and window.contains(m["ts"]) and _ts_key(m["ts"]) > _ts_key(after)
        ]
        limit = int(params.get("limit") or 1000)
        page = copy.deepcopy(found[:limit])
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
            if not self._ours(channel) or not user_id_opens_dm:
                raise ApiError("channel_not_found")
            self._open_dms.add(self.dm_channel(channel))
            return self.dm_channel(channel)
        if self._channel_team(channel) != self.team_id:
            raise ApiError("channel_not_found")
        return channel

    def _channel_team(self, channel: str) -> str:
        """A DM is its person's workspace's; any other channel, the workspace that holds it."""
        person = self._users.get(channel[1:]) if channel.startswith("D") else None
        return person["team_id"] if person else self.team_of_channel(channel)

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
        message = self._post_file_message(channel, self._checked_message(params))
        return {"channel": channel, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _post_file_message(self, channel: str, content: JSON) -> JSON:
        """The app's message in ``channel`` (a D… id for a DM): posted, or a file shared (``files``)."""
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
        return message

    def _chat_update(self, params: JSON) -> JSON:
        channel = self._channel(params)
        ts = params.get("ts")
        message = next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)
        if message is None:
            raise ApiError("message_not_found")
        content = self._checked_message(params)
        message.update(content, edited={"user": self.bot_user_id, "ts": self._next_ts(channel)})
        return {"channel": channel, "ts": ts, "text": message["text"], "message": copy.deepcopy(message)}

    def post_as_user(self, channel: str, user: str, text: str, *, thread_ts: str | None = None, **extra: Any) -> JSON:
        """A person posts in ``channel`` (in a thread when ``thread_ts`` is given); ``extra``: e.g. ``files``."""
        message = {"type": "message", "user": user, "team": self.team_id, "text": text, **extra}
        message["ts"] = self._next_ts(channel)
        if thread_ts:
            message["thread_ts"] = thread_ts
        self._messages.setdefault(channel, []).append(message)
        return {**copy.deepcopy(message), "channel": channel}

    def _stored(self, channel: str, ts: str) -> JSON:
        message = next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)
        if message is None:
            raise ApiError("message_not_found")
        return message

    def edit_as_user(self, channel: str, ts: str, text: str) -> tuple[JSON, JSON]:
        """The author edits a message: (before, after), as a ``message_changed`` event carries them."""
        message = self._stored(channel, ts)
        before = copy.deepcopy(message)
        message.update(text=text, edited={"user": message["user"], "ts": self._next_ts(channel)})
        return before, copy.deepcopy(message)

    def delete_as_user(self, channel: str, ts: str) -> JSON:
        """The author deletes a message; returns it as it was."""
        message = self._stored(channel, ts)
        self._messages[channel].remove(message)
        return message

    def _chat_get_permalink(self, params: JSON) -> JSON:
        """Slack's permalink: ``p`` and the ts without its dot; a reply also names its thread."""
        channel = self._channel(params)
        message = self._stored(channel, str(params.get("message_ts") or ""))
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{message['ts'].replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

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
