"""Block Kit of the timeline: the entry modal of the shortcut, and the list in the timeline section's modal."""

from __future__ import annotations

from typing import Any

from bot.domain.timeline import SUMMARY_MAX, TimelineEntry
from handlers.builders import blocks as kit
from handlers.builders import render
from handlers.support.metadata import Sealed

ENTRY_CALLBACK = "timeline_entry"
SUMMARY_BLOCK = "timeline_summary"
SUMMARY_INPUT = "summary"
ENTRY_MENU = "timeline_entry_menu"
EDIT, REMOVE = "edit", "remove"
MENU_CHOICES = ((EDIT, "Edit"), (REMOVE, "Remove"))
"""A listed item's menu (a timeline entry, an eval case): its options' values are ``<choice>:<id>``."""
EDIT_CALLBACK = "timeline_edit"
LISTED_MAX = 40
"""Entries listed in the section's modal (Slack allows 100 blocks); the export carries them all."""


class EntryMeta(Sealed):
    """The message the entry modal is about; its text travels as the summary input's initial value."""

    team: str
    channel: str
    postmortem: int
    ts: str
    author: str
    permalink: str
    files: tuple[str, ...] = ()


class EditMeta(Sealed):
    """The entry the summary modal edits, and the section modal under it (refreshed after the save)."""

    entry: int
    parent_view: str
    parent_meta: str
    """The section modal's own sealed metadata: it names the postmortem, its team and channel."""


def entry_choice(value: str) -> tuple[str, int]:
    """``edit:12`` -> (``edit``, 12): what a row's menu asks for, and of which entry."""
    choice, _, entry = value.partition(":")
    return choice, int(entry)


def entry_modal(meta: EntryMeta, text: str) -> dict[str, Any]:
    element = {
        "type": "plain_text_input",
        "action_id": SUMMARY_INPUT,
        "multiline": True,
        "max_length": SUMMARY_MAX,
        "initial_value": text[:SUMMARY_MAX],
    }
    blocks = [
        kit.context(f"<@{meta.author}> at <!date^{int(float(meta.ts))}^{{date_short}} {{time}}|{meta.ts}>"),
        kit.input_block("What happened", element, block_id=SUMMARY_BLOCK),
    ]
    return kit.modal(
        "Add to timeline",
        blocks,
        callback_id=ENTRY_CALLBACK,
        submit="Add",
        close="Cancel",
        private_metadata=meta.dump(),
    )


def edit_modal(meta: EditMeta, entry: TimelineEntry) -> dict[str, Any]:
    element = {
        "type": "plain_text_input",
        "action_id": SUMMARY_INPUT,
        "multiline": True,
        "max_length": SUMMARY_MAX,
        "initial_value": entry.shown[:SUMMARY_MAX],
    }
    return kit.modal(
        "Edit timeline entry",
        [kit.context(_line(entry)[:3000]), kit.input_block("What happened", element, block_id=SUMMARY_BLOCK)],
        callback_id=EDIT_CALLBACK,
        submit="Save",
        close="Back",
        private_metadata=meta.dump(),
    )


def typed_summary(view: dict[str, Any]) -> str:
    return str(view["state"]["values"][SUMMARY_BLOCK][SUMMARY_INPUT].get("value") or "")[:SUMMARY_MAX]


def message_text(view: dict[str, Any]) -> str:
    """The message's text as the modal showed it (Slack sends the whole view with a submission)."""
    block = next(b for b in view["blocks"] if b.get("block_id") == SUMMARY_BLOCK)
    return str(block["element"].get("initial_value") or "")


def _line(entry: TimelineEntry) -> str:
    when = f"<!date^{int(entry.at.timestamp())}^{{date_short}} {{time}}|{entry.at:%Y-%m-%d %H:%M} UTC>"
    text = render.escape(render.truncate(entry.shown, 500))
    gone = " _(message deleted)_" if entry.deleted else ""
    link = f" <{entry.permalink}|link>" if entry.permalink.startswith("https://") else ""
    link += "".join(f" <{url}|file {n}>" for n, url in enumerate(entry.files, 1) if url.startswith("https://"))
    return f"*{when}* {render.person(entry.author)}{gone}{link}\n{text}"


def timeline_blocks(entries: list[TimelineEntry]) -> list[kit.JSON]:
    """The captured messages in time order, each with a menu to edit its summary or remove it;
    the form's own fields follow."""
    blocks: list[kit.JSON] = [kit.context(f"*Timeline from the channel* \u00b7 {len(entries)} entries")]
    for entry in entries[:LISTED_MAX]:
        menu = kit.overflow(ENTRY_MENU, [kit.option(f"{c}:{entry.id}", label) for c, label in MENU_CHOICES])
        blocks.append(kit.section(render.truncate(_line(entry), 3000), block_id=f"entry-{entry.id}", accessory=menu))
    if len(entries) > LISTED_MAX:
        blocks.append(kit.context(f"\u2026 and {len(entries) - LISTED_MAX} more in the export"))
    if not entries:
        blocks.append(
            kit.context("_Nothing yet: use the message shortcut *Add to postmortem timeline*, react or pin._")
        )
    blocks.append(kit.divider())
    return blocks
