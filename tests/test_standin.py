"""The Slack stand-in and driver themselves: real slack_sdk and slack_bolt against them.

If these drift from Slack's behaviour, every bot test built on them lies, so the
limits, error strings and payload shapes are pinned here.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from bot.slackdev import Signing, SlackDriver, SlackStandin, view_violations

pytestmark = pytest.mark.asyncio

SECRET = "driver-test-signing-secret"
ALICE = "U0ALICE001"
CHANNEL = "C0INCIDENT"


def text(value: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": value}


def option(label: str, value: str) -> dict[str, Any]:
    return {"text": text(label), "value": value}


def section(i: int) -> dict[str, Any]:
    return {"type": "section", "block_id": f"s{i}", "text": {"type": "mrkdwn", "text": f"line {i}"}}


def modal(blocks: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {"type": "modal", "title": text("Postmortem"), "blocks": blocks or [section(0)], **fields}


INCIDENT_MODAL = modal(
    [
        {
            "type": "input",
            "block_id": "summary",
            "label": text("Summary"),
            "element": {"type": "plain_text_input", "action_id": "summary_input", "max_length": 200},
        },
        {
            "type": "input",
            "block_id": "severity",
            "label": text("Severity"),
            "element": {
                "type": "static_select",
                "action_id": "severity_select",
                "options": [option("SEV1", "sev1"), option("SEV2", "sev2")],
                "initial_option": option("SEV2", "sev2"),
            },
        },
        {
            "type": "actions",
            "block_id": "tools",
            "elements": [{"type": "button", "action_id": "add_action", "text": text("Add"), "value": "add"}],
        },
    ],
    callback_id="incident",
    submit=text("Create"),
    notify_on_close=True,
)


class FakeClock:
    """Lets a test age a trigger by 4 s without sleeping 4 s."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def standin(clock: FakeClock) -> AsyncIterator[SlackStandin]:
    async with SlackStandin(clock=clock) as server:
        yield server


@pytest.fixture
async def client(standin: SlackStandin) -> AsyncWebClient:
    return AsyncWebClient(token=standin.bot_token, base_url=standin.api_url, retry_handlers=[])


async def slack_error(call: Any) -> dict[str, Any]:
    """The body of the SlackApiError a Web API call raises."""
    with pytest.raises(SlackApiError) as caught:
        await call
    return dict(caught.value.response.data)


# --------------------------------------------------------------------------
# triggers and views


async def test_views_open_with_a_fresh_trigger_stores_the_view_as_slack_returns_it(
    standin: SlackStandin, client: AsyncWebClient
) -> None:
    response = await client.views_open(trigger_id=standin.issue_trigger(ALICE), view=INCIDENT_MODAL)

    view = response["view"]
    assert view["id"].startswith("V") and view["hash"]
    assert view["root_view_id"] == view["id"] and view["previous_view_id"] is None
    assert view["team_id"] == standin.team_id and view["app_id"] == standin.app_id
    assert view["bot_id"] == standin.bot_id and view["state"] == {"values": {}}
    assert view["callback_id"] == "incident" and view["blocks"][0]["block_id"] == "summary"
    assert standin.current_view(ALICE) == view


async def test_a_trigger_can_be_exchanged_once(standin: SlackStandin, client: AsyncWebClient) -> None:
    trigger_id = standin.issue_trigger(ALICE)
    await client.views_open(trigger_id=trigger_id, view=modal())

    body = await slack_error(client.views_open(trigger_id=trigger_id, view=modal()))

    assert body == {"ok": False, "error": "exchanged_trigger_id"}


async def test_a_trigger_expires_after_three_seconds(
    standin: SlackStandin, client: AsyncWebClient, clock: FakeClock
) -> None:
    trigger_id = standin.issue_trigger(ALICE)
    clock.advance(4)

    body = await slack_error(client.views_open(trigger_id=trigger_id, view=modal()))

    assert body["error"] == "expired_trigger_id"
    assert standin.current_view(ALICE) is None


async def test_an_unknown_trigger_is_invalid(client: AsyncWebClient) -> None:
    body = await slack_error(client.views_open(trigger_id="1.2.abc", view=modal()))

    assert body["error"] == "invalid_trigger_id"


