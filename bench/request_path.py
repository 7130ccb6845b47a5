"""Latency of the bot's HTTP request path as Slack sees it, beside a do-nothing Bolt app.

Slack waits at most 3 seconds for the HTTP answer (the ack) to a slash command or a
view submission, and a ``trigger_id`` must be exchanged by ``views.open`` within 3
seconds of the command. This script measures, from the moment a signed request is sent
to the moment its HTTP answer arrives:

* ``/postmortem start inc-N`` in N different channels: the ack, the time until
  ``views.open`` reached the Slack stand-in (the trigger_id budget) and the time until
  the channel card was posted (the end of the command's background work);
* "Save & next" on section 1 (a ``view_submission``): the ack, which carries the next
  section's modal after validation and the optimistic save, and the time until the card
  edit (``chat.update``) reached the stand-in.

The BASELINE is a minimal slack_bolt ``AsyncApp`` on the same aiohttp server stack whose
``/postmortem`` listener acks and opens a static modal (the section 1 modal, rendered once)
with ``views.open``, and whose view listener only acks with ``response_action: update`` of a
static view (the section 2 modal, rendered once); no database. Both apps are driven by
the same ``SlackDriver`` in the same run, phase by phase (baseline, then product), so the
baseline shows what Bolt, aiohttp, signature checks and the loopback round trip cost by
themselves, and the difference is the bot.

Each app runs in its own child process (as it would in production), both on the event loop
``postmortem-bot run`` runs on (``bot.eventloop``: uvloop); the driver and the Slack stand-in
share the parent process. Everything listens on 127.0.0.1 only.

The parent is pinned to the first CPU and the app measured to the others (``--no-pin`` lets
every process run anywhere). In production Slack and the people typing are not on the bot's
machine. Unpinned on 2 CPUs, the product's second thread (aiosqlite) and its kernel work ran
on the stand-in's CPU: the stand-in then took 5-10 ms longer (p95) to read the product's
``views.open`` than the baseline's, a delay of the bench's own Slack charged to the app. Both
apps get the same placement; a PostgreSQL server started for the bench belongs on the app's
CPUs too (``taskset``), since its work is the product's.

Load is closed-loop: 1 or ``--concurrency`` (20) simulated users, each sending its next request
once its previous one is finished: the modal opened (for the product: and the card posted), or
the submission answered (for the product: and the card edited). ``req/s`` is therefore finished
requests per second, and ``app CPU ms/req`` is the app process's user+system CPU time (from
/proc) over the phase divided by its requests: with SQLite the database's work is included,
with PostgreSQL it is not. ``of which kernel ms`` is its system part (system calls: sockets,
SQLite's file locks, writes and fsyncs, threads woken), and ``context switches/req`` counts the
app's threads put to sleep or woken, the event loop's and aiosqlite's together.
``SQL statements/req`` counts what the product's engine sent (SQLAlchemy's ``before_cursor_execute``)
during the phase, per request. The whole sequence runs ``--rounds`` times (3) on fresh
channels: latencies pool every round's samples, CPU and statements show the median round and
the range, because this machine's CPU time varies by up to 2x from one minute to the next.
``host steal %`` says how much of the machine's CPU time the hypervisor gave to other guests
during the phase: the figures of a phase with much of it are the neighbours' as much as the
app's. A request is "not ok" when its answer was not 200, Slack would have rejected it, the
next modal was not shown, or ``views.open``/the card never came.

    .venv/bin/python bench/request_path.py [--database-url URL] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import math
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from provenance import code_version
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event

from bot import eventloop, example
from bot.demo import section_inputs
from bot.domain import template as t
from bot.domain.catalog import builtin
from bot.slackdev import SlackDriver, SlackStandin
from bot.slackdev.standin import Call
from handlers.builders.modals import SECTION_CALLBACK, SectionMeta, section_view
from handlers.support.metadata import metadata_key

SIGNING_SECRET = "bench-signing-secret"
KEY = metadata_key(SIGNING_SECRET)  # the product seals its modals' metadata with this key
BOT_TOKEN = "xoxb-bench-token"
EVENTS_PATH = "/slack/events"
TEMPLATE = builtin()
SUMMARY = TEMPLATE.sections[0]
NEXT = TEMPLATE.sections[1]
WAIT_SECONDS = 15.0
BURST = "/postmortem start, in bursts"
"""``--concurrency`` commands sent at once, the next burst once the app is idle again."""
STATEMENTS_PATH = "/bench/statements"
"""The product's SQL statements sent so far (the bench's own route, not the app's)."""


