"""`GET /metrics`: what an operator's Prometheus sees after people used the bot.

A guided walk through the real app over signed HTTP, against the stand-in, then a scrape:
each counter moved by what the walk did, the action gauges count what the database holds.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot import example
from bot.app import EVENTS_PATH, METRICS_PATH, MeteredApp, create_sweeper
from bot.config import Settings
from bot.demo import Walkthrough, metadata
from bot.domain.document import CorrectiveAction
from bot.reminders.scheduler import ReminderTimer
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.card import CARD_EDIT
from handlers.builders.modals import SectionMeta
from handlers.support.metadata import metadata_key
from storage.store import Store
from storage.totals import totals_query
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.plans import sqlite_plan
from tests.test_cli import _clean_env, _exit, _health, _run, _run_env, _until

CHANNEL = "C0INCIDENT"
ALICE, BOB = example.OWNER, example.SAFETY_LEAD
DASHBOARD = Path(__file__).parent.parent / "docs" / "grafana-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
"""The series a family of each type has, even before its first sample."""
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape_text(app_url: str) -> str:
    """Unsigned, as Prometheus asks."""
    async with aiohttp.ClientSession() as session, session.get(app_url + METRICS_PATH) as response:
        assert response.status == 200 and response.content_type == "text/plain"
        return await response.text()


async def scrape(app_url: str) -> Samples:
    return samples_of(await scrape_text(app_url))


def samples_of(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get(("postmortem_bot_" + name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def card(standin: SlackStandin) -> dict:
    (message,) = standin.messages(CHANNEL)
    return message


async def test_a_guided_walk_moves_the_counters(
    app_url: str, app: MeteredApp, slack: SlackDriver, standin: SlackStandin
) -> None:
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    before = await scrape(app_url)

    standin.fail_next("views.open", status=429, retry_after=1)
    await walk.start("inc-m1")
    started = await scrape(app_url)
    assert moved(before, started, "requests_total", surface="command", outcome="ok") == 1
    assert moved(before, started, "ack_seconds_count", surface="command") == 1
    assert moved(before, started, "slack_ratelimited_total", method="views.open") == 1
    assert moved(before, started, "slack_retry_after_seconds_total", method="views.open") == 1
    assert moved(before, started, "slack_calls_total", method="views.open", outcome="ok") == 1
    assert moved(before, started, "slack_calls_total", method="chat.postMessage", outcome="ok") == 1

    await walk.save({**example.ANSWERS["summary"], "incident_id": "inc-m1"})
    await walk.save(example.ANSWERS["what_happened"])
    saved = await scrape(app_url)
    assert moved(started, saved, "requests_total", surface="view_submission", outcome="ok") == 2

    section = await open_section(slack, standin, "corrective_actions")
    await walk.add_action(example.ACTIONS[0])
    added = await scrape(app_url)
    assert section["title"]["text"] == "8/10 Actions"
    assert moved(saved, added, "requests_total", surface="block_actions", outcome="ok") == 2  # Edit, Add
    assert moved(saved, added, "requests_total", surface="view_submission", outcome="ok") == 1
    assert value(added, "actions_open") == 1 and value(added, "actions_overdue") == 1  # due in April 2026

    shown = await a_broken_form_is_submitted(slack, standin, walk.view())
    text = await scrape_text(app_url)
    failed = await scrape(app_url)
    assert moved(added, failed, "errors_total", surface="view_submission") == 1
    assert value(failed, "errors_total", surface="block_actions") == 0
    for secret in (BOT_TOKEN, SIGNING_SECRET, shown, ALICE, CHANNEL, standin.team_id, "inc-m1"):
        assert secret not in text, f"{secret} is in /metrics"


async def test_forged_and_malformed_requests_are_counted_apart(app_url: str, slack: SlackDriver) -> None:
    """A run of 401s is what a wrong SLACK_SIGNING_SECRET looks like from Prometheus."""
    before = await scrape(app_url)
    async with aiohttp.ClientSession() as session:
        headers = {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=" + "0" * 64}
        async with session.post(app_url + EVENTS_PATH, data="command=%2Fpostmortem", headers=headers) as response:
            assert response.status == 401
    after = await scrape(app_url)
    assert moved(before, after, "requests_refused_total", status="401") == 1
    assert moved(before, after, "requests_total", surface="command", outcome="ok") == 0


async def test_the_action_gauges_count_what_the_database_holds(
    app_url: str, store: Store, standin: SlackStandin
) -> None:
    today = store.clock.now().date()
    record, _ = await store.open_postmortem(standin.team_id, CHANNEL, ALICE, "inc-m2")
    other, _ = await store.open_postmortem(standin.team_id, "C0OTHER01", BOB, "inc-m3")
    seeded = [
        (record.id, BOB, today - timedelta(days=1)),  # overdue
        (record.id, None, today + timedelta(days=9)),  # unowned
        (record.id, "platform team", today - timedelta(days=30)),  # overdue, and no Slack user: unowned
        (other.id, ALICE, today),  # due today: open, not overdue
        (other.id, BOB, None),
    ]
    ids = [
        await store.save_action(pid, CorrectiveAction(action=f"A{n}", kind="other", owner=o, due=d), ALICE)
        for n, (pid, o, d) in enumerate(seeded)
    ]
    assert await store.complete_action(ids[0], BOB)
    samples = await scrape(app_url)
    assert (value(samples, "actions_open"), value(samples, "actions_overdue"), value(samples, "actions_unowned")) == (
        4,
        1,
        2,
    )
    await store.keep_answer(ALICE, None, gone=True)
    assert value(await scrape(app_url), "actions_unowned") == 3, "a departed owner's action needs an owner"


async def test_a_sweep_is_counted(
    app_url: str, app: MeteredApp, settings: Settings, store: Store, standin: SlackStandin, working_zone: str
) -> None:
    for user in (ALICE, BOB):
        standin.add_user(user, tz=working_zone)
    record, _ = await store.open_postmortem(standin.team_id, CHANNEL, ALICE, "inc-m4")
    for owner in (BOB, BOB, None):
        action = CorrectiveAction(action="Fix", kind="other", owner=owner, due=date(2026, 4, 1))
        await store.save_action(record.id, action, ALICE)
    every_day = settings.model_copy(update={"reminder_workdays": "mon-sun"})
    planned = (await create_sweeper(every_day, store).sweep(dry_run=True)).planned
    before = await scrape(app_url)

    timer = ReminderTimer(create_sweeper(every_day, store, app.client), 15, app.metrics)
    timer.start()
    try:
        await standin.wait_until(lambda: len(standin.calls_to("chat.postMessage")) == 2)
    finally:
        await timer.stop()
    after = await scrape(app_url)
    assert planned >= 3  # Bob's two overdue actions (escalated to Alice too), Alice told of the unowned one
    assert moved(before, after, "sweep_seconds_count") == 1
    assert moved(before, after, "reminders_planned_total") == planned
    assert moved(before, after, "reminders_claimed_total") == planned
    assert moved(before, after, "reminder_dms_sent_total") == 2
    assert moved(before, after, "reminders_failed_total") == moved(before, after, "reminders_unknown_total") == 0
    assert moved(before, after, "slack_calls_total", method="chat.postMessage", outcome="ok") == 2


async def test_the_dashboard_uses_only_exported_metrics(app_url: str) -> None:
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families(await scrape_text(app_url))
        for suffix in SUFFIXES.get(family.type, ("",))
    }
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exprs = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    used = {name for expr in exprs for name in re.findall(r"\bpostmortem_bot_[a-z_]+", expr)}
    assert exprs and used and used <= exported, used - exported


async def open_section(slack: SlackDriver, standin: SlackStandin, section: str) -> dict:
    before = standin.current_view(ALICE)
    await slack.click(card(standin), CARD_EDIT, user=ALICE, block_id=f"section-{section}")
    return await standin.wait_until(lambda: (v := standin.current_view(ALICE)) and v != before and v)


async def a_broken_form_is_submitted(slack: SlackDriver, standin: SlackStandin, view: dict) -> str:
    """A section form whose metadata names no section: the handler fails and shows a ref."""
    kept = {k: view[k] for k in ("type", "callback_id", "title", "submit", "close", "blocks")}
    meta = SectionMeta(**{**metadata(view), "section": "no-such"}).keyed(metadata_key(SIGNING_SECRET)).dump()
    assert standin.replace_view(view["id"], {**kept, "private_metadata": meta}) == []
    result = await slack.submit(standin.view(view["id"]), user=ALICE)
    assert result.view is not None and result.view["title"]["text"] == "Not saved"
    text = json.dumps(result.view["blocks"])
    return text.split("ref `", 1)[1].split("`", 1)[0]


async def test_socket_mode_serves_metrics_and_health_on_the_port_set(standin: SlackStandin, tmp_path: Path) -> None:
    """Socket Mode takes Slack's requests over the WebSocket: the port has no /slack/events."""
    env = _run_env(tmp_path, standin.api_url, standin.bot_token, SLACK_APP_TOKEN=standin.app_token)
    del env["SLACK_SIGNING_SECRET"]
    process = await _run(env)
    try:
        assert await _until(lambda: _health(env["PORT"])) == (200, {"ok": True, "database": "up", "slack": "up"})
        url = f"http://127.0.0.1:{env['PORT']}"
        text = await scrape_text(url)
        async with aiohttp.ClientSession() as session, session.post(url + EVENTS_PATH, data="{}") as response:
            assert response.status in (404, 405)
    finally:
        await _exit(process, stop=True)
    assert "postmortem_bot_actions_open 0.0" in text


