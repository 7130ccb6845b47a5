"""Work after an answer lets the requests still unanswered be answered first, but never waits for
requests that came after it, nor longer than its patience."""

from __future__ import annotations

import asyncio

from handlers.support.foreground import Foreground


async def _request(foreground: Foreground, name: str, answered: asyncio.Event, log: list[str]) -> None:
    with foreground.answering():
        await answered.wait()
        log.append(f"{name} answered")


async def _deferred(foreground: Foreground, log: list[str]) -> None:
    await foreground.turn()
    log.append("deferred work")


async def test_deferred_work_waits_for_the_answers_owed_when_it_asks() -> None:
    foreground, log = Foreground(patience=30), []
    first, second = asyncio.Event(), asyncio.Event()
    requests = [asyncio.create_task(_request(foreground, "first", first, log))]
    requests.append(asyncio.create_task(_request(foreground, "second", second, log)))
    await asyncio.sleep(0)
    work = asyncio.create_task(_deferred(foreground, log))
    await asyncio.sleep(0.01)
    first.set()
    await asyncio.sleep(0.01)
    assert log == ["first answered"]  # the second is still owed
    second.set()
    await asyncio.gather(work, *requests)
    assert log == ["first answered", "second answered", "deferred work"]


async def test_a_request_arriving_later_does_not_hold_deferred_work_back() -> None:
    foreground, log = Foreground(patience=30), []
    first, later = asyncio.Event(), asyncio.Event()
    request = asyncio.create_task(_request(foreground, "first", first, log))
    await asyncio.sleep(0)
    work = asyncio.create_task(_deferred(foreground, log))
    await asyncio.sleep(0)
    late = asyncio.create_task(_request(foreground, "later", later, log))
    await asyncio.sleep(0)
    first.set()
    await work
    assert log == ["first answered", "deferred work"]
    later.set()
    await asyncio.gather(request, late)


async def test_deferred_work_goes_on_after_its_patience() -> None:
    foreground, log = Foreground(patience=0.05), []
    never = asyncio.Event()
    request = asyncio.create_task(_request(foreground, "stuck", never, log))
    await asyncio.sleep(0)
    await _deferred(foreground, log)
    assert log == ["deferred work"]
    never.set()
    await request


async def test_nothing_owed_means_no_wait() -> None:
    foreground, log = Foreground(patience=30), []
    await asyncio.wait_for(_deferred(foreground, log), timeout=5)
    assert log == ["deferred work"]


async def test_a_requests_own_deferred_work_does_not_wait_for_its_own_answer() -> None:
    foreground, log = Foreground(patience=30), []
    answered = asyncio.Event()

    async def request() -> None:
        with foreground.answering():
            listener = asyncio.create_task(_deferred(foreground, log))  # Bolt runs the listener as a task
            await asyncio.wait_for(listener, timeout=5)
            await answered.wait()
            log.append("answered")

    task = asyncio.create_task(request())
    await asyncio.sleep(0.01)
    assert log == ["deferred work"]
    answered.set()
    await task