# --------------------------------------------------------------------------
# the servers (child processes)


def static_view(section: t.Section) -> dict[str, Any]:
    """A section's empty modal, built once: the baseline's answer to every request."""
    meta = SectionMeta(team="T0STANDIN1", channel="C0STATIC", section=section.key).keyed(KEY)
    return section_view(TEMPLATE, section, None, meta)


def baseline_web_app(api_url: str) -> tuple[web.Application, Callable[[], Awaitable[None]]]:
    """Bolt with nothing behind it: ack the command and open a static modal, ack the submission
    with a static view. One HTTP session for the Web API, as the product has."""
    session = ClientSession()
    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url, session=session),
        signing_secret=SIGNING_SECRET,
        logger=logging.getLogger("bench.baseline"),
    )
    first, answer = static_view(SUMMARY), static_view(NEXT)

    async def command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=first)

    async def submission(ack: AsyncAck) -> None:
        await ack(response_action="update", view=answer)

    app.command("/postmortem")(command)
    app.view(SECTION_CALLBACK)(submission)
    return app.web_app(path=EVENTS_PATH), session.close


async def product_web_app(api_url: str, database_url: str) -> tuple[web.Application, Callable[[], Awaitable[None]]]:
    """The real app, wired as ``postmortem-bot run`` wires it (one HTTP session for every Web API call)."""
    from bot.app import create_app, create_web_app, web_api_session
    from bot.config import Settings
    from storage.db import create_engine, upgrade
    from storage.store import Store

    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=api_url,
        database_url=database_url,
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = create_engine(database_url)
    await upgrade(engine)
    store = Store(engine)
    session = web_api_session()
    sent = [0]

    def count(*_args: Any) -> None:
        sent[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)

    async def statements(_request: web.Request) -> web.Response:
        return web.json_response({"statements": sent[0]})

    async def cleanup() -> None:
        await session.close()
        await engine.dispose()

    web_app = create_web_app(create_app(settings, store, session), store)
    web_app.router.add_get(STATEMENTS_PATH, statements)
    return web_app, cleanup


async def serve(kind: str, api_url: str, database_url: str) -> None:
    """Child mode: serve one app on an ephemeral loopback port until stdin closes."""
    from bot.app import settle_heap

    if kind == "product":
        web_app, cleanup = await product_web_app(api_url, database_url)
    else:
        web_app, cleanup = baseline_web_app(api_url)
    settle_heap()  # as ``postmortem-bot run`` does, for both apps
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()
    await cleanup()


# --------------------------------------------------------------------------
# the Slack side (parent process)


class Traffic:
    """When the stand-in received the Web API calls that end a request's work."""

    def __init__(self, standin: SlackStandin) -> None:
        self.standin = standin
        self.read = 0
        self.opened: dict[str, Call] = {}
        self.posted: dict[str, float] = {}
        self.updated: dict[str, list[float]] = {}

    def refresh(self) -> None:
        calls = self.standin.calls
        for call in calls[self.read :]:
            if call.method == "views.open":
                self.opened[str(call.params.get("trigger_id"))] = call
            elif call.method == "chat.postMessage":
                self.posted.setdefault(str(call.params.get("channel")), call.time)
            elif call.method == "chat.update":
                self.updated.setdefault(str(call.params.get("channel")), []).append(call.time)
        self.read = len(calls)

    def opened_at(self, trigger_id: str) -> float | None:
        """When Slack opened the modal of ``trigger_id`` (a refused ``views.open`` is not an open)."""
        self.refresh()
        call = self.opened.get(trigger_id)
        return call.time if call and (call.response or {}).get("ok") else None

    def card_posted(self, channel: str) -> float | None:
        self.refresh()
        return self.posted.get(channel)

    def card_updated_after(self, channel: str, since: float) -> float | None:
        self.refresh()
        return next((at for at in self.updated.get(channel, []) if at >= since), None)


