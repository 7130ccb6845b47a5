"""`postmortem-bot`: run, migrate, remind, export, import, template check, demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import functools
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from prometheus_client import write_to_textfile
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import make_url

from bot import eventloop
from bot.config import ConfigError, LogSettings, Settings, StorageSettings, load_settings
from bot.domain.catalog import Catalog, read_template
from bot.domain.clock import Clock, FixedClock
from bot.domain.export.eval_jsonl import to_eval_jsonl
from bot.domain.export.markdown import to_markdown
from bot.domain.export.yaml_in import IMPORT_LIMIT, ImportFileError, from_yaml, named_template
from bot.domain.export.yaml_out import to_yaml
from bot.domain.template import Template
from bot.domain.yamlfile import FileProblems, read_capped
from handlers.support import scope
from handlers.support.metrics import Metrics
from storage.db import DatabaseUnavailable, open_database
from storage.store import Store

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.app import MeteredApp
    from bot.reminders.scheduler import ReminderTimer
    from bot.slacklink import SlackLink

log = logging.getLogger("postmortem_bot")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_UNLESS_DEBUG = ("alembic", "apscheduler")
"""Libraries whose routine INFO lines ("Context impl ...", "Added job ...") mean nothing to an operator."""


async def _store(
    settings: StorageSettings, *, create: bool = True, clock: Clock | None = None, catalog: Catalog | None = None
) -> Store:
    """Every command works on an up-to-date schema, so a new database needs no separate step.

    ``create=False`` is for export and import: on a database that does not exist they could
    only make an empty one and then say the incident is not there. ``catalog`` is loaded
    before the database is opened, so a broken template stops a command before anything else.
    """
    try:
        engine = await open_database(settings.database_url, create=create, pool_size=settings.database_pool_size)
    except DatabaseUnavailable as exc:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        raise ConfigError(f"{exc} (DATABASE_URL={shown})") from None
    return Store(engine, clock, catalog, settings.link_templates)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _until(stop: asyncio.Event, work: Awaitable[None]) -> None:
    """``work`` until it ends or a signal asks us to stop, whichever comes first."""
    tasks = {asyncio.ensure_future(work), asyncio.ensure_future(stop.wait())}
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def run(_args: argparse.Namespace) -> int:
    from bot.app import web_api_session

    settings = load_settings(Settings)
    store = await _store(settings, catalog=settings.catalog())
    try:
        async with web_api_session() as session:
            await _serve(settings, store, session)
    finally:
        await store.engine.dispose()
    return 0


async def _serve(settings: Settings, store: Store, session: aiohttp.ClientSession) -> None:
    """Slack's requests and the reminder timer, until SIGINT or SIGTERM (or Slack refuses the token)."""
    from bot.app import create_app, create_sweeper, create_workspaces, settle_heap, weekly_post
    from bot.reminders.scheduler import ReminderTimer
    from bot.slacklink import SlackLink

    workspaces = create_workspaces(settings, store, session) if settings.oauth else None
    if workspaces is not None and (rekeyed := await workspaces.installations.rekey()):
        log.info("%d installation(s) encrypted again under the first TOKEN_ENCRYPTION_KEY", rekeyed)
    app = create_app(settings, store, session, workspaces)
    slack = SlackLink(app.client, token=not settings.oauth)
    stop = _stop_on_signals()
    weekly = weekly_post(settings, store, app.client, workspaces)
    sweeper = create_sweeper(settings, store, app.client, session, workspaces)
    timer = ReminderTimer(sweeper, settings.reminder_sweep_minutes, app.metrics, weekly, settings.insights_tz)
    serve = functools.partial(_serving, slack, stop, timer)
    settle_heap()
    if settings.socket_mode:
        port = settings.port if "port" in settings.model_fields_set else None
        await _socket_mode(
            app, settings.slack_app_token or "", slack, stop, serve, _monitoring(app, store, slack, port)
        )
    else:
        await _http(app, store, settings.port, slack, serve)
    if slack.refused:
        raise _token_refused("SLACK_BOT_TOKEN", slack.refused)


async def _serving(slack: SlackLink, stop: asyncio.Event, timer: ReminderTimer) -> None:
    """Once requests can come in: reminders on a timer, and an unreachable Slack asked again."""
    timer.start()
    try:
        await _until(stop, slack.until_up())
        if not slack.refused:
            await stop.wait()
    finally:
        await timer.stop()


def _token_refused(variable: str, error: str) -> ConfigError:
    return ConfigError(f"{variable} was refused by Slack: {error}")


async def _http(
    app: MeteredApp, store: Store, port: int, slack: SlackLink, serve: Callable[[], Awaitable[None]]
) -> None:
    """The port first, then auth.test: neither problem needs the other to be found. An unreachable
    Slack does not stop the bot from serving; /healthz says so until auth.test succeeds."""
    from bot.app import create_web_app

    async with _listening(create_web_app(app, store, slack), port):
        if await slack.check() != "refused":
            log.info("listening on port %s: /slack/events, /healthz, /metrics", port)
            await serve()


