"""The stand-in's canvases: channel canvases, standalone ones, their edits and section lookups.

A canvas is kept as a list of sections, as Slack addresses them: each heading starts a
section that runs to the next heading (the text before the first heading is a section of
its own). ``canvases.sections.lookup`` finds headings by type and text, and
``canvases.edit`` applies Slack's operations to a section id or to the whole canvas.
``free_plan`` makes the workspace refuse channel canvases as a free team's does.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.slackdev.wire import JSON, ApiError

_HEADING = re.compile(r"^(#{1,3}) +(.*\S)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SECTION_TYPES = {"h1", "h2", "h3", "any_header"}
_OPERATIONS = {"insert_after", "insert_before", "insert_at_start", "insert_at_end", "replace", "delete"}
_NEEDS_SECTION = {"insert_after", "insert_before", "delete"}
MAX_MARKDOWN = 1_048_576


@dataclass
class _Section:
    id: str
    markdown: str

    @property
    def heading(self) -> tuple[str, str] | None:
        """(h1|h2|h3, text) of the heading this section starts with; None for text before any heading."""
        match = _HEADING.match(self.markdown.split("\n", 1)[0])
        return (f"h{len(match.group(1))}", match.group(2)) if match else None


@dataclass
class _Canvas:
    id: str
    title: str
    channel_id: str | None
    is_channel_canvas: bool
    sections: list[_Section] = field(default_factory=list)


def _chunks(markdown: str) -> list[str]:
    """Markdown cut before each heading that is not inside a code block."""
    chunks: list[list[str]] = [[]]
    fenced = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and _HEADING.match(line) and any(s.strip() for s in chunks[-1]):
            chunks.append([])
        chunks[-1].append(line)
    return [text for chunk in chunks if (text := "\n".join(chunk).strip())]


def _content(params: JSON, key: str = "document_content") -> str | None:
    content = params.get(key)
    if content is None:
        return None
    if (
        not isinstance(content, dict)
        or content.get("type") != "markdown"
        or not isinstance(content.get("markdown"), str)
    ):
        raise ApiError("invalid_arguments", detail=f"{key} must be {{'type': 'markdown', 'markdown': ...}}")
    if len(content["markdown"]) > MAX_MARKDOWN:
        raise ApiError("canvas_creation_failed", detail="markdown over 1 MiB")
    return str(content["markdown"])


class Canvases:
    """Canvases of the workspace, by id; a channel has at most one channel canvas."""

    free_plan: bool

    def __init__(self) -> None:
        self.free_plan = False
        self._canvases: dict[str, _Canvas] = {}
        self._canvas_ids = itertools.count(1)
        self._section_ids = itertools.count(1)

    def canvas_methods(self) -> dict[str, Callable[[JSON], JSON]]:
        return {
            "conversations.canvases.create": self._conversations_canvases_create,
            "conversations.info": self._conversations_info,
            "canvases.create": self._canvases_create,
            "canvases.edit": self._canvases_edit,
            "canvases.sections.lookup": self._canvases_sections_lookup,
        }

    # ---- test-side accessors ----------------------------------------------

    def canvas_ids(self) -> list[str]:
        return list(self._canvases)

    def canvas_markdown(self, canvas_id: str) -> str:
        """The canvas's document, its sections joined as they were written."""
        return "\n\n".join(s.markdown for s in self._canvases[canvas_id].sections)

    def channel_canvas(self, channel_id: str) -> str | None:
        return next((c.id for c in self._canvases.values() if c.is_channel_canvas and c.channel_id == channel_id), None)

    def canvas_channel(self, canvas_id: str) -> str | None:
        """The channel whose tabs hold the canvas (its own canvas, or a standalone one added there)."""
        return self._canvases[canvas_id].channel_id

    # ---- methods ----------------------------------------------------------

    def _new_canvas(self, params: JSON, channel_id: str | None, *, channel_canvas: bool) -> JSON:
        canvas = _Canvas(
            f"F0CANVAS{next(self._canvas_ids):03d}", str(params.get("title") or ""), channel_id, channel_canvas
        )
        canvas.sections = self._sections(_content(params) or "")
        self._canvases[canvas.id] = canvas
        return {"canvas_id": canvas.id}

    def _conversations_canvases_create(self, params: JSON) -> JSON:
        channel_id = str(params.get("channel_id") or "")
        if not channel_id:
            raise ApiError("invalid_arguments", detail="channel_id is required")
        if self.free_plan:
            raise ApiError("team_tier_cannot_create_channel_canvases")
        if self.channel_canvas(channel_id):
            raise ApiError("channel_canvas_already_exists")
        return self._new_canvas(params, channel_id, channel_canvas=True)

    def _canvases_create(self, params: JSON) -> JSON:
        channel_id = str(params.get("channel_id") or "") or None
        if self.free_plan and not channel_id:
            raise ApiError("invalid_arguments", detail="channel_id is required for free teams")
        return self._new_canvas(params, channel_id, channel_canvas=False)

    def _conversations_info(self, params: JSON) -> JSON:
        channel_id = str(params.get("channel") or "")
        if not channel_id or channel_id[0] not in "CG":
            raise ApiError("channel_not_found")
        canvas = self.channel_canvas(channel_id)
        properties = {"canvas": {"file_id": canvas, "is_empty": not self._canvases[canvas].sections}} if canvas else {}
        return {"channel": {"id": channel_id, "is_private": channel_id[0] == "G", "properties": properties}}

    def _canvas(self, params: JSON) -> _Canvas:
        canvas = self._canvases.get(str(params.get("canvas_id") or ""))
        if canvas is None:
            raise ApiError("canvas_not_found")
        return canvas

    def _canvases_sections_lookup(self, params: JSON) -> JSON:
        canvas = self._canvas(params)
        criteria = params.get("criteria")
        if isinstance(criteria, str):  # form-encoded calls carry it as JSON text
            with contextlib.suppress(ValueError):
                criteria = json.loads(criteria)
        if not isinstance(criteria, dict) or not (criteria.get("section_types") or criteria.get("contains_text")):
            raise ApiError("invalid_arguments", detail="criteria needs section_types or contains_text")
        types = set(criteria.get("section_types") or ["any_header"])
        if not types <= _SECTION_TYPES or len(types) > 3:
            raise ApiError("invalid_arguments", detail=f"section_types: one to three of {sorted(_SECTION_TYPES)}")
        text = str(criteria.get("contains_text") or "")
        found = [
            s.id
            for s in canvas.sections
            if (head := s.heading) and ("any_header" in types or head[0] in types) and text in head[1]
        ]
        return {"sections": [{"id": section_id} for section_id in found]}

    def _canvases_edit(self, params: JSON) -> JSON:
        canvas = self._canvas(params)
        changes = params.get("changes")
        if not isinstance(changes, list) or len(changes) != 1 or not isinstance(changes[0], dict):
            raise ApiError("invalid_arguments", detail="changes: exactly one change")
        self._apply(canvas, changes[0])
        return {}

    def _apply(self, canvas: _Canvas, change: JSON) -> None:
        operation = change.get("operation")
        if operation not in _OPERATIONS:
            raise ApiError("invalid_arguments", detail=f"operation: one of {sorted(_OPERATIONS)}")
        section_id = change.get("section_id")
        markdown = _content(change)
        if operation != "delete" and markdown is None:
            raise ApiError("invalid_arguments", detail=f"{operation} needs document_content")
        if operation in _NEEDS_SECTION and not section_id:
            raise ApiError("invalid_arguments", detail=f"{operation} needs a section_id")
        new = self._sections(markdown or "")
        if operation == "insert_at_start":
            canvas.sections[:0] = new
            return
        if operation == "insert_at_end":
            canvas.sections += new
            return
        if operation == "replace" and not section_id:
            canvas.sections = new
            return
        at = next((i for i, s in enumerate(canvas.sections) if s.id == section_id), None)
        if at is None:
            raise ApiError("canvas_editing_failed", detail=f"no section {section_id}")
        span = {"insert_before": (at, at), "insert_after": (at + 1, at + 1)}.get(operation, (at, at + 1))
        canvas.sections[span[0] : span[1]] = [] if operation == "delete" else new

    def _sections(self, markdown: str) -> list[_Section]:
        return [_Section(f"temp:C:S{next(self._section_ids):06d}", chunk) for chunk in _chunks(markdown)]