@dataclass
class Target:
    name: str
    background: bool
    """True for the product: work continues after the ack and is waited for."""
    process: asyncio.subprocess.Process
    standin: SlackStandin
    driver: SlackDriver
    traffic: Traffic
    tag: str
    port: int

    def user(self, i: int) -> str:
        return f"U{self.tag}{i:05d}"

    def channel(self, i: int) -> str:
        return f"C{self.tag}{i:05d}"

    def incident(self, i: int) -> str:
        return f"inc-{self.tag.lower()}-{i}"

    async def settled(self) -> None:
        """Until the product's work after its answers (the cards' last statements) has ended, so
        that none of it is counted in the next phase."""
        last = await self.statements()
        while last is not None:
            await asyncio.sleep(0.2)
            now, last = last, await self.statements()
            if now == last:
                return

    async def statements(self) -> int | None:
        """SQL statements the app sent so far; None for the baseline, which has no database."""
        if not self.background:
            return None
        async with ClientSession() as session, session.get(f"http://127.0.0.1:{self.port}{STATEMENTS_PATH}") as got:
            return int((await got.json())["statements"])


@dataclass
class Sample:
    ack: float
    ok: bool
    views_open: float | None = None
    done: float | None = None


@dataclass
class Phase:
    scenario: str
    target: str
    concurrency: int
    wall: float
    samples: list[Sample] = field(default_factory=list)
    app_cpu: list[float] = field(default_factory=list)
    """CPU seconds per request the app's process used (user + system), one figure per round."""
    app_system: list[float] = field(default_factory=list)
    """Of ``app_cpu``, the seconds spent in the kernel (system calls, page faults), one figure per round."""
    switches: list[float] = field(default_factory=list)
    """Context switches per request of the app's threads, one figure per round."""
    statements: list[float] = field(default_factory=list)
    """SQL statements per request the app sent, one figure per round (the product only)."""
    steal: list[float] = field(default_factory=list)
    """Percent of the machine's CPU time the hypervisor gave to other guests, one figure per round."""


@contextlib.asynccontextmanager
async def launched(name: str, database_url: str, cpus: str) -> AsyncIterator[Target]:
    """A stand-in here, the app in a child process (on ``cpus``, when given), and a driver between them."""
    standin = await SlackStandin(bot_token=BOT_TOKEN).start()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        os.path.abspath(__file__),
        "--serve",
        name,
        "--api-url",
        standin.api_url,
        "--database-url",
        database_url,
        "--cpus",
        cpus,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        port = await _read_port(process)
        async with SlackDriver(f"http://127.0.0.1:{port}{EVENTS_PATH}", SIGNING_SECRET, standin) as driver:
            tag = secrets.token_hex(2).upper()  # reruns on one database use new channels and incident ids
            yield Target(name, name == "product", process, standin, driver, Traffic(standin), tag, port)
    finally:
        await _stop(process)
        await standin.close()


async def _read_port(process: asyncio.subprocess.Process) -> int:
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    if not line.startswith("PORT "):
        raise RuntimeError(f"the app did not start (it said {line!r})")
    return int(line.split()[1])


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None:
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.terminate()
        await process.wait()


async def _wait(standin: SlackStandin, predicate: Callable[[], float | None]) -> float | None:
    try:
        return await standin.wait_until(predicate, timeout=WAIT_SECONDS)
    except TimeoutError:
        return None


