"""Exports posted back into Slack: code blocks cut to Slack's per-block and per-message limits."""

from __future__ import annotations

from typing import Any

from bot.export import to_markdown, to_yaml

from handlers.render import headline
from storage.store import PostmortemRecord

FORMATS = {"yaml": to_yaml, "markdown": to_markdown, "md": to_markdown}
_CHUNK = 2900  # section text holds 3000 characters, with room for the code fences
_MAX_CHUNKS = 45  # messages hold 50 blocks


def _escape(text: str) -> str:
    """Slack reads &, < and > as markup even inside code blocks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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


def export_message(record: PostmortemRecord, fmt: str) -> dict[str, Any]:
    text = FORMATS[fmt](record.doc)
    chunks = _chunks(_escape(text))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline(record)}* \u2014 {fmt} export"}}
    ]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": f"```{c}```"}} for c in chunks[:_MAX_CHUNKS]]
    if len(chunks) > _MAX_CHUNKS:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "Cut short: run `postmortem-bot export` for all of it."}],
            }
        )
    return {"text": f"{headline(record)} ({fmt})", "blocks": blocks, "response_type": "ephemeral"}
