"""Exports posted back into Slack: code blocks cut to Slack's per-block and per-message limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any

from bot.domain.document import Postmortem
from bot.domain.export.eval_jsonl import to_eval_jsonl
from bot.domain.export.markdown import to_markdown
from bot.domain.export.yaml_out import to_yaml
from bot.domain.links import LinkTemplates
from handlers.builders import blocks as kit
from handlers.builders.render import escape, headline
from storage.records import PostmortemRecord

FORMATS: dict[str, Callable[[Postmortem, LinkTemplates, tzinfo], str]] = {
    "yaml": lambda doc, _links, _zone: to_yaml(doc),
    "markdown": to_markdown,
    "md": to_markdown,
    "eval": lambda doc, _links, _zone: to_eval_jsonl(doc),
}
_CHUNK = 2900  # section text holds 3000 characters, with room for the code fences
_MAX_CHUNKS = 45  # messages hold 50 blocks


def _chunks(text: str) -> list[str]:
    """Whole lines per chunk where possible; a line longer than a chunk is cut."""
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        pieces += [line[i : i + _CHUNK] for i in range(0, len(line), _CHUNK)]
    chunks = [""]
    for piece in pieces:
        if len(chunks[-1]) + len(piece) > _CHUNK:
            chunks.append("")
        chunks[-1] += piece
    return [c for c in chunks if c]


async def export_message(record: PostmortemRecord, fmt: str, zone: tzinfo = UTC) -> dict[str, Any]:
    """The export as an ephemeral message; rendering runs in a worker thread, off the event loop
    that acks Slack's requests (a postmortem with a hundred actions is a lot of YAML). Markdown
    shows the timeline's times in ``zone``."""
    text = await asyncio.to_thread(FORMATS[fmt], record.doc, record.links, zone)
    chunks = _chunks(escape(text))
    blocks = [kit.section(f"*{escape(headline(record))}* \u2014 {fmt} export")]
    blocks += [kit.section(f"```{chunk}```") for chunk in chunks[:_MAX_CHUNKS]]
    if len(chunks) > _MAX_CHUNKS:
        blocks.append(kit.context("Cut short: `postmortem-bot export` prints all of it."))
    return {
        "text": f"{escape(headline(record))} ({fmt})",
        "blocks": blocks,
        "response_type": "ephemeral",
    }