async def test_a_modal_with_101_blocks_is_rejected_naming_the_pointer(
    standin: SlackStandin, client: AsyncWebClient
) -> None:
    view = modal([section(i) for i in range(101)])

    body = await slack_error(client.views_open(trigger_id=standin.issue_trigger(ALICE), view=view))

    assert body["error"] == "invalid_arguments"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"
    ]


async def test_a_25_character_title_is_rejected(standin: SlackStandin, client: AsyncWebClient) -> None:
    view = modal(title=text("x" * 25))

    body = await slack_error(client.views_open(trigger_id=standin.issue_trigger(ALICE), view=view))

    assert body["error"] == "invalid_arguments"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]


async def test_private_metadata_over_3000_characters_is_rejected(standin: SlackStandin, client: AsyncWebClient) -> None:
    view = modal(private_metadata="m" * 3001)

    body = await slack_error(client.views_open(trigger_id=standin.issue_trigger(ALICE), view=view))

    assert body["error"] == "invalid_arguments"
    assert "[json-pointer:/view/private_metadata]" in body["response_metadata"]["messages"][0]


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"submit": text("s" * 25)}, "/view/submit/text"),
        ({"callback_id": "c" * 256}, "/view/callback_id"),
        ({"blocks": [section(0), section(0)]}, "/view/blocks/1/block_id"),
        ({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "t" * 3001}}]}, "/view/blocks/0/text/text"),
        ({"blocks": [{"type": "header", "text": text("h" * 151)}]}, "/view/blocks/0/text/text"),
        (
            {"blocks": [{"type": "section", "fields": [text("f")] * 11}]},
            "/view/blocks/0/fields",
        ),
        (
            {
                "submit": text("Save"),
                "blocks": [
                    {
                        "type": "input",
                        "label": text("Summary"),
                        "element": {
                            "type": "plain_text_input",
                            "action_id": "a",
                            "max_length": 5,
                            "initial_value": "too long",
                        },
                    }
                ],
            },
            "/view/blocks/0/element/initial_value",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "static_select",
                                "action_id": "a",
                                "options": [option("o", str(i)) for i in range(101)],
                            }
                        ],
                    }
                ]
            },
            "/view/blocks/0/elements/0/options",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [{"type": "button", "action_id": "a", "text": text("1")}] * 2,
                    }
                ]
            },
            "/view/blocks/0/elements/1/action_id",
        ),
        ({"blocks": [{"type": "input", "label": text("l"), "element": {"type": "plain_text_input"}}]}, "/view"),
        ({"title": None}, "/view/title"),
    ],
)
async def test_view_limits_name_the_offending_pointer(change: dict[str, Any], pointer: str) -> None:
    problems = view_violations({**modal(), **change}, kind="modal")

    assert len(problems) == 1 and problems[0].endswith(f"[json-pointer:{pointer}]"), problems


async def test_views_update_with_a_stale_hash_conflicts(standin: SlackStandin, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id=standin.issue_trigger(ALICE), view=modal()))["view"]
    updated = (await client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal()))["view"]

    body = await slack_error(client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal()))

    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    assert body["error"] == "hash_conflict"
    missing = await slack_error(client.views_update(view_id="V404", view=modal()))
    assert missing["error"] == "not_found"


async def test_views_push_stops_at_three_views_in_a_stack(standin: SlackStandin, client: AsyncWebClient) -> None:
    root = (await client.views_open(trigger_id=standin.issue_trigger(ALICE), view=modal()))["view"]
    for _ in range(2):
        top = standin.current_view(ALICE)
        await client.views_push(trigger_id=standin.issue_trigger(ALICE, view_id=top["id"]), view=modal())
    trigger_id = standin.issue_trigger(ALICE, view_id=standin.current_view(ALICE)["id"])

    body = await slack_error(client.views_push(trigger_id=trigger_id, view=modal()))

    stack = standin.open_modal_stack(ALICE)
    assert body["error"] == "push_limit_reached"
    assert [v["root_view_id"] for v in stack] == [root["id"]] * 3
    assert [v["previous_view_id"] for v in stack] == [None, stack[0]["id"], stack[1]["id"]]


async def test_views_publish_keeps_one_home_per_user(standin: SlackStandin, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [section(1)]}
    first = (await client.views_publish(user_id=ALICE, view=home))["view"]
    second = (await client.views_publish(user_id=ALICE, view=home, hash=first["hash"]))["view"]

    body = await slack_error(client.views_publish(user_id=ALICE, view=home, hash=first["hash"]))

    assert second["id"] == first["id"] and body["error"] == "hash_conflict"
    assert standin.home_view(ALICE) == second


