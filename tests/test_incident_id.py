"""One rule for incident ids, at `/postmortem start` and in the section 1 form: any one-word token that fits."""

from __future__ import annotations

import pytest

from bot import example
from bot.demo import Walkthrough, section_inputs
from bot.domain.catalog import builtin
from bot.domain.document import INCIDENT_ID_MAX, incident_id_problem
from bot.slackdev import SlackDriver, SlackStandin
from storage.store import Store

CHANNEL = "C0INCIDENT"
ALICE = example.OWNER


@pytest.mark.parametrize(
    "incident_id",
    ["inc-2026-04-09-001", "chg-2026-04-07-001", "INC_42", "SEV1/2026.04#3", "é-事故-7", "x" * INCIDENT_ID_MAX],
)
def test_any_one_word_token_that_fits_is_an_incident_id(incident_id: str) -> None:
    assert incident_id_problem(incident_id) is None


@pytest.mark.parametrize(
    ("incident_id", "problem"),
    [
        ("", "required"),
        ("x" * (INCIDENT_ID_MAX + 1), f"at most {INCIDENT_ID_MAX} characters"),
        ("inc 7", "one word"),
        ("inc\t7", "one word"),
        ("inc\u200b7", "one word"),  # invisible, yet another id
        ("inc\x007", "one word"),
        ("<!channel>", "angle brackets"),
        ("r&d-1", "ampersands"),
        ("a|b", "pipes"),
        ("inc`7", "backticks"),
    ],
)
def test_what_is_not_an_incident_id_says_why(incident_id: str, problem: str) -> None:
    assert problem in (incident_id_problem(incident_id) or "")


async def test_start_with_an_overlong_incident_id_is_refused_before_anything_is_stored(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    result = await slack.command("start " + "x" * 400, user=ALICE, channel=CHANNEL)
    assert result.status == 200  # the answer to the command: only the person who typed it sees it
    assert f"Use at most {INCIDENT_ID_MAX} characters" in result.text and "like `inc-2026-04-09-001`" in result.text
    assert standin.calls_to("views.open") == []
    assert await store.by_channel(standin.team_id, CHANNEL) is None


@pytest.mark.parametrize(("text", "problem"), [("inc 2026 04", "one word"), ("<!channel>", "angle brackets")])
async def test_start_with_an_incident_id_that_is_not_one_plain_word_is_refused(
    slack: SlackDriver, standin: SlackStandin, store: Store, text: str, problem: str
) -> None:
    result = await slack.command(f"start {text}", user=ALICE, channel=CHANNEL)
    assert problem in result.text
    assert standin.calls_to("views.open") == []
    assert await store.by_channel(standin.team_id, CHANNEL) is None


@pytest.mark.parametrize(
    ("typed", "problem"),
    [("x" * 100, f"at most {INCIDENT_ID_MAX} characters"), ("inc 7", "one word")],
    ids=["too-long", "two-words"],
)
async def test_the_form_applies_the_same_rule_on_the_field(
    slack: SlackDriver, standin: SlackStandin, store: Store, typed: str, problem: str
) -> None:
    view = await Walkthrough(slack, standin, ALICE, CHANNEL).start()
    answers = section_inputs(builtin().sections[0].fields, {**example.ANSWERS["summary"], "incident_id": typed})
    result = await slack.submit(view, answers, user=ALICE)
    assert result.errors is not None and list(result.errors) == ["incident_id"]
    assert problem in result.errors["incident_id"]
    assert incident_id_problem(typed) == result.errors["incident_id"], "one rule, one wording"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.incident_id is None and "summary" not in record.sections
