"""The operator interface: `postmortem-bot` commands as a shell, cron or a supervisor would run them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import yaml

from bot import example
from bot.app import HEALTH_PATH
from bot.config import NO_MODE
from bot.domain.catalog import builtin
from bot.domain.document import CorrectiveAction, validate_section
from bot.domain.export.yaml_in import MAX_IMPORT_BYTES, from_yaml
from bot.slackdev import SlackStandin
from storage.store import Store

TEMPLATE_EXAMPLE = (Path(__file__).parent / "data" / "section11_example.yaml").read_text()
OPERATOR_VARIABLES = ("SLACK_", "DATABASE_", "REMINDER_", "PORT", "LOG_", "POSTMORTEM_")
T = TypeVar("T")


def _clean_env() -> dict[str, str]:
    """This machine's environment without the bot's own settings, which would leak into the command."""
    return {k: v for k, v in os.environ.items() if not k.startswith(OPERATOR_VARIABLES)}


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**_clean_env(), **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "configuration error: " + NO_MODE),
        (
            {"SLACK_BOT_TOKEN": "not-a-token"},
            "configuration error: SLACK_BOT_TOKEN must be a token starting with xoxb-",
        ),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "configuration error: SLACK_SIGNING_SECRET is required in HTTP mode"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "REMINDER_WORKING_HOURS": "18:00-09:00"},
            "configuration error: REMINDER_WORKING_HOURS: start 18:00 must be before end 09:00",
        ),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PORT": "http"}, "configuration error: PORT:"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": "mysql://db/x"},
            "configuration error: DATABASE_URL: use sqlite:///file.db or postgresql://…, not mysql",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DATABASE_POOL_SIZE": "0"},
            "configuration error: DATABASE_POOL_SIZE:",
        ),
    ],
)
def test_bad_configuration_ends_run_with_one_line_naming_the_variable(
    env: dict[str, str], line: str, tmp_path: Path
) -> None:
    result = cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(line), result.stderr


def test_settings_are_read_from_a_dot_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_SIGNING_SECRET=s\nREMINDER_WORKDAYS=funday\n")
    result = cli("run", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("configuration error: REMINDER_WORKDAYS")


def test_import_then_export_round_trips_the_templates_own_example(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'pm.db'}"}
    source = tmp_path / "inc.yaml"
    source.write_text(TEMPLATE_EXAMPLE)

    assert cli("migrate", env=env).returncode == 0
    imported = cli("import", str(source), "--team", "T1", "--channel", "C1", env=env)
    assert imported.returncode == 0, imported.stderr
    exported = cli("export", "inc-2026-04-09-001", env=env)
    assert exported.returncode == 0, exported.stderr
    assert from_yaml(exported.stdout) == from_yaml(TEMPLATE_EXAMPLE)
    head = yaml.safe_load(exported.stdout)["postmortem"]
    assert list(head)[:7] == [
        "incident_id",
        "severity",
        "owner",
        "active_artifacts",
        "root_cause",
        "corrective_actions",
        "lifecycle_updates",
    ]

    markdown = cli("export", "inc-2026-04-09-001", "--format", "markdown", env=env)
    assert "## 12. What to Do Right Away" in markdown.stdout
    again = cli("import", str(source), "--team", "T1", "--channel", "C2", env=env)
    assert again.returncode == 1 and "inc-2026-04-09-001 already has a postmortem" in again.stderr


def test_a_malformed_file_is_refused_with_its_line_and_reason(tmp_path: Path) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text(TEMPLATE_EXAMPLE.replace("due: 2026-04-13", "due: 2026-02-30"))
    result = cli(
        "import", str(source), "--team", "T1", "--channel", "C1", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"{source}:line 22:") and "date" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_commands_without_slack_settings_check_the_database_url(tmp_path: Path) -> None:
    result = cli("export", "inc-1", env={"DATABASE_URL": "no url at all"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "configuration error: DATABASE_URL: not a database URL: 'no url at all'\n"


def test_migrate_creates_the_schema_in_a_new_database(tmp_path: Path) -> None:
    result = cli("migrate", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"})
    assert result.returncode == 0 and "up to date" in result.stdout
    assert (tmp_path / "new.db").exists()


async def test_remind_dry_run_prints_who_would_get_what_and_claims_nothing(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    record, _ = await store.open_postmortem("T1", "C1", example.OWNER, example.INCIDENT_ID)
    await store.save_section(
        record.id, "summary", validate_section("summary", example.ANSWERS["summary"]), 0, "U1", builtin()
    )
    await store.save_action(record.id, CorrectiveAction(action="Gate on duplicates"), "U1")
    # users.info goes to a closed port: the sweep still plans (in UTC) and says who gets what
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "REMINDER_UNOWNED_GRACE_HOURS": "0",
    }
    later = store.clock.now() + timedelta(hours=2)  # past the unowned grace of the action created now
    result = cli("remind", "--dry-run", "--now", later.isoformat(), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["recipient", "kind", "postmortem", "due", "action"]
    assert lines[1:] == [f"{example.OWNER}\tunowned\t{example.INCIDENT_ID}\tno due date\tGate on duplicates"]
    assert "claimed 0, sent 0" in result.stderr


def test_version_comes_from_the_package_metadata() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"postmortem-bot {importlib.metadata.version('postmortem-bot')}\n"


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT: Input should be 'text' or 'json'"),
    ],
)
def test_a_bad_log_setting_is_a_configuration_error_for_every_command(
    env: dict[str, str], line: str, tmp_path: Path
) -> None:
    result = cli("migrate", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"configuration error: {line}\n"


def test_migrate_keeps_library_chatter_off_the_operators_screen(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
    quiet = cli("migrate", env=env)
    assert quiet.returncode == 0
    assert (quiet.stdout, quiet.stderr) == ("database is up to date\n", "")
    debug = cli("migrate", env={**env, "LOG_LEVEL": "debug"})
    assert "alembic.runtime.migration: Context impl SQLiteImpl." in debug.stderr


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}
    result = cli("migrate", env=env)
    assert result.returncode == 0
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert all(set(entry) == {"time", "level", "logger", "message"} for entry in entries)
    assert {"level": "INFO", "logger": "alembic.runtime.migration", "message": "Context impl SQLiteImpl."} in [
        {k: entry[k] for k in ("level", "logger", "message")} for entry in entries
    ]


def test_a_plain_install_brings_the_postgresql_driver() -> None:
    """The README's `pip install .` with a postgresql:// DATABASE_URL failed: asyncpg was in an extra."""
    requirements = importlib.metadata.requires("postmortem-bot") or []
    assert [r for r in requirements if re.match(r"asyncpg\b", r) and "extra ==" not in r]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgres_urls_as_hosts_hand_them_out_are_accepted(store: Store, database_url: str) -> None:
    await store.import_postmortem("T1", "C1", from_yaml(TEMPLATE_EXAMPLE), "import")
    hosted = database_url.replace("postgresql://", "postgres://", 1) + "?sslmode=disable"
    result = cli("export", example.INCIDENT_ID, env={"DATABASE_URL": hosted})
    assert result.returncode == 0, result.stderr
    assert from_yaml(result.stdout) == from_yaml(TEMPLATE_EXAMPLE)


