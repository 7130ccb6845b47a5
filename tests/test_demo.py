"""`postmortem-bot demo`: what it prints is what Slack shows at the end of the walk."""

from __future__ import annotations

import re
import subprocess
import sys

from bot.domain.export.yaml_in import from_yaml

RUNS = 10
"""Demos started at once: on a machine this busy, a card printed too early showed up in most runs."""


def test_the_card_printed_is_the_last_one() -> None:
    """The card is edited after each save has been answered; printed too early, it showed
    8/10 sections done while the YAML below it had all ten."""
    demos = [
        subprocess.Popen([sys.executable, "-m", "bot.cli", "demo"], stdout=subprocess.PIPE, text=True)
        for _ in range(RUNS)
    ]
    outputs = [demo.communicate(timeout=300)[0] for demo in demos]
    assert [demo.returncode for demo in demos] == [0] * RUNS
    for output in outputs:
        card, yaml_text = output.split("/postmortem export yaml:\n")
        done = from_yaml(yaml_text).sections_done
        assert re.findall(r"Sections done: (\d+)/10", card) == [str(done)], card
