"""Insights: the figures of weeks of postmortems and actions, `/postmortem insights`, the weekly
post (once, across replicas and a lost answer) with its PNG chart, and a postmortem owner's App Home."""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import example
from bot.app import create_client, weekly_post
from bot.config import ConfigError, Settings, load_settings
from bot.demo import listeners_finished
from bot.domain.clock import FixedClock
from bot.domain.document import CorrectiveAction
from bot.reminders.insights import WeeklyInsights
from bot.reminders.scheduler import WEEKLY_JOB_ID, ReminderTimer, weekly_trigger
from bot.slackdev import SlackDriver, SlackStandin
from bot.slackdev.files import MAX_FILE_BYTES
from handlers.builders.chart import DPI, HEIGHT_IN, WIDTH_IN
from handlers.support.refresh import refresh_card
from storage.db import create_engine
from storage.store import Store
from tests.conftest import BOT_TOKEN

OWNER, BOB, CAROL = example.OWNER, "U0BOB0001", "U0CAROL01"
INSIGHTS = "C0INSIGHT"
ZONE = "Europe/Berlin"
MONDAY_9AM = datetime(2026, 6, 1, 9, tzinfo=ZoneInfo(ZONE))
"""The weekly post's instant (07:00 UTC); the week is the seven days before it."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = [
    "*Postmortems:* 2 started \u00b7 1 finished \u00b7 1 stalled (no edit for 7+ days)",
    "*Corrective actions:* 1 done on time \u00b7 2 overdue \u00b7 1 unowned \u00b7 37.0 days median to close an action",
    f"*Most overdue:* <@{BOB}> 1 \u00b7 <@{CAROL}> 1",
    "*Teams:* @runtime-team 2 \u00b7 @safety 1",
]


def at(day: str, hour: int = 13) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


async def _action(store: Store, postmortem_id: int, owner: str | None, due: str) -> int:
    action = CorrectiveAction(action=f"Fix {due}", kind="other", owner=owner, due=date.fromisoformat(due))
    return await store.save_action(postmortem_id, action, OWNER)


async def _seed(store: Store, standin: SlackStandin, clock: FixedClock, client: AsyncWebClient) -> None:
    """Seven weeks of a workspace, each change at its own instant (see the module's FIGURES):

    - P1, started Apr 20, its last section saved May 27: finished that week; its actions: one
      done on time that week, one done late, two open past their due date;
    - P3, started May 10 and untouched since May 12: stalled, with an action nobody owns
      and one done in two days;
    - P2 and P4, started in the week, not finished.
    """
    team = standin.team_id
    clock.set(at("2026-04-20"))
    p1, _ = await store.open_postmortem(team, "C0P1", OWNER, example.INCIDENT_ID)
    sections = [s for s in p1.template.sections if not s.is_action_list]
    for section in sections[:-1]:
        await store.save_section(p1.id, section.key, example.ANSWERS[section.key], 0, OWNER, p1.template)
    on_time = await _action(store, p1.id, BOB, "2026-05-28")
    late = await _action(store, p1.id, BOB, "2026-05-20")
    await _action(store, p1.id, CAROL, "2026-05-15")
    await _action(store, p1.id, BOB, "2026-05-01")
    await refresh_card(client, store, p1.id)

    clock.set(at("2026-05-10"))
    p3, _ = await store.open_postmortem(team, "C0P3", OWNER, "inc-p3")
    await _action(store, p3.id, None, "2026-07-01")
    quick = await _action(store, p3.id, BOB, "2026-06-30")
    clock.set(at("2026-05-12"))
    await store.complete_action(quick, BOB)
    await refresh_card(client, store, p3.id)

    clock.set(at("2026-05-26"))
    await store.open_postmortem(team, "C0P2", OWNER, "inc-p2")
    clock.set(at("2026-05-27"))
    await store.complete_action(on_time, BOB)
    last = sections[-1]
    await store.save_section(p1.id, last.key, example.ANSWERS[last.key], 0, OWNER, p1.template)
    await refresh_card(client, store, p1.id)
    clock.set(at("2026-05-28"))
    await store.open_postmortem(team, "C0P4", OWNER, "inc-p4")
    clock.set(at("2026-05-29"))
    await store.complete_action(late, BOB)
    standin.add_usergroup("runtime-team", [BOB, CAROL])
    standin.add_usergroup("safety", [CAROL])
    clock.set(MONDAY_9AM)


@pytest.fixture
async def seeded(settings: Settings, store: Store, standin: SlackStandin, clock: FixedClock) -> None:
    for user in (OWNER, BOB, CAROL):
        standin.add_user(user, tz=ZONE)
    await _seed(store, standin, clock, create_client(settings))


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _replica(settings: Settings, store: Store, database_url: str) -> tuple[WeeklyInsights, Store]:
    """Another `run` process: its own engine on the same database, its own Slack client."""
    other = Store(create_engine(database_url), store.clock)
    return WeeklyInsights(other, INSIGHTS, ZONE), other


async def test_insights_answer_only_the_asker_with_the_weeks_figures_and_the_chart_in_their_dm(
    slack: SlackDriver, standin: SlackStandin, seeded: None
) -> None:
    result = await slack.command("insights", user=BOB, channel="C0P2")
    assert result.status == 200 and not result.text  # acked at once, the work after the ack
    await listeners_finished()
    [answer] = standin.responses(result.response_url)
    assert answer["response_type"] == "ephemeral"
    for line in FIGURES:
        assert line in answer["text"], answer["text"]
    [chart] = standin.shared_files(standin.dm_channel(BOB))
    assert chart["data"][:8] == PNG_SIGNATURE
    assert standin.dm_channel(BOB) in answer["text"], "the answer links to the DM with the chart"


async def test_the_weekly_post_is_made_once_by_two_replicas_with_a_png_chart(
    settings: Settings, store: Store, standin: SlackStandin, seeded: None, database_url: str
) -> None:
    first = WeeklyInsights(store, INSIGHTS, ZONE)
    second, other = _replica(settings, store, database_url)
    try:
        outcomes = await asyncio.gather(
            first.post(create_client(settings), standin.team_id),
            second.post(create_client(settings), standin.team_id),
        )
        store.clock.set(MONDAY_9AM + timedelta(minutes=30))  # a restart, or the trigger firing again
        again = await first.post(create_client(settings), standin.team_id)
    finally:
        await other.engine.dispose()
    assert sorted(outcomes) == ["already", "posted"] and again == "already"
    [message] = standin.messages(INSIGHTS)
    for line in FIGURES:
        assert line in message["text"]
    [chart] = standin.shared_files(INSIGHTS)
    assert message["files"][0]["id"] == chart["id"]
    assert _png_size(chart["data"]) == (WIDTH_IN * DPI, HEIGHT_IN * DPI)
    assert len(standin.calls_to("files.getUploadURLExternal")) == 1


async def test_a_lost_answer_to_the_share_is_settled_by_looking_not_by_sharing_again(
    settings: Settings, store: Store, standin: SlackStandin, seeded: None, database_url: str
) -> None:
    standin.drop_next("files.completeUploadExternal")  # shared, but the answer never arrives
    assert await WeeklyInsights(store, INSIGHTS, ZONE).post(create_client(settings), standin.team_id) == "posted"
    second, other = _replica(settings, store, database_url)
    try:
        assert await second.post(create_client(settings), standin.team_id) == "already"
    finally:
        await other.engine.dispose()
    assert len(standin.messages(INSIGHTS)) == 1
    assert len(standin.calls_to("files.completeUploadExternal")) == 1
    assert standin.calls_to("conversations.history"), "the outcome was looked up"


async def test_a_refused_share_leaves_the_week_to_a_later_run(
    settings: Settings, store: Store, standin: SlackStandin, seeded: None
) -> None:
    standin.missing_channels.add(INSIGHTS)
    weekly = WeeklyInsights(store, INSIGHTS, ZONE)
    assert await weekly.post(create_client(settings), standin.team_id) == "failed"
    standin.missing_channels.clear()
    assert await weekly.post(create_client(settings), standin.team_id) == "posted"
    assert len(standin.messages(INSIGHTS)) == 1


@pytest.mark.parametrize(
    ("zone", "mondays"),
    [
        # Berlin's clocks go forward on Sunday Mar 29 and back on Sunday Oct 25, 2026.
        ("Europe/Berlin", [datetime(2026, 3, 23, 8, tzinfo=UTC), datetime(2026, 3, 30, 7, tzinfo=UTC)]),
        ("Europe/Berlin", [datetime(2026, 10, 19, 7, tzinfo=UTC), datetime(2026, 10, 26, 8, tzinfo=UTC)]),
        # New York's go forward on Sunday Mar 8, 2026.
        ("America/New_York", [datetime(2026, 3, 2, 14, tzinfo=UTC), datetime(2026, 3, 9, 13, tzinfo=UTC)]),
    ],
)
def test_the_weekly_trigger_fires_at_nine_local_once_a_week_across_dst(zone: str, mondays: list[datetime]) -> None:
    trigger = weekly_trigger(zone)
    fired, previous = [], None
    now = mondays[0] - timedelta(days=2)
    for _ in mondays:
        previous = trigger.get_next_fire_time(previous, now)
        assert previous is not None
        fired.append(previous.astimezone(UTC))
        now = previous + timedelta(seconds=1)
    assert fired == mondays
    assert all(f.astimezone(ZoneInfo(zone)).hour == 9 for f in fired)


async def test_run_schedules_the_weekly_post_only_with_a_channel(
    settings: Settings, store: Store, standin: SlackStandin
) -> None:
    assert weekly_post(settings, store, create_client(settings)) is None
    configured = settings.model_copy(update={"insights_channel": INSIGHTS, "insights_tz": ZONE})
    post = weekly_post(configured, store, create_client(configured))
    assert post is not None
    timer = ReminderTimer(_NoSweep(), 15, weekly=post, weekly_zone=ZONE)  # type: ignore[arg-type]
    timer.start()
    try:
        job = timer.scheduler.get_job(WEEKLY_JOB_ID)
        assert job is not None and job.coalesce and job.max_instances == 1
        assert job.next_run_time.astimezone(ZoneInfo(ZONE)).strftime("%a %H:%M") == "Mon 09:00"
    finally:
        await timer.stop()


class _NoSweep:
    async def sweep(self) -> object:
        return type("Report", (), {"summary": lambda self: "nothing"})()


async def test_a_postmortem_owners_app_home_shows_the_figures_and_others_do_not(
    settings: Settings, store: Store, slack: SlackDriver, standin: SlackStandin, seeded: None
) -> None:
    await slack.app_home_opened(OWNER)
    home = json.dumps((await standin.wait_until(lambda: standin.home_view(OWNER)))["blocks"], ensure_ascii=False)
    assert "Insights this week" in home
    for line in FIGURES:
        assert json.dumps(line, ensure_ascii=False)[1:-1] in home
    trend = " \u00b7 ".join(["0"] * 7 + ["1", "1", "2", "3", "2"])
    assert f"Overdue actions at each week's end, last 12 weeks: {trend}" in home

    assert "the 12-week chart" not in home, "no weekly post yet"
    await WeeklyInsights(store, INSIGHTS, ZONE).post(create_client(settings), standin.team_id)
    [chart] = standin.shared_files(INSIGHTS)
    await slack.app_home_opened(OWNER)
    await standin.wait_until(lambda: chart["permalink"] in json.dumps(standin.home_view(OWNER)["blocks"]))

    await slack.app_home_opened(CAROL)  # owns actions, no postmortem
    carol = json.dumps((await standin.wait_until(lambda: standin.home_view(CAROL)))["blocks"])
    assert "Insights this week" not in carol


async def test_the_standin_takes_an_upload_as_slack_does_and_refuses_what_slack_refuses(standin: SlackStandin) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=standin.api_url)
    with pytest.raises(SlackApiError, match="missing_argument"):
        await client.files_getUploadURLExternal(filename="chart.png", length=0)
    with pytest.raises(SlackApiError, match="file_upload_size_restricted"):
        await client.files_getUploadURLExternal(filename="chart.png", length=MAX_FILE_BYTES + 1)
    started = await client.files_getUploadURLExternal(filename="chart.png", length=4)
    file_id, url = started["file_id"], started["upload_url"]
    assert url.startswith(standin.url)
    with pytest.raises(SlackApiError, match="file_not_found"):  # nothing uploaded yet
        await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=INSIGHTS)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=b"12345") as too_long:
            assert too_long.status == 413
        async with session.post(url, data=b"1234") as taken:
            assert taken.status == 200 and await taken.text() == "OK - 4"
        async with session.post(url, data=b"1234") as again:
            assert again.status == 404, "an upload URL takes one upload"
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=BOB)
    standin.missing_channels.add("C0GONE")
    with pytest.raises(SlackApiError, match="invalid_channel"):
        await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id="C0GONE")
    done = await client.files_completeUploadExternal(
        files=[{"id": file_id, "title": "Chart"}], channel_id=INSIGHTS, initial_comment="the week"
    )
    assert done["files"][0]["id"] == file_id and done["files"][0]["title"] == "Chart"
    [message] = standin.messages(INSIGHTS)
    assert message["text"] == "the week" and message["files"][0]["id"] == file_id
    with pytest.raises(SlackApiError, match="file_not_found"):  # a file is completed once
        await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=INSIGHTS)
    assert len(standin.messages(INSIGHTS)) == 1


def test_a_bad_insights_setting_is_one_line_naming_it() -> None:
    base = {"slack_bot_token": BOT_TOKEN, "slack_signing_secret": "s", "_env_file": None}
    with pytest.raises(ConfigError, match=r"^configuration error: INSIGHTS_TZ: not a time zone: 'Mars/Olympus'"):
        load_settings(**base, insights_tz="Mars/Olympus")
    with pytest.raises(ConfigError, match=r"^configuration error: INSIGHTS_CHANNEL must be a channel id"):
        load_settings(**base, insights_channel="#incidents")
