"""Work after an answer lets the requests still unanswered be answered first, but never waits for
requests that came after it, nor longer than its patience."""

from __future__ import annotations

import asyncio

from bot import example
from bot.app import MeteredApp
from bot.demo import Walkthrough, listeners_finished
from bot.slackdev import SlackDriver, SlackStandin
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


async def test_answers_owed_settled_out_of_order_release_the_work_only_after_the_last_of_them() -> None:
    foreground, log = Foreground(patience=30), []
    gates = {name: asyncio.Event() for name in ("a", "b", "c", "later")}
    requests = [asyncio.create_task(_request(foreground, name, gates[name], log)) for name in ("a", "b", "c")]
    await asyncio.sleep(0)
    work = asyncio.create_task(_deferred(foreground, log))
    await asyncio.sleep(0)
    requests.append(asyncio.create_task(_request(foreground, "later", gates["later"], log)))
    for name in ("c", "later", "a"):
        gates[name].set()
        await asyncio.sleep(0.01)
    assert "deferred work" not in log  # b is still owed
    gates["b"].set()
    await asyncio.gather(work, *requests)
    assert log == ["c answered", "later answered", "a answered", "b answered", "deferred work"]


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


async def test_deferred_work_waits_for_a_modal_owed_on_a_trigger_after_the_answer() -> None:
    """Twenty commands at once: the first one's database work must not come before the last
    one's ``views.open``, whose trigger expires 3 seconds after its command."""
    foreground, log = Foreground(patience=30), []
    opened = asyncio.Event()

    async def command() -> None:
        with foreground.answering():
            log.append("answered")
        with foreground.owing():
            await opened.wait()
            log.append("modal opened")

    request = asyncio.create_task(command())
    await asyncio.sleep(0.01)
    work = asyncio.create_task(_deferred(foreground, log))
    await asyncio.sleep(0.01)
    assert log == ["answered"]
    opened.set()
    await asyncio.gather(work, request)
    assert log == ["answered", "modal opened", "deferred work"]


async def test_a_saves_card_edit_waits_for_the_modal_another_start_still_owes(
    app: MeteredApp, slack: SlackDriver, standin: SlackStandin
) -> None:
    app.foreground.patience = 30  # the order is under test, not the patience
    saving = Walkthrough(slack, standin, example.OWNER, "C0SAVING")
    await saving.start("inc-fg-1")
    await listeners_finished()
    gate = standin.hold("views.open")  # Slack is slow to open the other command's modal
    started = await slack.command("start inc-fg-2", user=example.SAFETY_LEAD, channel="C0STARTING")
    assert started.status == 200
    saved = await saving.save({**example.ANSWERS["summary"], "incident_id": "inc-fg-1"})
    assert saved.errors is None
    await asyncio.sleep(0.1)  # time enough for an edit that did not wait
    gate.set()
    await listeners_finished()
    order = [(c.method, c.params.get("channel")) for c in standin.calls if c.method in ("views.open", "chat.update")]
    assert order[-2:] == [("views.open", None), ("chat.update", "C0SAVING")]
    assert "Sections done: 1/10" in str(standin.messages("C0SAVING")[0]["blocks"])
