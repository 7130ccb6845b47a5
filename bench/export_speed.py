"""Time to render a 100-action postmortem as section 11 YAML and as Markdown.

The product renders YAML with libyaml's emitter when PyYAML has it. The BASELINE is the
same document through PyYAML's pure-Python emitter (what every export used before), in the
same process and run; the test suite checks that both write the same bytes.

    .venv/bin/python bench/export_speed.py [--actions 100] [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

import yaml
from provenance import code_version

from bot import example
from bot.domain.document import CorrectiveAction, Postmortem, validate_section
from bot.domain.export.markdown import to_markdown
from bot.domain.export.yaml_out import DUMPER, to_yaml, yaml_dumper


def postmortem(actions: int) -> Postmortem:
    answers = {key: validate_section(key, data) for key, data in example.ANSWERS.items()}
    rows = [
        CorrectiveAction(
            action=f"Corrective action {i}: gate create_ticket on an idempotency_key\nand add a regression eval",
            kind="add_regression_eval",
            owner=example.SAFETY_LEAD,
            due=date(2026, 4, 12) + timedelta(days=i % 30),
            extra={"artifact": "eval dataset support-triage"},
        )
        for i in range(actions)
    ]
    return Postmortem(incident_id=example.INCIDENT_ID, answers=answers, actions=rows)


def median_ms(render: Callable[[], str], repeat: int) -> float:
    render()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        render()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    pm = postmortem(args.actions)
    python_dumper = yaml_dumper(yaml.SafeDumper)
    print(f"export_speed: {args.actions} actions, median of {args.repeat}, code {code_version()}")
    print(f"  libyaml available: {yaml.__with_libyaml__}; product dumper based on {DUMPER.__mro__[1].__name__}")
    rows = [
        ("YAML, product", median_ms(lambda: to_yaml(pm), args.repeat)),
        ("YAML, BASELINE pure-Python emitter", median_ms(lambda: to_yaml(pm, python_dumper), args.repeat)),
        ("Markdown, product", median_ms(lambda: to_markdown(pm), args.repeat)),
    ]
    for name, ms in rows:
        print(f"  {name:<38} {ms:8.2f} ms")


if __name__ == "__main__":
    main()
