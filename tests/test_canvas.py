"""POSTMORTEM_CANVAS: the postmortem kept as the channel's canvas, the database its source of truth."""

from __future__ import annotations

import json

import pytest

from bot import example
from bot.config import Settings
from bot.demo import Walkthrough, listeners_finished
from bot.domain.canvas import canvas_markdown, heading
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.card import CARD_EDIT, canvas_url
from storage.store import Store

CHANNEL = "C0INCIDENT"
ALICE = example.OWNER
CANVAS_METHODS = (
    "conversations.canvases.create",
    "canvases.create",
    "canvases.edit",
    "canvases.sections.lookup",
    "conversations.info",
)


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """POSTMORTEM_CANVAS on, unless a test parametrizes it off."""
    return settings.model_copy(update={"postmortem_canvas": getattr(request, "param", True)})


def summary(incident_id: str, text: str = "") -> dict:
    return {**example.ANSWERS["summary"], "incident_id": incident_id, **({"summary": text} if text else {})}


async def stored_canvas(store: Store) -> str:
    record = await store.by_channel("T0STANDIN1", CHANNEL)
    assert record is not None
    return canvas_markdown(record.doc)


async def test_start_creates_the_channel_canvas_with_every_section_heading(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-70")
    await listeners_finished()

    canvas = standin.channel_canvas(CHANNEL)
    assert canvas is not None and standin.canvas_ids() == [canvas]
    text = standin.canvas_markdown(canvas)
    assert [line for line in text.splitlines() if line.startswith("#")] == [
        f"## {heading(s)}" for s in walk.template.sections
    ]
    assert text == await stored_canvas(store)
    (created,) = standin.calls_to("conversations.canvases.create")
    assert created.params["channel_id"] == CHANNEL
    assert standin.calls_to("canvases.create") == []


async def test_ten_rapid_saves_leave_the_canvas_equal_to_the_database_in_few_edits(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-71")
    await listeners_finished()
    # the first edit stalls while the saves come in, then Slack answers it 429 with Retry-After (a rate
    # window would be met only if the ten saves took less than the window: not on a loaded machine)
    standin.fail_next("canvases.edit", status=429, retry_after=1)
    gate = standin.hold("canvases.edit")
    hostile = "## 2. What happened\n```\n<!channel> " + "\U0001f525" * 2900
    for n in range(10):
        await slack.close_view(walk.view(), user=ALICE)
        (card,) = standin.messages(CHANNEL)
        await slack.click(card, CARD_EDIT, user=ALICE, block_id="section-summary")
        await standin.wait_until(lambda: standin.current_view(ALICE))
        saved = await walk.save(summary("inc-71", hostile if n == 9 else f"draft {n}"))
        assert not saved.errors, saved.errors
    gate.set()
    await listeners_finished()

    canvas = standin.channel_canvas(CHANNEL)
    assert canvas is not None
    assert standin.canvas_markdown(canvas) == await stored_canvas(store), "the canvas ends on the newest save"
    edits = [c for c in standin.calls_to("canvases.edit") if c.status == 200]
    assert 1 <= len(edits) <= 3, f"{len(edits)} edits for 10 saves"
    assert all(c.params["changes"][0]["operation"] == "replace" for c in edits)
    assert any(c.status == 429 for c in standin.calls_to("canvases.edit")), "the rate limit was met and waited out"
    headings = [line for line in standin.canvas_markdown(canvas).splitlines() if line.startswith("## ")]
    assert headings == [f"## {heading(s)}" for s in walk.template.sections], "an answer adds no heading"


async def test_a_free_plan_gets_a_standalone_canvas_linked_from_the_card_said_once(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    standin.free_plan = True
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-72")
    await listeners_finished()
    await walk.save(summary("inc-72"))
    await listeners_finished()

    (canvas,) = standin.canvas_ids()
    assert standin.channel_canvas(CHANNEL) is None and standin.canvas_channel(canvas) == CHANNEL
    assert standin.canvas_markdown(canvas) == await stored_canvas(store)
    (card,) = standin.messages(CHANNEL)
    card_text = json.dumps(card["blocks"])
    assert card_text.count(canvas_url(standin.team_id, canvas)) == 1
    assert card_text.count("can't give the channel a canvas") == 1
    assert len(standin.calls_to("canvases.create")) == 1
    assert len(standin.calls_to("conversations.canvases.create")) == 1, "refused once, not asked again"


async def test_a_lost_create_reply_does_not_create_a_second_canvas(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    standin.drop_next("conversations.canvases.create")  # Slack creates it; the reply never arrives
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-73")
    await listeners_finished()
    await walk.save(summary("inc-73"))
    await listeners_finished()

    (canvas,) = standin.canvas_ids()
    assert standin.canvas_markdown(canvas) == await stored_canvas(store)
    assert len(standin.calls_to("conversations.canvases.create")) == 1
    assert [c.params["channel"] for c in standin.calls_to("conversations.info")] == [CHANNEL]


@pytest.mark.parametrize("settings", [False], indirect=True)
async def test_with_postmortem_canvas_off_no_canvas_call_is_made(slack: SlackDriver, standin: SlackStandin) -> None:
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-74")
    await walk.save(summary("inc-74"))
    await listeners_finished()

    assert standin.canvas_ids() == []
    assert [c.method for c in standin.calls if c.method in CANVAS_METHODS] == []