@contextlib.asynccontextmanager
async def _listening(web_app: web.Application, port: int) -> AsyncIterator[None]:
    runner = web.AppRunner(web_app)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, "0.0.0.0", port).start()
        except OSError as exc:
            raise ConfigError(f"cannot listen on port {port} (PORT): {_bind_problem(exc)}") from None
        yield
    finally:
        await runner.cleanup()


def _monitoring(
    app: MeteredApp, store: Store, slack: SlackLink, port: int | None
) -> contextlib.AbstractAsyncContextManager[None]:
    """Socket Mode needs no port: ``/healthz`` and ``/metrics`` are served only on a ``PORT`` the operator set."""
    from bot.app import create_monitoring_app

    return _listening(create_monitoring_app(app, store, slack), port) if port else contextlib.nullcontext()


def _bind_problem(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use (is another postmortem-bot running?)"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    return str(exc)


async def _socket_mode(
    app: AsyncApp,
    app_token: str,
    slack: SlackLink,
    stop: asyncio.Event,
    serve: Callable[[], Awaitable[None]],
    monitoring: contextlib.AbstractAsyncContextManager[None],
) -> None:
    """Socket Mode has nothing to serve without Slack: an unreachable one is awaited before connecting."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    await slack.check()
    await _until(stop, slack.until_up())
    if not slack.up:
        return
    try:  # slack_sdk would retry a refused app token forever, a traceback each time
        await app.client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise _token_refused("SLACK_APP_TOKEN", str(exc.response.get("error"))) from None
    handler = AsyncSocketModeHandler(app, app_token)
    await handler.connect_async()
    log.info("connected in Socket Mode")
    try:
        async with monitoring:
            await serve()
    finally:
        await handler.close_async()


async def remind(args: argparse.Namespace) -> int:
    """``--metrics-file``: a process that ends has nothing to scrape, so its metrics go to a file
    for node_exporter's textfile collector, written whole or not at all."""
    from bot.app import create_client, create_sweeper, web_api_session
    from bot.reminders.scheduler import measured_sweep

    settings = load_settings(Settings)
    store = await _store(settings, clock=FixedClock(args.now) if args.now else None, catalog=settings.catalog())
    metrics = Metrics()
    try:
        async with web_api_session() as session:
            sweeper = create_sweeper(settings, store, create_client(settings, session, metrics), session)
            report = await measured_sweep(sweeper, metrics, dry_run=args.dry_run)
    finally:
        await store.engine.dispose()
        if args.metrics_file:
            write_to_textfile(args.metrics_file, metrics.registry)
    if args.dry_run:
        print("\n".join(["recipient\tkind\tpostmortem\tdue\taction", *report.preview]))
    print(report.summary(), file=sys.stderr if args.dry_run else sys.stdout)
    return 0


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def migrate(_args: argparse.Namespace) -> int:
    store = await _store(load_settings(StorageSettings))
    await store.engine.dispose()
    print("database is up to date")
    return 0


async def export(args: argparse.Namespace) -> int:
    """Incident ids are unique per team only: with several teams, ``--team`` says which."""
    settings = load_settings(StorageSettings)
    store = await _store(settings, create=False, catalog=settings.catalog())
    try:
        teams = [args.team] if args.team else await store.incident_teams(args.incident_id)
        record = await store.by_incident(args.incident_id, teams[0]) if len(teams) == 1 else None
        zone = await store.zone_of(record.owner) if record else UTC
    finally:
        await store.engine.dispose()
    if len(teams) > 1:
        print(f"{args.incident_id} is in several teams ({', '.join(teams)}); choose one with --team", file=sys.stderr)
        return 2
    if record is None:
        where = f" in team {args.team}" if args.team else ""
        print(f"no postmortem with incident_id {args.incident_id}{where}", file=sys.stderr)
        return 1
    formats = {
        "yaml": lambda: to_yaml(record.doc),
        "markdown": lambda: to_markdown(record.doc, record.links, zone),
        "eval-jsonl": lambda: to_eval_jsonl(record.doc),
    }
    print(formats[args.format](), end="")
    return 0


def _offered(catalog: Catalog, name: str | None, version: str | None, line: int | None) -> Template | None:
    """The template version a file names, among those on offer (a file naming none: the default);
    None when only the database may still have it."""
    if name is None:
        return catalog.default_template
    if version is None:
        if name not in catalog.current:
            raise _unknown_template(catalog, name, version, line)
        return catalog.get(name)
    return catalog.known(name, version)


def _unknown_template(catalog: Catalog, name: str | None, version: str | None, line: int | None) -> ImportFileError:
    current = catalog.current.get(name or "")
    have = f"its current version is {current.version}" if current else f"templates: {', '.join(catalog.names)}"
    return ImportFileError(line, f"template {name} version {version} is neither on offer nor in the database ({have})")


def _refused(path: Path, exc: ImportFileError) -> int:
    print(f"{path}:{exc}" if exc.line is not None else f"{path}: {exc}", file=sys.stderr)
    return 1


async def import_file(args: argparse.Namespace) -> int:
    """The file is checked before the database is opened; only a template version no file holds
    any more is looked up there."""
    path = Path(args.file)
    settings = load_settings(StorageSettings)
    catalog = settings.catalog()
    try:
        text = read_capped(path, IMPORT_LIMIT)
        name, version, line = named_template(text)
        template = _offered(catalog, name, version, line)
        doc = from_yaml(text, lambda *_: template) if template else None
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: cannot read: {exc}", file=sys.stderr)
        return 1
    except ImportFileError as exc:
        return _refused(path, exc)
    store = await _store(settings, create=False, catalog=catalog)
    try:
        if doc is None:
            stored = await store.stored_template(name or "", version or "")
            try:
                if stored is None:
                    raise _unknown_template(catalog, name, version, line)
                doc = from_yaml(text, lambda *_: stored)
            except ImportFileError as exc:
                return _refused(path, exc)
        if await store.by_channel(args.team, args.channel):
            print(f"channel {args.channel} already has a postmortem; import into another channel", file=sys.stderr)
            return 1
        if doc.incident_id and await store.by_incident(doc.incident_id, args.team):
            print(f"{doc.incident_id} already has a postmortem in team {args.team}", file=sys.stderr)
            return 1
        postmortem_id = await store.import_postmortem(args.team, args.channel, doc, args.user)
    finally:
        await store.engine.dispose()
    print(f"imported {doc.incident_id or path.name} as postmortem {postmortem_id}")
    return 0


async def check_template(args: argparse.Namespace) -> int:
    """``FILE:line: reason`` for every problem of a template file, or ``ok``."""
    try:
        template = read_template(Path(args.file))
    except FileProblems as exc:
        print("\n".join(exc.lines(args.file)), file=sys.stderr)
        return 1
    print(f"ok: {template.name} version {template.version}, {len(template.sections)} sections")
    return 0


async def demo(_args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return await run_demo()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postmortem-bot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('postmortem-bot')}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="serve Slack (Socket Mode if SLACK_APP_TOKEN is set, else HTTP on PORT)")
    commands.add_parser("migrate", help="bring the database schema up to date")
    reminder = commands.add_parser("remind", help="one reminder sweep, then exit (for cron)")
    reminder.add_argument("--dry-run", action="store_true", help="print who would get what; send and claim nothing")
    reminder.add_argument(
        "--metrics-file", help="write the sweep's metrics to this file in Prometheus' format (textfile collector)"
    )
    reminder.add_argument(
        "--now", type=_instant, default=None, help="evaluate at this ISO-8601 instant (default: now; naive = UTC)"
    )
    exporter = commands.add_parser("export", help="print a postmortem as YAML or Markdown")
    exporter.add_argument("incident_id")
    exporter.add_argument("--format", choices=("yaml", "markdown", "eval-jsonl"), default="yaml")
    exporter.add_argument("--team", help="Slack team id, T…; needed when several teams use the incident id")
    importer = commands.add_parser("import", help="load a postmortem exported as section 11 YAML")
    importer.add_argument("file")
    importer.add_argument("--team", required=True, help="Slack team id, T…")
    importer.add_argument("--channel", required=True, help="Slack channel id, C…")
    importer.add_argument("--user", default="import", help="recorded as the creator (default: import)")
    template = commands.add_parser("template", help="work with template files")
    template_commands = template.add_subparsers(dest="template_command", required=True)
    check = template_commands.add_parser("check", help="validate a template file: every problem as FILE:line: reason")
    check.add_argument("file")
    commands.add_parser("demo", help="walk the template's worked example through the app against a local Slack")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], Awaitable[int]]] = {
    "run": run,
    "migrate": migrate,
    "remind": remind,
    "export": export,
    "import": import_file,
    "template": check_template,
    "demo": demo,
}


