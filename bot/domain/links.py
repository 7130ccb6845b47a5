"""Trace links: the operator's URL templates (``TRACE_URL_TEMPLATE``, ``SESSION_URL_TEMPLATE``,
``CHANGE_URL_TEMPLATE``) turn the artifact ids a postmortem names into addresses.

The ids are found by the roles the template declares (``trace_id``, ``session_id``,
``change_id``), never by a field's key. An id is URL-encoded into its template; an id that is
not one plain token (spaces, markup, pipes) is never linked, so a typed ``>`` or ``|`` cannot
close a Slack link or a Markdown one early. The card, the modals, the canvas and the Markdown
export all render from ``artifact_links``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from urllib.parse import quote

from bot.domain import template as t
from bot.domain.document import Postmortem

LINKED_ROLES: dict[t.Role, str] = {
    t.Role.TRACE_ID: "Trace",
    t.Role.SESSION_ID: "Session",
    t.Role.CHANGE_ID: "Change",
}
"""The roles whose ids can be links, and how each is named beside its link."""
PLAIN_TOKEN = re.compile(r"^[A-Za-z0-9._:/@+=~-]{1,150}$")
URL_START = re.compile(r"^https?://[^\s<>|{}]+")


def placeholder(role: t.Role) -> str:
    return "{" + role.value + "}"


def check_url_template(value: str, role: t.Role) -> str:
    """``value`` if it is an http(s) address with exactly ``{<role>}`` in it; ValueError says why not."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError:
        raise ValueError(f"unbalanced braces in {value!r}") from None
    others = sorted({f"{{{name}}}" for name in names if name != role.value})
    if others:
        raise ValueError(f"only {placeholder(role)} may be in it, not {', '.join(others)}")
    if not names:
        raise ValueError(f"needs the placeholder {placeholder(role)}, e.g. https://example.com/{placeholder(role)}")
    if not URL_START.match(value):
        raise ValueError(f"must be an http(s) address, not {value!r}")
    return value


@dataclass(frozen=True)
class LinkTemplates:
    """The operator's URL template per role; a role without one is never linked."""

    by_role: dict[t.Role, str]

    def url(self, role: t.Role, ident: str) -> str | None:
        """The address of ``ident``, or None: no template for the role, or not a plain token."""
        pattern = self.by_role.get(role)
        if not pattern or not PLAIN_TOKEN.match(ident):
            return None
        return pattern.replace(placeholder(role), quote(ident, safe=""))


NO_LINKS = LinkTemplates({})


@dataclass(frozen=True)
class ArtifactLink:
    """One id a postmortem names: ``url`` is None when it is shown unlinked."""

    label: str
    ident: str
    url: str | None


def artifact_links(pm: Postmortem, links: LinkTemplates) -> list[ArtifactLink]:
    """The answered ids of the linked roles, in the roles' order; empty when no template is set."""
    if not links.by_role:
        return []
    found = []
    for role, label in LINKED_ROLES.items():
        value = pm.role(role)
        if isinstance(value, str) and value.strip():
            found.append(ArtifactLink(label, value.strip(), links.url(role, value.strip())))
    return found


def link_for(pm: Postmortem, links: LinkTemplates, ref: t.FieldRef) -> str | None:
    """The address of the answer at ``ref`` when that field plays a linked role."""
    for role in LINKED_ROLES:
        if pm.template.role(role) == ref:
            value = pm.value(ref.section, ref.field)
            return links.url(role, value.strip()) if isinstance(value, str) else None
    return None
