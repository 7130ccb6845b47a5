"""Requests at /slack/events are checked before Bolt: forged ones get 401, malformed ones 400.

Raw posts over real HTTP to the real app, signed as Slack signs them (or not): each refusal
is one log line without a traceback, and nothing runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.app import EVENTS_PATH
from bot.slackdev import SlackStandin
from bot.slackdev.driver import sign
from storage.store import Store
from tests.conftest import SIGNING_SECRET

CHANNEL = "C0INCIDENT"
ALICE = "U0ALICE001"
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


def start_command(standin: SlackStandin) -> bytes:
    """A real `/postmortem start`: it would open a modal and store a postmortem if it ran."""
    return urlencode(standin.command_payload("start inc-forged", user=ALICE, channel=CHANNEL)).encode()


def form_payload(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def sign_bytes(timestamp: str, body: bytes, secret: str = SIGNING_SECRET) -> str:
    """``sign`` for a body that is not text: Slack's signature is over the bytes."""
    return "v0=" + hmac.new(secret.encode(), b"v0:%s:%s" % (timestamp.encode(), body), hashlib.sha256).hexdigest()


async def post(app_url: str, body: bytes, headers: dict[str, str], content_type: str = FORM) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(app_url + EVENTS_PATH, data=body, headers={"Content-Type": content_type, **headers}) as response,
    ):
        return response.status


def signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": sign_bytes(timestamp, body)}


def log_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the app logged, without aiohttp's access log (one line for every request)."""
    return [r for r in caplog.records if r.name != "aiohttp.access"]


def now() -> int:
    return int(time.time())


FORGED: dict[str, Any] = {
    "no timestamp": lambda body: {"X-Slack-Signature": sign(SIGNING_SECRET, now(), body.decode())},
    "no signature": lambda body: {"X-Slack-Request-Timestamp": str(now())},
    "timestamp not a number": lambda body: {
        "X-Slack-Request-Timestamp": "yesterday",
        "X-Slack-Signature": sign(SIGNING_SECRET, "yesterday", body.decode()),
    },
    "timestamp with a sign": lambda body: {
        "X-Slack-Request-Timestamp": f"+{now()}",
        "X-Slack-Signature": sign(SIGNING_SECRET, f"+{now()}", body.decode()),
    },
    "timestamp of 400 digits": lambda body: {
        "X-Slack-Request-Timestamp": "9" * 400,
        "X-Slack-Signature": sign(SIGNING_SECRET, "9" * 400, body.decode()),
    },
    "ten minutes old": lambda body: {
        "X-Slack-Request-Timestamp": str(now() - 600),
        "X-Slack-Signature": sign(SIGNING_SECRET, now() - 600, body.decode()),
    },
    "ten minutes ahead": lambda body: {
        "X-Slack-Request-Timestamp": str(now() + 600),
        "X-Slack-Signature": sign(SIGNING_SECRET, now() + 600, body.decode()),
    },
    "another secret": lambda body: {
        "X-Slack-Request-Timestamp": str(now()),
        "X-Slack-Signature": sign("not-the-secret", now(), body.decode()),
    },
    "signature not v0": lambda body: {"X-Slack-Request-Timestamp": str(now()), "X-Slack-Signature": "sha256=abc"},
    "signature not ASCII": lambda body: {
        "X-Slack-Request-Timestamp": str(now()),
        "X-Slack-Signature": "v0=" + "\u00e9" * 64,
    },
}