# --------------------------------------------------------------------------
# one user's request


async def start_journey(target: Target, i: int) -> Sample:
    """``/postmortem start inc-N`` in a fresh channel, until the modal is open (for the product:
    and the card is up)."""
    user, channel = target.user(i), target.channel(i)
    sent = time.time()
    result = await target.driver.command(f"start {target.incident(i)}", user=user, channel=channel)
    sample = Sample(ack=result.elapsed, ok=result.status == 200 and not result.problems)
    opened = await _wait(target.standin, lambda: target.traffic.opened_at(result.trigger_id or ""))
    posted = await _wait(target.standin, lambda: target.traffic.card_posted(channel)) if target.background else 0.0
    shown = target.standin.current_view(user) is not None
    sample.ok = sample.ok and opened is not None and posted is not None and shown
    sample.views_open = opened - sent if opened is not None else None
    sample.done = posted - sent if target.background and posted is not None else None
    return sample


async def save_journey(target: Target, i: int) -> Sample:
    """Press "Save & next" on the open section 1 modal; for the product, until the card is edited."""
    user, channel = target.user(i), target.channel(i)
    view = target.standin.current_view(user)
    assert view is not None, f"{user} has no modal open"
    answers = {**example.ANSWERS["summary"], "incident_id": target.incident(i), "owner": user}
    sent = time.time()
    result = await target.driver.submit(view, section_inputs(SUMMARY.fields, answers), user=user)
    shown = (result.view or {}).get("title", {}).get("text")
    sample = Sample(ack=result.elapsed, ok=result.status == 200 and not result.errors and not result.problems)
    sample.ok = sample.ok and shown == NEXT.modal_title
    if target.background:
        updated = await _wait(target.standin, lambda: target.traffic.card_updated_after(channel, sent))
        sample.ok = sample.ok and updated is not None
        sample.done = updated - sent if updated is not None else None
    return sample


Journey = Callable[[Target, int], Awaitable[Sample]]


def host_ticks() -> tuple[int, int] | None:
    """The machine's CPU time so far, in clock ticks: (stolen, all), from /proc/stat (Linux); None elsewhere.

    On a virtual machine "steal" is time a CPU was ready to run this guest but the hypervisor
    ran another: the same code then takes more CPU time too, its caches shared with a neighbour.
    """
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])


@dataclass(frozen=True)
class Usage:
    """A process's CPU time so far (user, in the kernel) and its threads' context switches."""

    user: float
    system: float
    switches: int