async def test_remind_writes_its_metrics_for_the_textfile_collector(
    store: Store, database_url: str, standin: SlackStandin, working_zone: str, tmp_path: Path
) -> None:
    """A cron job's process ends before anything could scrape it: node_exporter reads the file."""
    for user in (ALICE, BOB):
        standin.add_user(user, tz=working_zone)
    record, _ = await store.open_postmortem(standin.team_id, CHANNEL, ALICE, "inc-m5")
    await store.save_action(record.id, CorrectiveAction(action="Fix", owner=BOB, due=date(2026, 4, 1)), ALICE)
    env = {
        **_clean_env(),
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": standin.bot_token,
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": standin.api_url,
        "REMINDER_WORKDAYS": "mon-sun",
    }
    path = tmp_path / "postmortem_bot.prom"
    now = store.clock.now().isoformat()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.cli", "remind", "--now", now, "--metrics-file", str(path)),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    samples = samples_of(path.read_text())
    assert "planned 2, claimed 2, sent 2 DM(s)" in stdout.decode()  # Bob's, and Alice's escalation
    assert value(samples, "sweep_seconds_count") == 1
    assert value(samples, "reminders_planned_total") == value(samples, "reminders_claimed_total") == 2
    assert value(samples, "reminder_dms_sent_total") == len(standin.calls_to("chat.postMessage")) == 2
    assert value(samples, "slack_calls_total", method="chat.postMessage", outcome="ok") == 2


async def test_a_scrape_counts_the_actions_from_indexes_without_reading_every_open_action(store: Store) -> None:
    """A scrape comes every few seconds: counting over the open actions' rows held SQLite's one
    connection for 1.4 s at 500,000 open actions, and every request waited behind it."""
    plan = await sqlite_plan(store, totals_query(date(2026, 5, 5)))
    reads = [step for step in plan if "corrective_actions" in step]
    assert len(reads) == 4 and all(step.startswith("SEARCH corrective_actions USING") for step in reads), plan
    assert sum("COVERING INDEX ix_corrective_actions_open" in step for step in reads) == 2, plan
