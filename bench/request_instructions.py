"""Instructions per ``/postmortem start`` and per "Save & next", counted by valgrind's callgrind.

CPU time on a shared virtual machine varies by 2x from one minute to the next, so a change
worth 10 % cannot be seen in milliseconds. Instructions executed do not vary that way: the
same code, inputs and interpreter give the same count within a few percent, whatever else
the machine is doing. The app (or the bare Bolt baseline of ``request_path.py``) runs in its
own process under callgrind, three times: warm-up only; warm-up and N starts; warm-up, N
starts and N saves. The differences, divided by N, are the instructions of one start and of
one save, everything in the app's process included (Bolt, aiohttp, JSON, SQLAlchemy, SQLite
on aiosqlite's thread; PostgreSQL's own work is in its server and not counted).

    .venv/bin/python bench/request_instructions.py [--requests 10] [--database-url URL] [--app product]

It needs valgrind (Debian: ``apt-get install valgrind``) and takes minutes: the app runs
about fifty times slower under callgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
from collections.abc import Awaitable
from pathlib import Path

import request_path as rp
from provenance import code_version

from bot.slackdev import SlackDriver, SlackStandin
from storage.db import create_engine, upgrade

STARTUP_SECONDS = 900
"""Imports and migrations under callgrind take minutes on a busy machine."""


def instructions(callgrind_out: Path) -> int:
    for line in callgrind_out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {callgrind_out}")


async def counted_run(app: str, database_url: str, starts: int, saves: int, workdir: Path) -> int:
    """Instructions of one whole run of the app: five warm-up journeys, then ``starts`` and ``saves``."""
    out = workdir / f"callgrind.{app}.{starts}.{saves}"
    standin = await SlackStandin(bot_token=rp.BOT_TOKEN).start()
    process = await asyncio.create_subprocess_exec(
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        sys.executable, rp.__file__, "--serve", app, "--api-url", standin.api_url, "--database-url", database_url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        port = int((await asyncio.wait_for(process.stdout.readline(), STARTUP_SECONDS)).split()[1])
        url = f"http://127.0.0.1:{port}{rp.EVENTS_PATH}"
        async with SlackDriver(url, rp.SIGNING_SECRET, standin) as driver:
            tag = secrets.token_hex(2).upper()
            target = rp.Target(app, app == "product", process, standin, driver, rp.Traffic(standin), tag, port)
            for i in range(5):
                await _ok(rp.start_journey(target, i))
                await _ok(rp.save_journey(target, i))
            for i in range(10, 10 + starts):
                await _ok(rp.start_journey(target, i))
            for i in range(10, 10 + saves):
                await _ok(rp.save_journey(target, i))
            await target.settled()
    finally:
        await rp._stop(process)
        await standin.close()
    return instructions(out)


async def _ok(journey: Awaitable[rp.Sample]) -> None:
    sample = await journey
    if not sample.ok:
        raise RuntimeError(f"a request was not ok: {sample}")


async def main_async(args: argparse.Namespace) -> None:
    rp.WAIT_SECONDS = 120.0  # everything is slow under callgrind
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as name:
        workdir = Path(name)
        database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
        n = args.requests
        await _migrated(database_url)  # else the first counted run alone would pay for creating the schema
        print(f"request_instructions: {n} requests, database {database_url.split(':', 1)[0]}, code {code_version()}")
        for app in args.app:
            none = await counted_run(app, database_url, 0, 0, workdir)
            started = await counted_run(app, database_url, n, 0, workdir)
            saved = await counted_run(app, database_url, n, n, workdir)
            print(f"{app}: start {(started - none) / n / 1e6:.2f} M instructions, "
                  f"save {(saved - started) / n / 1e6:.2f} M instructions", flush=True)  # fmt: skip


async def _migrated(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--app", action="append", choices=("baseline", "product"), help="default: both")
    args = parser.parse_args()
    args.app = args.app or ["baseline", "product"]
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