def process_usage(pid: int) -> Usage | None:
    """From /proc (Linux); None elsewhere. Context switches are summed over the process's threads
    (the event loop's, aiosqlite's): each is a thread put to sleep or woken, paid in the kernel."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        switches = sum(_switches(task) for task in Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return Usage(int(fields[11]) / tick, int(fields[12]) / tick, switches)


def _switches(task: Path) -> int:
    lines = task.joinpath("status").read_text().splitlines()
    return sum(int(line.split()[1]) for line in lines if line.split(":")[0].endswith("ctxt_switches"))


async def run_bursts(target: Target, journey: Journey, indices: Sequence[int], size: int) -> tuple[list[Sample], float]:
    """``size`` requests sent at once, and again once all of them are done and the app is idle."""
    samples: list[Sample] = []
    wall = 0.0
    for first in range(0, len(indices), size):
        started = time.perf_counter()
        samples += await asyncio.gather(*(journey(target, i) for i in indices[first : first + size]))
        wall += time.perf_counter() - started
        await target.settled()
    return samples, wall


async def run_load(
    target: Target, journey: Journey, indices: Sequence[int], concurrency: int
) -> tuple[list[Sample], float]:
    """``concurrency`` users, each sending its next request once its previous one is done."""
    pending = iter(indices)
    samples: list[Sample] = []

    async def user() -> None:
        for i in pending:
            samples.append(await journey(target, i))

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    return samples, time.perf_counter() - started


# --------------------------------------------------------------------------
# report


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def row(phase: Phase, metric: str, values: list[float | None], rate: bool) -> str:
    present = [v * 1000 for v in values if v is not None]
    failed = sum(1 for s in phase.samples if not s.ok)
    if not present:
        dashes = " | ".join("-" * 10)  # from p50 to host steal
        return f"| {phase.scenario} | {phase.target} | {metric} | {phase.concurrency} | 0 | {dashes} | {failed} |"
    per_second = f"{len(phase.samples) / phase.wall:.0f}" if rate else ""
    cpu = _spread([c * 1000 for c in phase.app_cpu]) if rate else ""
    kernel = _spread([c * 1000 for c in phase.app_system], digits=2) if rate else ""
    switches = _spread(phase.switches) if rate else ""
    statements = _spread(phase.statements) if rate else ""
    steal = _spread(phase.steal) if rate else ""
    return (
        f"| {phase.scenario} | {phase.target} | {metric} | {phase.concurrency} | {len(present)} "
        f"| {percentile(present, 0.5):.1f} | {percentile(present, 0.95):.1f} | {percentile(present, 0.99):.1f} "
        f"| {max(present):.1f} "
        f"| {per_second} | {cpu} | {kernel} | {switches} | {statements} | {steal} | {failed} |"
    )


def _spread(values: Sequence[float], digits: int = 1) -> str:
    """The median of the rounds, and their range when there were several."""
    if not values:
        return ""
    middle = f"{statistics.median(values):.{digits}f}"
    return middle if len(values) == 1 else f"{middle} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def report(phases: Sequence[Phase]) -> str:
    lines = [
        "| scenario | app | measured until | conc. | n | p50 ms | p95 ms | p99 ms | max ms | req/s "
        "| app CPU ms/req | of which kernel ms | context switches/req | SQL statements/req | host steal % | not ok |",
        "| --- | --- | --- |" + " ---: |" * 13,
    ]
    for phase in phases:
        lines.append(row(phase, "HTTP answer (ack)", [s.ack for s in phase.samples], rate=True))
        if phase.scenario.startswith("/postmortem"):
            lines.append(row(phase, "views.open at Slack", [s.views_open for s in phase.samples], rate=False))
        if phase.target == "product" and phase.scenario.startswith("/postmortem"):
            lines.append(row(phase, "card posted", [s.done for s in phase.samples], rate=False))
        elif phase.target == "product":
            lines.append(row(phase, "card edited", [s.done for s in phase.samples], rate=False))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# the run


SCENARIOS: tuple[tuple[str, Journey], ...] = (
    ("/postmortem start", start_journey),
    ("Save & next (section 1)", save_journey),
)
ORDER = [scenario for scenario, _ in SCENARIOS] + [BURST]


async def warm_up(target: Target, indices: Sequence[int]) -> None:
    await run_load(target, start_journey, indices, 1)
    await run_load(target, save_journey, indices, 1)


async def measure(targets: Sequence[Target], requests: int, concurrency: int, warm: int, rounds: int) -> list[Phase]:
    """Phase by phase, baseline then product, so both see the same machine at the same time; the
    whole sequence ``rounds`` times (fresh channels each time), so that a noisy moment shows as a
    range instead of passing for the figure."""
    for target in targets:
        await warm_up(target, range(warm))
    phases: dict[tuple[str, str, int], Phase] = {}
    first = warm
    for _ in range(rounds):
        alone, together, bursts = (range(first + k * requests, first + (k + 1) * requests) for k in range(3))
        first += 3 * requests
        plan = [(scenario, journey, 1, alone) for scenario, journey in SCENARIOS]
        plan += [(scenario, journey, concurrency, together) for scenario, journey in SCENARIOS]
        plan.append((BURST, start_journey, concurrency, bursts))
        for scenario, journey, conc, indices in plan:
            for target in targets:
                phase = phases.setdefault((scenario, target.name, conc), Phase(scenario, target.name, conc, 0.0))
                await measure_phase(target, journey, indices, conc, phase)
    return sorted(phases.values(), key=lambda p: (ORDER.index(p.scenario), p.concurrency))


async def measure_phase(target: Target, journey: Journey, indices: range, concurrency: int, phase: Phase) -> None:
    if journey is save_journey:  # every user's section 1, opened by their start
        await run_load(target, start_journey, indices, concurrency)
        await target.settled()
    statements_before = await target.statements()
    usage_before, host_before = process_usage(target.process.pid), host_ticks()
    load = run_bursts if phase.scenario == BURST else run_load
    with _collector_paused():
        samples, wall = await load(target, journey, indices, concurrency)
    await target.settled()  # the last requests' trailing statements belong to this phase
    usage_after, host_after = process_usage(target.process.pid), host_ticks()
    statements_after = await target.statements()
    phase.samples += samples
    phase.wall += wall
    if usage_after is not None and usage_before is not None:
        system = usage_after.system - usage_before.system
        phase.app_cpu.append((usage_after.user - usage_before.user + system) / len(samples))
        phase.app_system.append(system / len(samples))
        phase.switches.append((usage_after.switches - usage_before.switches) / len(samples))
    if statements_after is not None and statements_before is not None:
        phase.statements.append((statements_after - statements_before) / len(samples))
    if host_after is not None and host_before is not None and host_after[1] > host_before[1]:
        phase.steal.append(100 * (host_after[0] - host_before[0]) / (host_after[1] - host_before[1]))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The driver and the stand-in keep every request and message of the run: a full garbage
    collection of this process took up to 400 ms, a stall charged to whichever app was measured."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def placement(pin: bool) -> tuple[set[int], set[int]] | None:
    """The CPUs of the driver and stand-in, and those of the app measured; None: anywhere."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None
    return {cpus[0]}, set(cpus[1:])