class JsonLines(logging.Formatter):
    """``LOG_FORMAT=json``: one JSON object per line, for log collectors, with the team, user,
    channel and surface of the Slack request it was logged in, and the ``ref`` of the error
    shown to the user there (``handlers.support.scope``)."""

    def format(self, record: logging.LogRecord) -> str:
        request = scope.current()
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(request.fields() if request else {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _configure_logging(settings: LogSettings) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    level = logging.getLevelNamesMapping()[settings.log_level]
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if level > logging.DEBUG:
        for name in QUIET_UNLESS_DEBUG:
            logging.getLogger(name).setLevel(max(level, logging.WARNING))


def main(argv: list[str] | None = None) -> int:
    """Exit status 2 with one line for what the operator can fix; 1 with one line for the rest."""
    args = _parser().parse_args(argv)
    try:
        _configure_logging(load_settings(LogSettings))
        return eventloop.run(COMMANDS[args.command](args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except Exception as exc:  # the operator gets one line; LOG_LEVEL=DEBUG logs the traceback
        log.debug("postmortem-bot %s failed", args.command, exc_info=True)
        reason = (str(exc).strip().splitlines() or [""])[0]
        print(
            f"postmortem-bot {args.command} failed: {type(exc).__name__}: {reason} (LOG_LEVEL=DEBUG shows where)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
