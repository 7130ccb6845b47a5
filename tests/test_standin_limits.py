"""The stand-in's rate limits, slow methods and posts to a user id, as Slack has them."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ratelimit import parse_rate_limits
from bot.slackdev import SlackStandin

ALICE = "U0ALICE001"
CHANNEL = "C0INCIDENT"


@pytest.fixture
def client(standin: SlackStandin) -> AsyncWebClient:
    standin.add_user(ALICE, tz="UTC")
    return AsyncWebClient(token=standin.bot_token, base_url=standin.api_url, retry_handlers=[])


async def refused(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_a_call_over_its_methods_limit_is_refused_with_429_and_retry_after(
    standin: SlackStandin, client: AsyncWebClient
) -> None:
    standin.enforce_rate_limits(parse_rate_limits("users.info=2/min,chat.postMessage/channel=1/s"))

    for _ in range(2):
        await client.users_info(user=ALICE)
    third = await refused(client.users_info(user=ALICE))
    assert (third.response.status_code, third.response["error"]) == (429, "ratelimited")
    assert 50 <= int(third.response.headers["Retry-After"]) <= 60, "the minute's window ends in about a minute"
    await client.auth_test()  # another method is not held by users.info's limit

    posted = await client.chat_postMessage(channel=ALICE, text="one")
    again = await refused(client.chat_postMessage(channel=posted["channel"], text="two"))  # the same DM, by its id
    assert (again.response.status_code, again.response.headers["Retry-After"]) == (429, "1")
    await client.chat_postMessage(channel=CHANNEL, text="elsewhere")  # another channel has its own second

    assert [c.status for c in standin.calls_to("users.info")] == [200, 200, 429]
    assert [m["text"] for m in standin.messages(posted["channel"])] == ["one"], "a refused call changes nothing"


async def test_without_limits_the_stand_in_refuses_nothing(standin: SlackStandin, client: AsyncWebClient) -> None:
    for _ in range(120):
        await client.users_info(user=ALICE)
    assert {c.status for c in standin.calls_to("users.info")} == {200}


async def test_posting_to_a_user_id_opens_their_dm_and_answers_with_its_id(
    standin: SlackStandin, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel=ALICE, text="hi")

    assert posted["channel"] == standin.dm_channel(ALICE)
    assert (await client.conversations_open(users=ALICE))["already_open"] is True
    history = await client.conversations_history(channel=posted["channel"])
    assert [m["text"] for m in history["messages"]] == ["hi"]
    for call in (
        client.conversations_history(channel=ALICE),
        client.chat_update(channel=ALICE, ts=posted["ts"], text="edited"),
    ):
        assert (await refused(call)).response["error"] == "channel_not_found", "reading or editing takes the D… id"


async def test_a_slow_method_answers_after_a_quick_one_asked_later(
    standin: SlackStandin, client: AsyncWebClient
) -> None:
    standin.delay("chat.postMessage", 0.3)
    answered: list[str] = []

    async def post() -> None:
        await client.chat_postMessage(channel=CHANNEL, text="slow")
        answered.append("chat.postMessage")

    posting = asyncio.create_task(post())
    await client.auth_test()
    answered.append("auth.test")
    await posting

    assert answered == ["auth.test", "chat.postMessage"]
    assert [m["text"] for m in standin.messages(CHANNEL)] == ["slow"]