def emoji_sections(count: int) -> list[dict[str, Any]]:
    """Sections of 3,000 emoji: 36 kB each in the JSON a view travels in, though 12 kB in UTF-8."""
    return [
        {"type": "section", "block_id": f"s{i}", "text": {"type": "mrkdwn", "text": "\U0001f6a8" * 3000}}
        for i in range(count)
    ]


async def test_a_view_over_250_kb_is_view_too_large_wherever_it_is_sent(
    standin: SlackStandin, client: AsyncWebClient
) -> None:
    big, fits = modal(emoji_sections(7)), modal(emoji_sections(6))

    refused = await slack_error(client.views_open(trigger_id=standin.issue_trigger(ALICE), view=big))
    opened = (await client.views_open(trigger_id=standin.issue_trigger(ALICE), view=fits))["view"]
    trigger_id = standin.issue_trigger(ALICE, view_id=opened["id"])
    not_pushed = await slack_error(client.views_push(trigger_id=trigger_id, view=big))
    not_updated = await slack_error(client.views_update(view_id=opened["id"], view=big))
    not_published = await slack_error(
        client.views_publish(user_id=ALICE, view={"type": "home", "blocks": big["blocks"]})
    )

    assert [refused, not_pushed, not_updated, not_published] == [{"ok": False, "error": "view_too_large"}] * 4
    assert standin.open_modal_stack(ALICE) == [standin.view(opened["id"])] and standin.home_view(ALICE) is None
    assert standin.current_view(ALICE)["blocks"] == opened["blocks"]  # type: ignore[index]
    assert standin.replace_view(opened["id"], big) == ["view_too_large: the view is greater than 250kb"]
    assert standin.push_view(ALICE, big) == ["view_too_large: the view is greater than 250kb"]


# --------------------------------------------------------------------------
# messages


async def test_a_message_with_51_blocks_is_invalid_blocks(client: AsyncWebClient) -> None:
    body = await slack_error(client.chat_postMessage(channel=CHANNEL, text="t", blocks=[section(i) for i in range(51)]))

    assert body["error"] == "invalid_blocks"
    assert body["response_metadata"]["messages"] == ["[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]


async def test_input_blocks_and_overlong_text_are_refused_in_messages(client: AsyncWebClient) -> None:
    input_block = {"type": "input", "label": text("l"), "element": {"type": "plain_text_input"}}

    refused = await slack_error(client.chat_postMessage(channel=CHANNEL, text="t", blocks=[input_block]))
    too_long = await slack_error(client.chat_postMessage(channel=CHANNEL, text="x" * 40_001))

    assert refused["error"] == "invalid_blocks" and "/blocks/0/type" in refused["response_metadata"]["messages"][0]
    assert too_long["error"] == "msg_too_long"


async def test_form_encoded_blocks_are_parsed_like_json(standin: SlackStandin, client: AsyncWebClient) -> None:
    form = {"channel": CHANNEL, "text": "fallback", "blocks": json.dumps([section(1)])}

    response = await client.api_call("chat.postMessage", data=form)

    assert response["message"]["blocks"] == [section(1)]
    assert standin.calls_to("chat.postMessage")[0].params["blocks"] == [section(1)]


async def test_chat_update_edits_in_place_and_keeps_ts(standin: SlackStandin, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=CHANNEL, text="draft")
    later = await client.chat_postMessage(channel=CHANNEL, text="later")

    updated = await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="final")
    missing = await slack_error(client.chat_update(channel=CHANNEL, ts="1.000001", text="x"))

    assert updated["ts"] == posted["ts"] and posted["ts"] < later["ts"]
    assert [(m["ts"], m["text"]) for m in standin.messages(CHANNEL)] == [
        (posted["ts"], "final"),
        (later["ts"], "later"),
    ]
    assert missing["error"] == "message_not_found"


async def test_metadata_round_trips_through_history_only_when_asked(client: AsyncWebClient) -> None:
    metadata = {"event_type": "postmortem_created", "event_payload": {"postmortem_id": 7}}
    await client.chat_postMessage(channel=CHANNEL, text="first")
    await client.chat_postMessage(channel=CHANNEL, text="second", metadata=metadata)

    with_metadata = await client.conversations_history(channel=CHANNEL, include_all_metadata=True, limit=1)
    without = await client.conversations_history(channel=CHANNEL)

    assert with_metadata["messages"][0]["metadata"] == metadata and with_metadata["has_more"] is True
    assert [m["text"] for m in without["messages"]] == ["second", "first"]
    assert all("metadata" not in m for m in without["messages"])