def cpu_list(cpus: set[int] | None) -> str:
    return ",".join(map(str, sorted(cpus))) if cpus else ""


def describe(database_url: str, args: argparse.Namespace, cpus: tuple[set[int], set[int]] | None) -> str:
    backend = database_url.split(":", 1)[0]
    where = f"driver and stand-in on CPU {cpu_list(cpus[0])}, app on CPU {cpu_list(cpus[1])}" if cpus else "unpinned"
    return (
        f"request_path: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {len(os.sched_getaffinity(0))} ({where}), "
        f"Python {platform.python_version()}, database {backend}, {args.requests} requests per phase after "
        f"{args.warmup} warm-up, concurrency 1 and {args.concurrency}, {args.rounds} rounds, code {code_version()}"
    )


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-request-path-") as workdir:
        database_url = args.database_url or f"sqlite:///{Path(workdir) / 'bench.db'}"
        cpus = placement(args.pin)
        print(describe(database_url, args, cpus), flush=True)
        if cpus:
            os.sched_setaffinity(0, cpus[0])
        app_cpus = cpu_list(cpus[1] if cpus else None)
        async with (
            launched("baseline", database_url, app_cpus) as baseline,
            launched("product", database_url, app_cpus) as product,
        ):
            phases = await measure([baseline, product], args.requests, args.concurrency, args.warmup, args.rounds)
    print(report(phases))
    failures = sum(1 for p in phases for s in p.samples if not s.ok)
    if failures:
        print(f"\n{failures} request(s) not ok (see the 'not ok' column)", file=sys.stderr)
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per phase (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first (default 20)")
    parser.add_argument("--concurrency", type=int, default=20, help="users in the concurrent phases (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="times the whole sequence runs (default 3)")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="let the apps share CPUs with the driver and stand-in"
    )
    parser.add_argument("--serve", choices=("product", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--cpus", default="", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if args.serve:  # both apps on the loop ``postmortem-bot run`` runs on
        if args.cpus:  # before any thread starts: the app's threads inherit it
            os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
        eventloop.run(serve(args.serve, args.api_url, args.database_url))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
