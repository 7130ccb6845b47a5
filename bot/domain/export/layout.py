"""Where each answer lives in a template's YAML file: the layout export and import share.

The file has a ``postmortem:`` root, in four parts, in this order, then ``template:``:

1. The keys the template fixes: every field with an ``export:`` path, in template order,
   and the action list under its section's ``export:`` key (an action created from a
   message also carries ``source_message``, its permalink). For the built-in template these
   are section 11's keys, exactly as the spec prints them: ``incident_id``, ``severity``,
   ``owner``, ``active_artifacts``, ``root_cause``, ``corrective_actions`` and
   ``lifecycle_updates``. They are always present, ``null`` when unknown, so every file has
   the template's shape.
2. Every other answer, one mapping per section, under the section's own key
   (``summary``, ``what_happened``, ``artifacts``, ...). **Rule for further keys:** when a
   section's key is already one of the fixed keys (section 5 ``root_cause``), its
   remaining answers go under ``<section key>_details`` (``root_cause_details``), so the
   fixed mappings hold exactly the template's keys. Empty answers and empty sections are left out.
3. ``channel_timeline``, only when messages were captured from the channel: a list of
   entries in time order, each ``at`` (ISO 8601, UTC), ``author``, ``text`` (the summary
   people gave it, else the message), ``permalink``, and ``files``/``deleted`` when they
   apply. It is ignored on import (the messages stay in Slack).
4. ``checklist``: computed from the answers and marked so by a comment. It is ignored on import.

``template:`` (``name``, ``version``) says which template version the answers belong to,
beside ``postmortem:`` so that the postmortem's own layout stays the template's. ``eval_cases:``,
when there are any, follows it: the structured cases of ``bot.domain.evals``, each naming the
corrective actions it is the regression eval of by their position in the action list.

Everything is derived from the postmortem's template (``bot.domain.template``); there is no
per-field code, so a field added to a template file is exported, imported and rendered
without a change here or in the formats. For the built-in template the file is section 11 of the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from bot.domain import template as t

ROOT = "postmortem"
TEMPLATE_KEY = "template"
CHECKLIST_KEY = "checklist"
TIMELINE_KEY = "channel_timeline"
EVALS_KEY = "eval_cases"
"""Beside ``postmortem:``, so the template's own keys stay exactly its own."""
ACTION_SOURCE_KEY = "source_message"
"""An action created from a Slack message: that message's permalink, after the template's own keys."""
EVAL_ACTIONS_KEY = "regression_eval_of"
"""A case's corrective actions in the file: their positions (from 1) in the action list."""
DETAILS_SUFFIX = "_details"
LIST_KINDS = frozenset({t.Kind.LINES, t.Kind.MULTI_CHOICE, t.Kind.USERS})


@dataclass(frozen=True)
class Slot:
    """Where one template field's answer lives in the file."""

    section: t.Section
    field: t.Field


class ActionList:
    """The corrective actions: a list under the action section's key, not a mapping of fields."""


class Computed:
    """Written on export for readers, ignored on import (the checklist)."""


ACTION_LIST = ActionList()
COMPUTED = Computed()
Layout = dict[str, Any]  # key -> Slot | ActionList | Computed | nested Layout


@dataclass(frozen=True)
class Layouts:
    fixed: Layout
    further: Layout
    file: Layout
    action_keys: tuple[str, ...]
    """Each action's keys in the file: the template's ``export_first``, then its other fields."""


def _fixed_layout(template: t.Template) -> Layout:
    """The keys the template fixes, in template order, from the ``export`` paths."""
    layout: Layout = {}
    for section in template.sections:
        if section.is_action_list:
            layout[section.export] = ACTION_LIST
        for f in section.fields:
            if f.export:
                *parents, leaf = f.export
                node = layout
                for parent in parents:
                    node = node.setdefault(parent, {})
                node[leaf] = Slot(section, f)
    return layout


def _further_layout(template: t.Template, taken: set[str]) -> Layout:
    """One mapping per section for the answers the fixed keys do not place (see module docstring)."""
    layout: Layout = {}
    for section in template.form_sections:
        rest = {f.key: Slot(section, f) for f in section.fields if not f.export}
        if rest:
            layout[section.key + DETAILS_SUFFIX if section.key in taken else section.key] = rest
    return layout


@cache
def layouts(template: t.Template) -> Layouts:
    fixed = _fixed_layout(template)
    further = _further_layout(template, set(fixed) | {CHECKLIST_KEY, TIMELINE_KEY})
    first = template.action_export_first
    keys = first + tuple(f.key for f in template.action_fields if f.key not in first)
    return Layouts(fixed, further, {**fixed, **further, TIMELINE_KEY: COMPUTED, CHECKLIST_KEY: COMPUTED}, keys)


def checklist_number(template: t.Template) -> int:
    """The checklist follows the sections and the YAML file, as sections 11 and 12 follow 1-10 in the spec."""
    return len(template.sections) + 2