async def test_a_thread_reply_is_read_from_its_thread_not_from_history(
    standin: SlackStandin, client: AsyncWebClient
) -> None:
    parent = standin.post_as_user(CHANNEL, ALICE, "incident declared")
    first = standin.post_as_user(CHANNEL, ALICE, "first reply", thread_ts=parent["ts"])
    second = standin.post_as_user(CHANNEL, ALICE, "second reply", thread_ts=parent["ts"])
    alone = standin.post_as_user(CHANNEL, ALICE, "no replies")

    history = await client.conversations_history(channel=CHANNEL)
    thread = await client.conversations_replies(channel=CHANNEL, ts=second["ts"])
    one = await client.conversations_replies(
        channel=CHANNEL, ts=first["ts"], oldest=first["ts"], latest=first["ts"], inclusive=True
    )
    paged = await client.conversations_replies(channel=CHANNEL, ts=parent["ts"], limit=2)
    rest = await client.conversations_replies(
        channel=CHANNEL, ts=parent["ts"], cursor=paged["response_metadata"]["next_cursor"]
    )
    single = await client.conversations_replies(channel=CHANNEL, ts=alone["ts"])
    missing = await slack_error(client.conversations_replies(channel=CHANNEL, ts="1.000001"))

    assert [m["text"] for m in history["messages"]] == ["no replies", "incident declared"]
    assert [m["text"] for m in thread["messages"]] == ["incident declared", "first reply", "second reply"]
    assert [m["text"] for m in one["messages"]] == ["first reply"]
    assert [m["text"] for m in paged["messages"]] == ["incident declared", "first reply"] and paged["has_more"]
    assert [m["text"] for m in rest["messages"]] == ["second reply"] and not rest["has_more"]
    assert [m["text"] for m in single["messages"]] == ["no replies"]
    assert missing["error"] == "thread_not_found"


async def test_ephemerals_and_dms(standin: SlackStandin, client: AsyncWebClient) -> None:
    standin.add_user(ALICE)
    standin.add_user("U0GONE0001", deleted=True)

    opened = await client.conversations_open(users=ALICE)
    gone = await slack_error(client.conversations_open(users="U0GONE0001"))
    ephemeral = await client.chat_postEphemeral(channel=CHANNEL, user=ALICE, text="only you")
    direct = await client.chat_postMessage(channel=ALICE, text="hi")

    assert opened["channel"]["id"] == standin.dm_channel(ALICE) == direct["channel"]
    assert gone["error"] == "user_disabled"
    assert [m["ts"] for m in standin.ephemerals(CHANNEL, ALICE)] == [ephemeral["message_ts"]]
    assert standin.messages(CHANNEL) == []


# --------------------------------------------------------------------------
# users, auth, unknown methods


@pytest.mark.parametrize(
    ("instant", "offset", "label"),
    [
        (datetime(2025, 1, 15, 12, tzinfo=UTC), -18000, "Eastern Standard Time"),
        (datetime(2025, 7, 15, 12, tzinfo=UTC), -14400, "Eastern Daylight Time"),
    ],
)
async def test_users_info_computes_the_offset_for_the_current_instant(
    standin: SlackStandin, client: AsyncWebClient, clock: FakeClock, instant: datetime, offset: int, label: str
) -> None:
    clock.now = instant.timestamp()
    standin.add_user(ALICE, real_name="Alice Example", display_name="alice")

    user = (await client.users_info(user=ALICE))["user"]
    unknown = await slack_error(client.users_info(user="U0NOBODY01"))

    assert (user["tz"], user["tz_offset"], user["tz_label"]) == ("America/New_York", offset, label)
    assert user["real_name"] == "Alice Example" and user["profile"]["display_name"] == "alice"
    assert user["deleted"] is False and unknown["error"] == "user_not_found"


async def test_auth_is_required_and_checked(standin: SlackStandin, client: AsyncWebClient) -> None:
    anonymous = AsyncWebClient(base_url=standin.api_url, retry_handlers=[])
    impostor = AsyncWebClient(token="xoxb-wrong", base_url=standin.api_url, retry_handlers=[])

    assert (await slack_error(anonymous.auth_test()))["error"] == "not_authed"
    assert (await slack_error(impostor.auth_test()))["error"] == "invalid_auth"
    assert (await slack_error(client.api_call("postmortems.explode")))["error"] == "unknown_method"
    assert (await client.auth_test())["bot_id"] == standin.bot_id


