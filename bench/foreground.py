"""The event loop's time spent holding deferred work back in a burst of commands.

Twenty ``/postmortem start`` commands arrive together. Each request owes Slack its answer and
a ``views.open``; once its modal is open, its database work and card post wait
(``Foreground.turn``) until the other requests owe nothing more. This script runs such bursts
through ``handlers.support.foreground`` alone, with the Slack side reduced to futures settled
one per loop iteration, and prints the CPU time per burst:

* product: ``Foreground`` as the app uses it;
* BASELINE: the previous ``turn``, which waited on a future per thing owed (``asyncio.wait``):
  every settled answer then ran a callback per waiting turn;
* floor: the same bursts with a ``turn`` that waits for nothing, the cost of the bursts themselves.

The difference to the floor is what holding deferred work back costs the loop, on the time
the last commands of the burst are still waiting for their modals.

    .venv/bin/python bench/foreground.py [--size 20] [--bursts 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator
from contextvars import ContextVar

from provenance import code_version

from bot import eventloop
from handlers.support.foreground import Foreground

_own: ContextVar[asyncio.Future[None] | None] = ContextVar("bench_own_answer", default=None)


class FuturePerOwed(Foreground):
    """BASELINE: each thing owed is a future; a turn waits on all the others' (code before this change)."""

    def __init__(self) -> None:
        super().__init__()
        self._futures: set[asyncio.Future[None]] = set()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        with self.owing() as answered:
            token = _own.set(answered)
            try:
                yield
            finally:
                _own.reset(token)

    @contextlib.contextmanager
    def owing(self) -> Iterator[asyncio.Future[None]]:  # type: ignore[override]
        owed = asyncio.get_running_loop().create_future()
        self._futures.add(owed)
        try:
            yield owed
        finally:
            self._futures.discard(owed)
            owed.set_result(None)

    async def turn(self) -> None:
        others = self._futures - {_own.get()}
        if others:
            await asyncio.wait(others, timeout=self.patience)


class NoWait(Foreground):
    """The floor: deferred work goes ahead at once."""

    async def turn(self) -> None:
        return None


async def burst(foreground: Foreground, size: int) -> None:
    """``size`` commands: each acked at once (its answer then settles, as Bolt's dispatch returns), its
    modal opened one loop iteration after the previous one's, then its deferred work's turn."""
    loop = asyncio.get_running_loop()
    acked = [loop.create_future() for _ in range(size)]
    opened = [loop.create_future() for _ in range(size)]

    async def listener(i: int) -> None:
        acked[i].set_result(None)
        with foreground.owing():
            await opened[i]
        await foreground.turn()

    async def dispatch(i: int) -> asyncio.Future[None]:
        with foreground.answering():
            work = asyncio.ensure_future(listener(i))  # Bolt's listener task, in the request's context
            await acked[i]
        return work

    listeners = await asyncio.gather(*(dispatch(i) for i in range(size)))
    for modal in opened:
        modal.set_result(None)
        await asyncio.sleep(0)
    await asyncio.gather(*listeners)


async def cpu_ms_per_burst(foreground: Foreground, size: int, bursts: int) -> float:
    for _ in range(bursts // 10):
        await burst(foreground, size)
    started = time.process_time()
    for _ in range(bursts):
        await burst(foreground, size)
    return (time.process_time() - started) / bursts * 1000


async def main_async(args: argparse.Namespace) -> None:
    kinds = {"product": Foreground, "BASELINE future per owed": FuturePerOwed, "floor (no wait)": NoWait}
    figures: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(args.rounds):  # interleaved, so a slow minute touches all three alike
        for name, kind in kinds.items():
            figures[name].append(await cpu_ms_per_burst(kind(), args.size, args.bursts))
    floor = statistics.median(figures["floor (no wait)"])
    print(f"foreground: bursts of {args.size}, {args.bursts} bursts x {args.rounds} rounds, code {code_version()}")
    print(f"  {'':<26} {'CPU ms/burst':>12} {'range':>13} {'above floor, us/request':>24}")
    for name, values in figures.items():
        median = statistics.median(values)
        spread = f"{min(values):.3f}-{max(values):.3f}"
        above = (median - floor) * 1000 / args.size
        print(f"  {name:<26} {median:12.3f} {spread:>13} {above:24.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument("--bursts", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    eventloop.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
