"""Slack's bodies are read in C (bot.urlform, bot.fastjson) and must read exactly as the standard
library reads them: an answer typed with percent signs, plus signs, ampersands, equals signs,
line breaks and emoji is stored as typed, and a body the fast path cannot read goes the slow way."""

from __future__ import annotations

import json
import math
import random
from urllib.parse import parse_qsl, urlencode

import pytest

from bot import example, fastjson
from bot.demo import Walkthrough, listeners_finished
from bot.slackdev import SlackDriver, SlackStandin
from bot.urlform import decode_form
from storage.store import Store

CHANNEL = "C0INCIDENT"
ALICE = example.OWNER
TRICKY = "100% + 5 = 105 & counting; a%2Bb %zz =3D\nsecond line\r\n🙂👩🏽‍🚒 🇩🇪 café"

IRREGULAR = [
    "",
    "&&",
    "name",
    "a=1&a=2",
    "a=%",
    "a=%4",
    "a=%zz",
    "a=%%41",
    "a=b=c=d",
    "a=x%3D41",
    "a=%0A%0D",
    "a=%\nb",
    "a=%\r\nb",
    "a=%e2%82",
    "a=%ff%fe",
    "a=%C3%A9+%C3",
    "é=ü&x=🙂",
    "a=raw space",
    "a+b=c+d",
]


def reference(text: str) -> dict[str, str]:
    return dict(parse_qsl(text, keep_blank_values=True))


@pytest.mark.parametrize("text", [*IRREGULAR, urlencode({"payload": TRICKY}), urlencode({"text": TRICKY})])
def test_a_form_reads_as_parse_qsl_reads_it(text: str) -> None:
    assert decode_form(text) == reference(text)


def test_random_forms_read_as_parse_qsl_reads_them() -> None:
    pieces = [*"%=+&aZ09fF ", "%2", "%41", "%e2%82%ac", "%E2%82", "%ff", "%0a", "\n", "\r", "%\n", "é", "🙂", "%%"]
    rng = random.Random(20261126)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        assert decode_form(text) == reference(text), repr(text)


@pytest.mark.parametrize(
    "text", ['{"a": NaN}', '{"a": "\\ud83d"}', '{"a": [1, 2.5, "x", {"b": null}]}', '{"a": "é🙂"}']
)
def test_json_reads_as_the_standard_library_reads_it(text: str) -> None:
    got, want = fastjson.loads(text), json.loads(text)
    if isinstance(want["a"], float) and math.isnan(want["a"]):
        assert math.isnan(got["a"])
    else:
        assert got == want


def test_json_that_neither_reads_is_refused() -> None:
    with pytest.raises(ValueError):
        fastjson.loads('{"a": ')


async def test_an_answer_full_of_escapes_is_stored_as_typed(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    walk = Walkthrough(slack, standin, ALICE, CHANNEL)
    await walk.start("inc-escapes")
    saved = await walk.save({**example.ANSWERS["summary"], "incident_id": "inc-escapes", "summary": TRICKY})
    await listeners_finished()
    assert saved.errors is None and saved.view is not None
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None
    assert record.sections["summary"].data["summary"] == TRICKY