# --------------------------------------------------------------------------
# failure injection


async def test_a_429_with_retry_after_is_retried_by_slack_sdk(
    standin: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(builtin_async_handlers, "asyncio", SimpleNamespace(sleep=record_sleep))
    standin.fail_next("chat.postMessage", status=429, retry_after=1)
    client = AsyncWebClient(
        token=standin.bot_token, base_url=standin.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()]
    )

    response = await client.chat_postMessage(channel=CHANNEL, text="eventually")

    first, second = standin.calls_to("chat.postMessage")
    assert (first.status, first.response) == (429, {"ok": False, "error": "ratelimited"})
    assert second.status == 200 and response["ok"] is True
    assert len(slept) == 1 and slept[0] >= 1
    assert [m["text"] for m in standin.messages(CHANNEL)] == ["eventually"]


async def test_fail_next_answers_an_error_without_processing(standin: SlackStandin, client: AsyncWebClient) -> None:
    standin.fail_next("chat.postMessage", error="channel_not_found", times=2)

    for _ in range(2):
        assert (await slack_error(client.chat_postMessage(channel=CHANNEL, text="x")))["error"] == "channel_not_found"
    await client.chat_postMessage(channel=CHANNEL, text="x")

    assert len(standin.messages(CHANNEL)) == 1


async def test_a_dropped_call_raises_but_the_message_is_stored(standin: SlackStandin, client: AsyncWebClient) -> None:
    standin.drop_next("chat.postMessage")

    with pytest.raises(aiohttp.ClientConnectionError):
        await client.chat_postMessage(channel=CHANNEL, text="did it post?")

    assert [m["text"] for m in standin.messages(CHANNEL)] == ["did it post?"]
    assert standin.calls_to("chat.postMessage")[0].dropped is True


async def test_slack_sdks_connection_retry_turns_a_dropped_post_into_a_duplicate(standin: SlackStandin) -> None:
    """Why bots must make posts idempotent: the default retry handler resends."""
    retry = AsyncConnectionErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0.0))
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url, retry_handlers=[retry])
    standin.drop_next("chat.postMessage")

    await client.chat_postMessage(channel=CHANNEL, text="reminder")

    assert [m["text"] for m in standin.messages(CHANNEL)] == ["reminder", "reminder"]


# --------------------------------------------------------------------------
# the driver against a real Bolt app


@dataclass
class Bolt:
    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)


