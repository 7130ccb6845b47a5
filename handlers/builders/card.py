"""The card's blocks: one message in the incident channel (``handlers.support.refresh`` posts and edits it)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.domain import template as t
from handlers.builders import blocks as kit
from handlers.builders import render
from storage.records import PostmortemRecord

CARD_EDIT = "card_edit"
CARD_CONTINUE = "card_continue"
CARD_EXPORT = "card_export"


def _byline(record: PostmortemRecord) -> str:
    parts = [f"Owner {render.person(record.owner)}"]
    if record.last_edited_by:
        parts.append(f"last edit by <@{record.last_edited_by}> {render.when(record.last_edited_at)}")
    return " \u00b7 ".join(parts)


def canvas_url(team_id: str, canvas_id: str) -> str:
    return f"https://app.slack.com/docs/{team_id}/{canvas_id}"


def _canvas_note(record: PostmortemRecord) -> list[kit.JSON]:
    """Where the channel could have no canvas of its own, the card says so, once, and links to the one kept."""
    if not (record.canvas_standalone and record.canvas_id):
        return []
    link = f"<{canvas_url(record.team_id, record.canvas_id)}|the postmortem's canvas>"
    return [kit.context(f":memo: This workspace can't give the channel a canvas, so I keep {link} beside it.")]


def _tallies(record: PostmortemRecord, today: date) -> str:
    """Corrective actions, timeline entries and, where the template asks for them, eval cases."""
    counts = render.action_counts(record.doc, today, record.gone)
    text = f"*Corrective actions:* {counts.text()} \u00b7 *Timeline:* {len(record.doc.timeline)} entries"
    if record.template.role(t.Role.EVAL_CASES):
        text += f" \u00b7 *Eval cases:* {len(record.doc.evals)}"
    return text


def card_blocks(record: PostmortemRecord, today: date) -> list[kit.JSON]:
    blocks = [
        kit.header(render.truncate(render.headline(record), 150)),
        kit.context(_byline(record)),
        *_canvas_note(record),
    ]
    if links := render.links_text(record):
        blocks.append(kit.context(links))
    blocks.append(kit.section(render.sections_done(record)))
    blocks += [
        kit.section(
            render.section_line(record, s),
            block_id=f"section-{s.key}",
            accessory=kit.button("Edit", CARD_EDIT, value=s.key),
        )
        for s in record.template.sections
    ]
    blocks += [
        kit.divider(),
        kit.section(render.checklist_text(record.doc)),
        kit.section(_tallies(record, today)),
        kit.actions(
            kit.button("Continue", CARD_CONTINUE, style="primary", value=str(record.id)),
            kit.button("Export", CARD_EXPORT, value=str(record.id)),
        ),
    ]
    return blocks


def card_message(record: PostmortemRecord, today: date) -> dict[str, Any]:
    return {"text": render.escape(render.headline(record)), "blocks": card_blocks(record, today)}