@pytest.mark.parametrize("forgery", list(FORGED))
async def test_a_forged_request_is_401_with_one_log_line_and_runs_nothing(
    forgery: str, app_url: str, standin: SlackStandin, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = start_command(standin)

    status = await post(app_url, body, FORGED[forgery](body))

    assert status == 401
    (line,) = log_lines(caplog)
    assert line.exc_info is None and "401" in line.getMessage()
    assert standin.calls == [] and await store.by_channel(standin.team_id, CHANNEL) is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload=%7B%22type%22%3A+%22block_actions%22\xff\xfe", FORM),
        (urlencode({"payload": "{not json"}).encode(), FORM),
    ],
    ids=["not UTF-8", "payload not JSON"],
)
async def test_an_unsigned_unreadable_body_is_401_not_400(
    body: bytes, content_type: str, app_url: str, standin: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    """Who sent it comes first: a stranger learns nothing about how the body is read."""
    caplog.set_level(logging.INFO)

    status = await post(app_url, body, {"X-Slack-Request-Timestamp": str(now())}, content_type)

    assert status == 401
    (line,) = log_lines(caplog)
    assert line.exc_info is None
    assert standin.calls == []


VIEW = {
    "id": "V0000001",
    "type": "modal",
    "callback_id": "section",
    "private_metadata": "{}",
    "hash": "1.abc",
    "state": {"values": {}},
}
CONTEXT = {"team": {"id": "T0STANDIN1"}, "user": {"id": ALICE}}
MALFORMED: dict[str, tuple[bytes, str]] = {
    "body not UTF-8": (b"payload=%7B%7D\xff\xfe", FORM),
    "JSON body not UTF-8": (b'{"type": "event_callback", "x": "\xff"}', JSON_TYPE),
    "payload not JSON": (urlencode({"payload": "{not json"}).encode(), FORM),
    "payload a JSON list": (form_payload([{"type": "block_actions"}]), FORM),
    "JSON body a list": (b"[]", JSON_TYPE),
    "JSON body cut short": (b'{"type": "event_callback", "event": {', JSON_TYPE),
    "empty body": (b"", FORM),
    "no type": (form_payload({**CONTEXT, "actions": []}), FORM),
    "type not a string": (json.dumps({"type": ["event_callback"]}).encode(), JSON_TYPE),
    "view_submission without view": (form_payload({"type": "view_submission", **CONTEXT}), FORM),
    "view_submission with a list as view": (form_payload({"type": "view_submission", **CONTEXT, "view": []}), FORM),
    "view_submission with a view without type": (
        form_payload({"type": "view_submission", **CONTEXT, "view": {k: v for k, v in VIEW.items() if k != "type"}}),
        FORM,
    ),
    "block_actions with actions not a list": (
        form_payload({"type": "block_actions", **CONTEXT, "trigger_id": "1.2.3", "actions": "card_edit"}),
        FORM,
    ),
    "block_actions with a string as team": (
        form_payload(
            {
                "type": "block_actions",
                **CONTEXT,
                "team": "T0STANDIN1",
                "trigger_id": "1.2.3",
                "actions": [{"action_id": "card_edit", "block_id": "section-summary", "value": "summary"}],
            }
        ),
        FORM,
    ),
    "event_callback with a string as event": (
        json.dumps({"type": "event_callback", "team_id": "T0STANDIN1", "event_id": "Ev1", "event": "x"}).encode(),
        JSON_TYPE,
    ),
    "event_callback with a string as authorizations": (
        json.dumps(
            {
                "type": "event_callback",
                "team_id": "T0STANDIN1",
                "event_id": "Ev1",
                "event": {"type": "app_home_opened", "user": ALICE},
                "authorizations": "T0STANDIN1",
            }
        ).encode(),
        JSON_TYPE,
    ),
    "url_verification without challenge": (json.dumps({"type": "url_verification"}).encode(), JSON_TYPE),
    "slash command without user": (
        urlencode({"command": "/postmortem", "text": "start", "team_id": "T0STANDIN1", "channel_id": CHANNEL}).encode(),
        FORM,
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_signed_malformed_request_is_400_with_one_log_line_and_runs_nothing(
    case: str, app_url: str, standin: SlackStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body, content_type = MALFORMED[case]

    status = await post(app_url, body, signed(body), content_type)

    assert status == 400
    (line,) = log_lines(caplog)
    assert line.exc_info is None and "400" in line.getMessage()
    assert standin.calls == []


async def test_slacks_unsigned_ssl_check_is_still_answered(app_url: str, standin: SlackStandin) -> None:
    """Slack checks a slash command's TLS setup with an unsigned POST and expects a 200."""
    status = await post(app_url, urlencode({"ssl_check": "1", "token": standin.verification_token}).encode(), {})

    assert status == 200 and standin.calls == []