def incident_app(standin: SlackStandin, bodies: list[dict[str, Any]]) -> AsyncApp:
    """A tiny real Bolt app: /postmortem opens the modal; the submission's answer
    depends on the summary typed, so one app exercises every response_action."""
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    app = AsyncApp(signing_secret=SECRET, client=client)

    @app.command("/postmortem")
    async def open_modal(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        # A listener raising within ~10 ms of ack() makes Bolt answer 404 after 3 s.
        with contextlib.suppress(SlackApiError):
            await client.views_open(trigger_id=body["trigger_id"], view=INCIDENT_MODAL)

    @app.view("incident")
    async def submitted(ack: Any, body: dict[str, Any]) -> None:
        bodies.append(body)
        summary = body["view"]["state"]["values"]["summary"]["summary_input"]["value"]
        answers: dict[str, dict[str, Any]] = {
            "short": {"response_action": "errors", "errors": {"summary": "Say a bit more"}},
            "update": {"response_action": "update", "view": modal(title=text("Updated"))},
            "push": {"response_action": "push", "view": modal(title=text("Pushed"))},
            "clear": {"response_action": "clear"},
        }
        await ack(**answers.get(summary, {}))

    @app.view_closed("incident")
    async def closed(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        bodies.append(body)

    @app.action("add_action")
    @app.action("approve")
    async def clicked(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        bodies.append(body)
        if body["container"]["type"] == "message":
            await respond(text="approved", replace_original=False)

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [section(1)]})

    return app


@pytest.fixture
async def bolt(standin: SlackStandin) -> AsyncIterator[Bolt]:
    bodies: list[dict[str, Any]] = []
    runner = web.AppRunner(incident_app(standin, bodies).web_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield Bolt(f"http://{host}:{port}/slack/events", bodies)
    await runner.cleanup()


@pytest.fixture
async def driver(bolt: Bolt, standin: SlackStandin) -> AsyncIterator[SlackDriver]:
    async with SlackDriver(bolt.url, SECRET, standin) as slack:
        yield slack


async def open_incident_modal(driver: SlackDriver, standin: SlackStandin) -> dict[str, Any]:
    result = await driver.command("new", user=ALICE, channel=CHANNEL)
    assert result.status == 200, result.text
    return await standin.wait_until(lambda: standin.current_view(ALICE))


async def test_a_signed_command_is_accepted_and_opens_the_modal(driver: SlackDriver, standin: SlackStandin) -> None:
    view = await open_incident_modal(driver, standin)

    assert view["callback_id"] == "incident"
    assert standin.calls_to("views.open")[0].response["ok"] is True


async def test_a_command_signed_with_the_wrong_secret_is_refused(driver: SlackDriver) -> None:
    result = await driver.command("new", user=ALICE, channel=CHANNEL, signing=Signing(secret="not-the-secret"))

    assert result.status == 401


async def test_a_command_signed_ten_minutes_ago_is_refused(driver: SlackDriver) -> None:
    result = await driver.command("new", user=ALICE, channel=CHANNEL, signing=Signing(offset=-600))

    assert result.status == 401


async def test_a_replayed_command_cannot_exchange_its_trigger_again(driver: SlackDriver, standin: SlackStandin) -> None:
    first = await driver.command("new", user=ALICE, channel=CHANNEL)
    await standin.wait_until(lambda: standin.calls_to("views.open"))

    replay = await driver.command(
        "new", user=ALICE, channel=CHANNEL, trigger_id=first.trigger_id, response_url=first.response_url, retry_num=1
    )
    second = await standin.wait_until(lambda: standin.calls_to("views.open")[1:])

    assert replay.status == 200 and (replay.trigger_id, replay.response_url) == (first.trigger_id, first.response_url)
    assert second[0].response == {"ok": False, "error": "exchanged_trigger_id"}
    assert len(standin.open_modal_stack(ALICE)) == 1


async def test_submission_errors_come_back_and_the_view_stays(driver: SlackDriver, standin: SlackStandin) -> None:
    view = await open_incident_modal(driver, standin)

    result = await driver.submit(view, {"summary_input": "short"}, user=ALICE)

    assert result.status == 200 and result.problems == []
    assert result.errors == {"summary": "Say a bit more"}
    assert result.view is not None and result.view["id"] == view["id"]


async def test_a_submission_carries_slacks_payload(driver: SlackDriver, standin: SlackStandin, bolt: Bolt) -> None:
    view = await open_incident_modal(driver, standin)

    result = await driver.submit(view, {"summary_input": "Agent deleted the staging DB"}, user=ALICE)

    body = bolt.bodies[-1]
    assert body["type"] == "view_submission" and body["user"]["id"] == ALICE
    assert body["team"]["id"] == standin.team_id and body["api_app_id"] == standin.app_id
    assert body["view"]["id"] == view["id"] and body["view"]["hash"] == view["hash"]
    assert body["view"]["state"]["values"] == {
        "summary": {"summary_input": {"type": "plain_text_input", "value": "Agent deleted the staging DB"}},
        "severity": {"severity_select": {"type": "static_select", "selected_option": option("SEV2", "sev2")}},
    }
    assert result.text == "" and result.view is None and standin.open_modal_stack(ALICE) == []


@pytest.mark.parametrize(
    ("summary", "titles"),
    [("update", ["Updated"]), ("push", ["Postmortem", "Pushed"]), ("clear", [])],
)
async def test_response_actions_change_the_stack_as_slack_does(
    driver: SlackDriver, standin: SlackStandin, summary: str, titles: list[str]
) -> None:
    view = await open_incident_modal(driver, standin)

    result = await driver.submit(view, {"summary_input": summary}, user=ALICE)

    assert result.problems == []
    assert [v["title"]["text"] for v in standin.open_modal_stack(ALICE)] == titles
    if summary == "update":
        assert result.view is not None and result.view["id"] == view["id"] and result.view["hash"] != view["hash"]


async def test_fill_gives_each_element_slacks_shape(standin: SlackStandin, client: AsyncWebClient) -> None:
    def ask(block_id: str, element: dict[str, Any]) -> dict[str, Any]:
        return {"type": "input", "block_id": block_id, "label": text("l"), "element": element}

    blocks = [
        ask("b1", {"type": "users_select", "action_id": "owner"}),
        ask("b2", {"type": "datepicker", "action_id": "due"}),
        ask("b3", {"type": "datetimepicker", "action_id": "at"}),
        ask("b4", {"type": "checkboxes", "action_id": "tags", "options": [option("A", "a"), option("B", "b")]}),
        ask("b5", {"type": "number_input", "action_id": "n", "is_decimal_allowed": False}),
        ask("b6", {"type": "plain_text_input", "action_id": "notes", "initial_value": "prefilled"}),
    ]
    view = modal(blocks, submit=text("Save"))
    view = (await client.views_open(trigger_id=standin.issue_trigger(ALICE), view=view))["view"]
    when = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

    async with SlackDriver("http://127.0.0.1:9/unused", SECRET, standin) as driver:
        values = driver.fill(view, {"owner": "U0BOB00001", "due": when.date(), "at": when, "tags": ["b"]})
        with pytest.raises(LookupError):
            driver.fill(view, {"no_such_action": 1})

    assert values == {
        "b1": {"owner": {"type": "users_select", "selected_user": "U0BOB00001"}},
        "b2": {"due": {"type": "datepicker", "selected_date": "2025-03-01"}},
        "b3": {"at": {"type": "datetimepicker", "selected_date_time": int(when.timestamp())}},
        "b4": {"tags": {"type": "checkboxes", "selected_options": [option("B", "b")]}},
        "b5": {"n": {"type": "number_input", "value": None}},
        "b6": {"notes": {"type": "plain_text_input", "value": "prefilled"}},
    }
    assert standin.current_view(ALICE)["state"]["values"] == values


async def test_clicking_in_a_view_sends_block_actions_with_state(
    driver: SlackDriver, standin: SlackStandin, bolt: Bolt
) -> None:
    view = await open_incident_modal(driver, standin)
    driver.fill(view, {"summary_input": "typed so far"})

    result = await driver.click(view, "add_action", user=ALICE)

    body = await standin.wait_until(lambda: [b for b in bolt.bodies if b["type"] == "block_actions"])
    assert result.status == 200 and result.trigger_id == body[0]["trigger_id"]
    assert body[0]["container"] == {"type": "view", "view_id": view["id"]}
    assert body[0]["actions"][0]["action_id"] == "add_action" and body[0]["actions"][0]["value"] == "add"
    assert body[0]["view"]["state"]["values"]["summary"]["summary_input"]["value"] == "typed so far"


async def test_clicking_a_message_button_sends_its_response_url(
    driver: SlackDriver, standin: SlackStandin, client: AsyncWebClient, bolt: Bolt
) -> None:
    button = {"type": "button", "action_id": "approve", "text": text("Approve"), "value": "pm-7"}
    await client.chat_postMessage(channel=CHANNEL, text="approve?", blocks=[{"type": "actions", "elements": [button]}])
    message = standin.messages(CHANNEL)[0]

    await driver.click(message, "approve", user=ALICE)

    body = await standin.wait_until(lambda: [b for b in bolt.bodies if b["type"] == "block_actions"])
    container = body[0]["container"]
    assert container == {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL, "is_ephemeral": False}
    assert body[0]["message"]["ts"] == message["ts"] and body[0]["actions"][0]["value"] == "pm-7"
    responses = await standin.wait_until(lambda: standin.responses(body[0]["response_url"]))
    assert responses[0]["text"] == "approved"


async def test_closing_a_notifying_view_sends_view_closed(
    driver: SlackDriver, standin: SlackStandin, bolt: Bolt
) -> None:
    view = await open_incident_modal(driver, standin)

    result = await driver.close_view(view, user=ALICE)

    assert result is not None and result.status == 200
    assert bolt.bodies[-1]["type"] == "view_closed" and bolt.bodies[-1]["is_cleared"] is False
    assert standin.current_view(ALICE) is None


async def test_app_home_opened_reaches_the_app(driver: SlackDriver, standin: SlackStandin) -> None:
    result = await driver.app_home_opened(ALICE)

    home = await standin.wait_until(lambda: standin.home_view(ALICE))
    assert result.status == 200 and result.event_id
    assert home["type"] == "home"
