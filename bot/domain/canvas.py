"""The postmortem as a canvas: one ``##`` heading per template section, each followed by its answers.

The canvas is a view of the stored postmortem, never its source: each section's text is a
function of the document, so the canvas is brought up to date by replacing the sections
whose text changed, found again by their headings.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from bot.domain import template as t
from bot.domain.document import Postmortem
from bot.domain.export.markdown import section_markdown
from bot.domain.links import NO_LINKS, LinkTemplates

_STRUCTURE = re.compile(r"^(\s*)(#|```|~~~)", re.MULTILINE)
"""A line of an answer that would open a heading (and so a section of its own) or a code block."""


@dataclass(frozen=True)
class CanvasSection:
    key: str
    heading: str
    """The heading's text, unique within the canvas: how the section is looked up."""
    markdown: str
    """The whole section: its heading line and its answers."""

    @property
    def digest(self) -> str:
        """What the canvas was last given for this section, kept short in the database."""
        return hashlib.sha256(self.markdown.encode()).hexdigest()[:16]


def heading(section: t.Section) -> str:
    return f"{section.number}. {section.title}"


def _inert(text: str) -> str:
    """Answers are text: a line of theirs never becomes a heading or a code fence of the canvas."""
    return _STRUCTURE.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


def canvas_sections(pm: Postmortem, links: LinkTemplates = NO_LINKS) -> list[CanvasSection]:
    return [
        CanvasSection(s.key, heading(s), f"## {heading(s)}\n\n{_inert(section_markdown(pm, s, links))}")
        for s in pm.template.sections
    ]


def canvas_markdown(pm: Postmortem, links: LinkTemplates = NO_LINKS) -> str:
    """The whole canvas, as it is created; the ids ``links`` has templates for are links."""
    return "\n\n".join(s.markdown for s in canvas_sections(pm, links))


def canvas_title(pm: Postmortem) -> str:
    return f"Postmortem · {pm.incident_id or pm.template.title}"