@pytest.mark.parametrize("command", ["run", "migrate"])
@pytest.mark.parametrize(
    ("url", "line"),
    [
        (
            "postgresql://bot:secret@127.0.0.1:9/postmortems",
            "cannot connect to the database at 127.0.0.1:9: connection refused "
            "(DATABASE_URL=postgresql://bot:***@127.0.0.1:9/postmortems)",
        ),
        (
            "postgresql://bot@db.invalid/postmortems",
            "cannot connect to the database at db.invalid:5432: unknown host db.invalid "
            "(DATABASE_URL=postgresql://bot@db.invalid/postmortems)",
        ),
        (
            "sqlite:///{tmp}/no/such/folder/pm.db",
            "cannot open the database file {tmp}/no/such/folder/pm.db: folder {tmp}/no/such/folder does not exist "
            "(DATABASE_URL=sqlite:///{tmp}/no/such/folder/pm.db)",
        ),
    ],
    ids=["refused", "unknown host", "missing folder"],
)
def test_a_database_out_of_reach_is_one_line_naming_database_url(
    command: str, url: str, line: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": url.format(tmp=tmp_path),
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    result = cli(command, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == line.format(tmp=tmp_path) + "\n"


@pytest.mark.parametrize(
    "command", [["export", "inc-2026-04-09-001"], ["import", "inc.yaml", "--team", "T1", "--channel", "C1"]]
)
def test_export_and_import_without_a_database_say_so_and_create_none(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "inc.yaml").write_text(TEMPLATE_EXAMPLE)
    result = cli(*command, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"no database at {tmp_path / 'postmortem-bot.db'}: `postmortem-bot migrate` creates it "
        "(DATABASE_URL=sqlite:///postmortem-bot.db)\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["inc.yaml"]


def test_migrations_started_at_once_on_a_new_sqlite_file_all_succeed(tmp_path: Path) -> None:
    """Without a lock, one of three died with "table postmortems already exists". Who wins the race
    is up to the scheduler, so it is run several times."""
    for attempt in range(6):
        env = {**_clean_env(), "DATABASE_URL": f"sqlite:///{tmp_path / f'new{attempt}.db'}"}
        processes = [
            subprocess.Popen([sys.executable, "-m", "bot.cli", "migrate"], env=env, stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=120)[1] for p in processes]
        assert [p.returncode for p in processes] == [0] * len(processes), errors


def test_an_unexpected_failure_is_one_line_too(tmp_path: Path) -> None:
    """A database a newer postmortem-bot migrated, after a rollback of the bot."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'pm.db'}"}
    assert cli("migrate", env=env).returncode == 0
    with contextlib.closing(sqlite3.connect(tmp_path / "pm.db")) as db, db:
        db.execute("UPDATE alembic_version SET version_num = '0099_future'")
    result = cli("migrate", env=env)
    assert result.returncode == 1
    assert result.stderr == (
        "postmortem-bot migrate failed: CommandError: Can't locate revision identified by '0099_future' "
        "(LOG_LEVEL=DEBUG shows where)\n"
    )
    assert "Traceback" in cli("migrate", env={**env, "LOG_LEVEL": "DEBUG"}).stderr


async def test_export_asks_for_the_team_when_two_teams_share_an_incident_id(store: Store, database_url: str) -> None:
    doc = from_yaml(TEMPLATE_EXAMPLE)
    for team in ("T2", "T1"):
        await store.import_postmortem(team, "C1", doc, "import")
    env = {"DATABASE_URL": database_url}

    ambiguous = cli("export", example.INCIDENT_ID, env=env)
    assert ambiguous.returncode == 2
    assert ambiguous.stderr == f"{example.INCIDENT_ID} is in several teams (T1, T2); choose one with --team\n"

    chosen = cli("export", example.INCIDENT_ID, "--team", "T2", env=env)
    assert chosen.returncode == 0 and from_yaml(chosen.stdout) == doc

    elsewhere = cli("export", example.INCIDENT_ID, "--team", "T9", env=env)
    assert elsewhere.returncode == 1
    assert elsewhere.stderr == f"no postmortem with incident_id {example.INCIDENT_ID} in team T9\n"


# --- files nobody exported ---------------------------------------------------------------------


def _laughs(levels: int, width: int) -> str:
    """The "billion laughs": each level a list of ``width`` aliases of the one before it."""
    keys = ["severity", "owner", "active_artifacts", "trace_id", "session_id", "bundle_id", "change_id"]
    lines = [
        "postmortem:",
        f"  {keys[0]}: &l0 [{', '.join(['lol'] * width)}]",
        f"  {keys[1]}: &l1 [{', '.join(['*l0'] * width)}]",
    ]
    lines.append(f"  {keys[2]}:")
    for level in range(2, levels):
        lines.append(f"    {keys[level + 1]}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "billion laughs": (_laughs(6, 6), "severity: &l0", "anchors and aliases (&name, *name) are not accepted"),
    "an alias in an otherwise good file": (
        TEMPLATE_EXAMPLE.replace("bundle_id: bundle-2026-04-07-a", "bundle_id: &b bundle-2026-04-07-a").replace(
            "bundle_id: bundle-2026-04-09-b", "bundle_id: *b"
        ),
        "&b",
        "anchors and aliases (&name, *name) are not accepted",
    ),
    "5,000-deep nesting": (
        "postmortem:\n  severity: " + "[" * 5000 + "]" * 5000 + "\n",
        "severity:",
        "nested more than 16 levels deep",
    ),
    "NUL": (
        TEMPLATE_EXAMPLE.replace("incident_id: inc-2026-04-09-001", 'incident_id: "inc-2026-04-09-001\\0"'),
        "incident_id:",
        "character U+0000 is not allowed",
    ),
    "a terminal escape": (
        TEMPLATE_EXAMPLE.replace("owner: platform-operations", 'owner: "\\e[2Jplatform-operations"'),
        'owner: "',
        "character U+001B is not allowed",
    ),
    "NUL in binary": (
        TEMPLATE_EXAMPLE.replace("incident_id: inc-2026-04-09-001", "incident_id: !!binary aW5jAC0x"),
        "incident_id:",
        "binary values (!!binary) are not accepted",
    ),
    "a lone surrogate": (
        TEMPLATE_EXAMPLE.replace("rollout_wave: canary", 'rollout_wave: "canary\\uD800"'),
        "rollout_wave:",
        "character U+D800 is not allowed",
    ),
}


@pytest.mark.parametrize(("text", "fragment", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_hostile_file_is_refused_in_one_line_and_nothing_is_stored(
    text: str, fragment: str, reason: str, store: Store, database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "hostile.yaml"
    source.write_text(text)
    result = cli("import", str(source), "--team", "T1", "--channel", "C1", env={"DATABASE_URL": database_url})
    line = next(n for n, content in enumerate(text.splitlines(), start=1) if fragment in content)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{source}:line {line}: {reason}") and result.stderr.count("\n") == 1
    assert await store.by_channel("T1", "C1") is None


async def test_a_file_over_the_size_cap_is_refused_unread(store: Store, database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "huge.yaml"
    source.write_text(TEMPLATE_EXAMPLE + "# " + "x" * MAX_IMPORT_BYTES + "\n")
    result = cli("import", str(source), "--team", "T1", "--channel", "C1", env={"DATABASE_URL": database_url})
    assert result.returncode == 1
    assert result.stderr == f"{source}: larger than 1 MiB, the import limit (an exported postmortem is a few KiB)\n"
    assert await store.by_channel("T1", "C1") is None


# --- run: Slack's answer to auth.test, the port, /healthz ----------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_env(tmp_path: Path, api_url: str, token: str, **more: str) -> dict[str, str]:
    return {
        **_clean_env(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'pm.db'}",
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": api_url,
        "PORT": str(_free_port()),
        **more,
    }


async def _run(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def _exit(process: asyncio.subprocess.Process, *, stop: bool = False) -> str:
    """Its standard error once it has exited, on its own or (``stop``) after SIGTERM; a process
    that would not end is killed rather than left running after the test."""
    if stop and process.returncode is None:
        process.terminate()
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return stderr.decode()


async def _health(port: str) -> tuple[int, dict[str, Any]] | None:
    """/healthz's status and body; None while nothing listens yet."""
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{HEALTH_PATH}") as response:
            return response.status, await response.json()
    except aiohttp.ClientConnectionError:
        return None


async def _until(probe: Callable[[], Awaitable[T | None]], wanted: Callable[[T], bool] = bool) -> T:
    """Poll ``probe`` until it answers what is ``wanted``; the deadline is for a loaded machine."""
    deadline = asyncio.get_running_loop().time() + 60
    while (answer := await probe()) is None or not wanted(answer):
        assert asyncio.get_running_loop().time() < deadline, f"still {answer!r}"
        await asyncio.sleep(0.1)
    return answer


@pytest.mark.parametrize(
    ("wrong_token", "error"), [(True, "invalid_auth"), (False, "token_revoked"), (False, "account_inactive")]
)
async def test_a_token_slack_refuses_ends_run_with_one_line(
    wrong_token: bool, error: str, standin: SlackStandin, tmp_path: Path
) -> None:
    if not wrong_token:
        standin.fail_next("auth.test", error=error)
    token = "xoxb-not-this-one" if wrong_token else standin.bot_token
    process = await _run(_run_env(tmp_path, standin.api_url, token))
    stderr = await _exit(process)
    assert process.returncode == 2
    assert stderr == f"SLACK_BOT_TOKEN was refused by Slack: {error}\n"


async def test_run_serves_while_slack_is_unreachable_and_healthz_says_so(tmp_path: Path) -> None:
    slack_port = _free_port()
    env = _run_env(tmp_path, f"http://127.0.0.1:{slack_port}/api/", "xoxb-run")
    process = await _run(env)
    try:
        unreachable = await _until(lambda: _health(env["PORT"]))
        assert unreachable == (503, {"ok": False, "database": "up", "slack": "unreachable"})
        async with SlackStandin(bot_token="xoxb-run", port=slack_port):
            up = await _until(lambda: _health(env["PORT"]), lambda health: health[0] == 200)
            assert up == (200, {"ok": True, "database": "up", "slack": "up"})
    finally:
        stderr = await _exit(process, stop=True)
    assert process.returncode == 0, stderr
    assert f"Slack is unreachable at http://127.0.0.1:{slack_port}/api/ (Cannot connect" in stderr
    assert "auth.test again in 1 s (retry 1)" in stderr
    assert f"Slack answers at http://127.0.0.1:{slack_port}/api/ again" in stderr
    assert "apscheduler" not in stderr


async def test_a_slack_server_error_at_start_is_asked_again(standin: SlackStandin, tmp_path: Path) -> None:
    standin.fail_next("auth.test", status=503)
    env = _run_env(tmp_path, standin.api_url, standin.bot_token)
    process = await _run(env)
    try:
        up = await _until(lambda: _health(env["PORT"]), lambda health: health[0] == 200)
        assert up == (200, {"ok": True, "database": "up", "slack": "up"})
    finally:
        stderr = await _exit(process, stop=True)
    assert "(HTTP 503, fatal_error); auth.test again in 1 s (retry 1)" in stderr
    assert [call.status for call in standin.calls_to("auth.test")] == [503, 200]


async def test_a_token_refused_once_slack_is_back_ends_run(tmp_path: Path) -> None:
    slack_port = _free_port()
    env = _run_env(tmp_path, f"http://127.0.0.1:{slack_port}/api/", "xoxb-run")
    process = await _run(env)
    try:
        await _until(lambda: _health(env["PORT"]))
        async with SlackStandin(bot_token="xoxb-another-app", port=slack_port):
            stderr = await _exit(process)
    finally:
        await _exit(process, stop=True)
    assert process.returncode == 2
    assert stderr.splitlines()[-1] == "SLACK_BOT_TOKEN was refused by Slack: invalid_auth"


async def test_a_port_in_use_is_one_line_naming_port(standin: SlackStandin, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await _run(_run_env(tmp_path, standin.api_url, standin.bot_token, PORT=str(port)))
        stderr = await _exit(process)
    assert process.returncode == 2
    assert (
        stderr == f"cannot listen on port {port} (PORT): address already in use (is another postmortem-bot running?)\n"
    )


async def test_an_app_token_slack_refuses_ends_socket_mode_with_one_line(standin: SlackStandin, tmp_path: Path) -> None:
    env = _run_env(tmp_path, standin.api_url, standin.bot_token, SLACK_APP_TOKEN="xapp-not-this-one")
    del env["SLACK_SIGNING_SECRET"]
    process = await _run(env)
    stderr = await _exit(process)
    assert process.returncode == 2
    assert stderr == "SLACK_APP_TOKEN was refused by Slack: invalid_auth\n"
