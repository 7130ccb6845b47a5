"""Exports of a postmortem: its template's YAML file (and its import) and a readable Markdown file.

Everything here is derived from the postmortem's template (``bot.template``); there is no
per-field code, so a field added to a template file is exported, imported and rendered
without a change here. For the built-in template the file is section 11 of the spec.

The YAML file has a ``postmortem:`` root, in three parts, in this order, then ``template:``:

1. The keys the template fixes: every field with an ``export:`` path, in template order,
   and the action list under its section's ``export:`` key. For the built-in template these
   are section 11's keys, exactly as the spec prints them: ``incident_id``, ``severity``,
   ``owner``, ``active_artifacts``, ``root_cause``, ``corrective_actions`` and
   ``lifecycle_updates``. They are always present, ``null`` when unknown, so every file has
   the template's shape.
2. Every other answer, one mapping per section, under the section's own key
   (``summary``, ``what_happened``, ``artifacts``, ...). **Rule for further keys:** when a
   section's key is already one of the fixed keys (section 5 ``root_cause``), its
   remaining answers go under ``<section key>_details`` (``root_cause_details``), so the
   fixed mappings hold exactly the template's keys. Empty answers and empty sections are left out.
3. ``checklist``: computed from the answers and marked so by a comment. It is ignored on import.

``template:`` (``name``, ``version``) says which template version the answers belong to,
beside ``postmortem:`` so that the postmortem's own layout stays the template's.

Import (``from_yaml``) is the inverse and is strict, because a file is edited by hand: unknown
keys, wrong types and invalid answers are refused with the line of the offending key. It is
not strict about completeness: a file carrying only the fixed keys is a valid postmortem,
whose sections hold what was given. A file without ``template:`` is read with the default
template. Hostile files are refused by the reader of ``bot.yamlfile``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

import yaml

from bot import template as t
from bot.catalog import builtin, default_catalog
from bot.checklist import ChecklistItem, checklist
from bot.document import (
    CorrectiveAction,
    Postmortem,
    SectionErrors,
    action_answers,
    drop_blank,
    is_blank,
    is_user_id,
    validate_action,
    validate_section,
)
from bot.yamlfile import MAX_FILE_BYTES, FileProblems, Mapping, Problems, Sequence, describe, load, plain

ROOT = "postmortem"
TEMPLATE_KEY = "template"
CHECKLIST_KEY = "checklist"
CHECKLIST_NOTE = "section 12, computed from the answers above: ignored on import"
DETAILS_SUFFIX = "_details"
YAML_TITLE = "YAML"
NOT_ANSWERED = "_not answered_"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_IMPORT_BYTES = MAX_FILE_BYTES
IMPORT_LIMIT = "the import limit (an exported postmortem is a few KiB)"
TEXT_KINDS = frozenset({t.Kind.SHORT_TEXT, t.Kind.LONG_TEXT, t.Kind.USER, t.Kind.CHOICE, t.Kind.URL})
LIST_KINDS = frozenset({t.Kind.LINES, t.Kind.MULTI_CHOICE, t.Kind.USERS})
ImportFileError = FileProblems
TemplateFor = Callable[[str | None, str | None, int | None], t.Template]
"""The template a file's ``template:`` names (name, version, its line); raises ImportFileError if none."""


# --- the file's layout, derived once per template version -----------------------------------------


@dataclass(frozen=True)
class _Slot:
    """Where one template field's answer lives in the file."""

    section: t.Section
    field: t.Field


class _ActionList:
    """The corrective actions: a list under the action section's key, not a mapping of fields."""


class _Computed:
    """Written on export for readers, ignored on import (the checklist)."""


_ACTION_LIST = _ActionList()
_COMPUTED = _Computed()
Layout = dict[str, Any]  # key -> _Slot | _ActionList | _Computed | nested Layout


@dataclass(frozen=True)
class _Layouts:
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
            layout[section.export] = _ACTION_LIST
        for f in section.fields:
            if f.export:
                *parents, leaf = f.export
                node = layout
                for parent in parents:
                    node = node.setdefault(parent, {})
                node[leaf] = _Slot(section, f)
    return layout


def _further_layout(template: t.Template, taken: set[str]) -> Layout:
    """One mapping per section for the answers the fixed keys do not place (see module docstring)."""
    layout: Layout = {}
    for section in template.form_sections:
        rest = {f.key: _Slot(section, f) for f in section.fields if not f.export}
        if rest:
            layout[section.key + DETAILS_SUFFIX if section.key in taken else section.key] = rest
    return layout


@cache
def layouts(template: t.Template) -> _Layouts:
    fixed = _fixed_layout(template)
    further = _further_layout(template, set(fixed) | {CHECKLIST_KEY})
    first = template.action_export_first
    keys = first + tuple(f.key for f in template.action_fields if f.key not in first)
    return _Layouts(fixed, further, {**fixed, **further, CHECKLIST_KEY: _COMPUTED}, keys)


# --- export: YAML -------------------------------------------------------------------------------


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def yaml_dumper(base: type[yaml.SafeDumper]) -> type[yaml.SafeDumper]:
    """``safe_dump`` with multi-line answers as ``|`` blocks and never an anchor, which import refuses.

    Built on libyaml's emitter when PyYAML has it (twenty times faster), else on PyYAML's own:
    both write list items at their key's indentation, so the file is the same either way.
    """

    class Dumper(base):  # type: ignore[valid-type, misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True

    Dumper.add_representer(str, _represent_str)
    return Dumper


DUMPER = yaml_dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper))


def _to_yaml_value(kind: t.Kind, value: Any) -> Any:
    """A stored JSON answer as a YAML scalar of its own type (dates as dates), None when blank."""
    if is_blank(value):
        return None
    try:
        if kind is t.Kind.DATE and isinstance(value, str):
            return date.fromisoformat(value)
        if kind is t.Kind.DATETIME and isinstance(value, str):
            return datetime.fromisoformat(value)
    except ValueError:
        return value  # stored before validation tightened: keep the text rather than lose it
    if kind is t.Kind.YES_NO and isinstance(value, dict):
        return {k: v for k, v in value.items() if not is_blank(v)}
    return value


def _stored(pm: Postmortem, slot: _Slot) -> Any:
    value = pm.value(slot.section.key, slot.field.key)
    if value is None and pm.template.role(t.Role.INCIDENT_ID) == t.FieldRef(slot.section.key, slot.field.key):
        return pm.incident_id
    return value


def _export(layout: Layout, pm: Postmortem, keep_empty: bool) -> dict[str, Any]:
    """One mapping of the file; ``keep_empty`` keeps null keys so the fixed keys keep their shape."""
    out: dict[str, Any] = {}
    for key, node in layout.items():
        if isinstance(node, _Slot):
            value = _to_yaml_value(node.field.kind, _stored(pm, node))
        elif isinstance(node, _ActionList):
            value = [_action_to_yaml(pm.template, a) for a in pm.actions]
        elif isinstance(node, dict):
            value = _export(node, pm, keep_empty) or None
        else:
            continue
        if keep_empty or value is not None:
            out[key] = value
    return out


def _action_to_yaml(template: t.Template, action: CorrectiveAction) -> dict[str, Any]:
    """The template's ``export_first`` keys always, then the other fields when not empty; no id."""
    stored = action_answers(template, action)
    out: dict[str, Any] = {}
    for key in layouts(template).action_keys:
        value = _to_yaml_value(template.action_field(key).kind, stored[key])
        if key in template.action_export_first or value is not None:
            out[key] = value
    return out


def _checklist_to_yaml(items: list[ChecklistItem]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for item in items:
        entry = {"question": item.question, "answer": item.answer}
        if item.missing:
            entry["missing"] = item.missing.removeprefix("missing: ")
        out.append(entry)
    return out


def checklist_number(template: t.Template) -> int:
    """The checklist follows the sections and the YAML file, as sections 11 and 12 follow 1-10 in the spec."""
    return len(template.sections) + 2


def to_yaml(pm: Postmortem, dumper: type[yaml.SafeDumper] = DUMPER) -> str:
    """The template's YAML file for ``pm`` (see the module docstring for its layout)."""
    layout = layouts(pm.template)
    document = _export(layout.fixed, pm, keep_empty=True)
    for key, sections_fields in layout.further.items():
        if answers := _export(sections_fields, pm, keep_empty=False):
            document[key] = answers
    document[CHECKLIST_KEY] = _checklist_to_yaml(checklist(pm))
    version = {"name": pm.template.name, "version": pm.template.version}
    text = yaml.dump(
        {ROOT: document, TEMPLATE_KEY: version}, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100
    )
    # A comment cannot be dumped; the key is indented once and alone on its line, so this is exact.
    key_line = f"\n  {CHECKLIST_KEY}:\n"
    note = f"section {checklist_number(pm.template)}, computed from the answers above: ignored on import"
    return text.replace(key_line, f"\n  # {note}{key_line}", 1)


@dataclass(frozen=True)
class _Given:
    """A value found in the file, with where it was, for messages."""

    value: Any
    where: str
    line: int | None


@dataclass
class _Reading:
    answers: dict[str, dict[str, _Given]] = field(default_factory=dict)
    actions: _Given | None = None


# --- import: reading the file -------------------------------------------------------------------


def _load(text: str) -> Mapping:
    """The file's top-level mapping, or ImportFileError for anything that is not such a file."""
    data = load(text, f"a `{ROOT}:` mapping")
    if ROOT not in data:
        found = ", ".join(map(repr, data))
        raise ImportFileError(data.line, f"no `{ROOT}:` root (found {found})")
    problems = Problems()
    for key in data:
        if key not in (ROOT, TEMPLATE_KEY):
            problems.add(data.line_of(key), f"unknown key {key!r} next to `{ROOT}:`; only `{TEMPLATE_KEY}:` goes there")
    problems.raise_if_any()
    return data


def template_named(data: Mapping) -> tuple[str | None, str | None, int | None]:
    """The template name and version a loaded file gives under ``template:`` (None, None when it gives none)."""
    given = data.get(TEMPLATE_KEY)
    line = data.line_of(TEMPLATE_KEY)
    if given is None:
        return None, None, line
    if not isinstance(given, Mapping) or not isinstance(given.get("name"), str) or set(given) - {"name", "version"}:
        raise ImportFileError(line, f"`{TEMPLATE_KEY}:` must be a mapping of name and version, not {describe(given)}")
    version = given.get("version")
    return given["name"], str(version) if version is not None else None, line


def named_template(text: str) -> tuple[str | None, str | None, int | None]:
    """Which template version a file names (see ``template_named``); ImportFileError for a file that is none."""
    return template_named(_load(text))


def known_template(name: str | None, version: str | None, line: int | None) -> t.Template:
    """The default resolution: the templates shipped with the app, at their current version."""
    if name is None:
        return builtin()
    template = default_catalog().current.get(name)
    if template is None:
        raise ImportFileError(line, f"no template named {name!r} (have: {', '.join(default_catalog().names)})")
    if version is not None and version != template.version:
        raise ImportFileError(line, f"template {name} has no version {version} here (current: {template.version})")
    return template


def _unknown_key(key: Any, where: str, expected: Iterable[str]) -> str:
    """Name the stray key and the ones that belong there: most unknown keys are typos."""
    return f"unknown key {key!r} in {where}; expected one of: {', '.join(expected)}"


def _read(layout: Layout, mapping: Mapping, where: str, reading: _Reading, problems: Problems) -> None:
    """Sort the file's values into the template's fields, refusing keys the layout does not have."""
    for key, value in mapping.items():
        line, here = mapping.line_of(key), f"{where}.{key}"
        node = layout.get(key) if isinstance(key, str) else None
        if node is None:
            problems.add(line, _unknown_key(key, where, layout))
        elif isinstance(node, _Slot):
            if value is not None:
                reading.answers.setdefault(node.section.key, {})[node.field.key] = _Given(value, here, line)
        elif isinstance(node, _ActionList):
            reading.actions = _Given(value, here, line)
        elif isinstance(node, dict):
            if isinstance(value, Mapping):
                _read(node, value, here, reading, problems)
            elif value is not None:
                problems.add(line, f"{here} must be a mapping of {', '.join(node)}, not {describe(value)}")
        # _Computed: the checklist is recomputed from the answers, whatever the file says


def _as_text(value: Any) -> Any:
    """Identifiers typed bare (``rollout_wave: 3``, ``change_id: 2026-04-07``) load as numbers or dates."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


def _as_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"{value.strip()} is not a real date ({exc})") from exc
    raise ValueError(f"must be a date like 2026-04-12, not {describe(value)}")


def _as_yes_no(value: Any) -> Any:
    """Unquoted ``yes``/``no`` load as booleans; ``answer: yes`` and a bare ``yes`` both mean yes."""
    if isinstance(value, bool | str):
        value = {"answer": value}
    if isinstance(value, dict) and isinstance(value.get("answer"), bool):
        value = {**value, "answer": "yes" if value["answer"] else "no"}
    return value


def _from_yaml_value(kind: t.Kind, value: Any) -> Any:
    """A loaded YAML value as the raw answer ``bot.document`` validates; ValueError says why not."""
    value = plain(value)
    if value is None:
        return None
    if kind is t.Kind.DATE:
        return _as_date(value)
    if kind is t.Kind.YES_NO:
        return _as_yes_no(value)
    if kind in TEXT_KINDS:
        return _as_text(value)
    if kind in LIST_KINDS and isinstance(value, list):
        return [_as_text(v) for v in value]
    return value


def _section_answers(
    template: t.Template, section_key: str, given: dict[str, _Given], problems: Problems
) -> dict[str, Any]:
    """The given answers of one section, checked one by one; absent answers are not an error."""
    section = template.section(section_key)
    raw: dict[str, Any] = {}
    for key, found in given.items():
        try:
            raw[key] = _from_yaml_value(section.field(key).kind, found.value)
        except ValueError as exc:
            problems.add(found.line, f"{found.where}: {exc}")
    if len(raw) < len(given):
        return {}  # a value could not be read; the others are not checked against a half section
    present = drop_blank(raw)
    try:  # the same messages as the Slack modal
        return validate_section(section_key, present, template, partial=True)
    except SectionErrors as exc:
        for key, message in exc.errors.items():
            found = given.get(key)
            problems.add(found.line if found else None, f"{found.where if found else key}: {message}")
        return {}


def _actions_from_yaml(template: t.Template, given: _Given | None, problems: Problems) -> list[CorrectiveAction]:
    """The action rows; a missing category is the title when that is a category, as in the spec's example."""
    if given is None or given.value is None:
        return []
    first = ", ".join(template.action_export_first)
    if not isinstance(given.value, Sequence):
        problems.add(
            given.line, f"{given.where} must be a list of actions, each with {first}; not {describe(given.value)}"
        )
        return []
    actions: list[CorrectiveAction] = []
    for index, item in enumerate(given.value):
        where = f"{given.where}[{index}]"
        if not isinstance(item, Mapping):
            problems.add(given.value.line_of(index), f"{where} must be a mapping with {first}, not {describe(item)}")
            continue
        if action := _action_from_yaml(template, item, where, problems):
            actions.append(action)
    return actions


def _action_from_yaml(template: t.Template, item: Mapping, where: str, problems: Problems) -> CorrectiveAction | None:
    raw: dict[str, Any] = {}
    readable = True
    keys = layouts(template).action_keys
    for key, value in item.items():
        if key not in keys:
            problems.add(item.line_of(key), _unknown_key(key, where, keys))
            readable = False
            continue
        try:
            raw[key] = _from_yaml_value(template.action_field(key).kind, value)
        except ValueError as exc:
            problems.add(item.line_of(key), f"{where}.{key}: {exc}")
            readable = False
    if not readable:
        return None
    title, category = template.action_key(t.ActionRole.TITLE), template.action_key(t.ActionRole.CATEGORY)
    if category and is_blank(raw.get(category)) and raw.get(title) in template.action_field(category).options:
        raw[category] = raw[title]
    try:
        return validate_action(raw, None, template)
    except SectionErrors as exc:
        for key, message in exc.errors.items():
            problems.add(item.line_of(key), f"{where}.{key}: {message}")
        return None


def from_yaml(text: str, template_for: TemplateFor = known_template) -> Postmortem:
    """The postmortem in an exported YAML file; ImportFileError names the line and what is wrong.

    ``template_for`` finds the template version the file names (the default knows the
    shipped templates; the CLI's also asks the database).
    """
    data = _load(text)
    template = template_for(*template_named(data))
    document = data[ROOT]
    layout = layouts(template)
    if not isinstance(document, Mapping):
        raise ImportFileError(
            data.line_of(ROOT), f"`{ROOT}:` must be a mapping of {', '.join(layout.fixed)}, not {describe(document)}"
        )
    problems, reading = Problems(), _Reading()
    _read(layout.file, document, ROOT, reading, problems)
    answers: dict[str, dict[str, Any]] = {}
    for section in template.form_sections:  # template order, so the stored answers read like the form
        given = reading.answers.get(section.key)
        if given and (section_answers := _section_answers(template, section.key, given, problems)):
            answers[section.key] = section_answers
    actions = _actions_from_yaml(template, reading.actions, problems)
    problems.raise_if_any()
    incident_id = template.role(t.Role.INCIDENT_ID)
    found_id = answers.get(incident_id.section, {}).get(incident_id.field) if incident_id else None
    return Postmortem(incident_id=found_id, answers=answers, actions=actions, template=template)


# --- export: Markdown ---------------------------------------------------------------------------


def _md_user(value: str) -> str:
    """Slack renders ``<@U…>`` as a mention; a team name kept from an import stays plain."""
    return f"<@{value}>" if is_user_id(value) else value


def _md_value(kind: t.Kind, value: Any) -> str:
    """One answer as inline Markdown (lists are handled by the caller)."""
    if kind is t.Kind.USER and isinstance(value, str):
        return _md_user(value)
    if kind is t.Kind.YES_NO and isinstance(value, dict):
        label = t.YES_NO_LABELS.get(value.get("answer"), str(value.get("answer")))
        return f"{label} — {value['details']}" if value.get("details") else label
    if kind is t.Kind.DATETIME and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M %Z").strip()
        except ValueError:
            return value
    if kind is t.Kind.USERS and isinstance(value, list):
        return ", ".join(_md_user(v) for v in value)
    return value.isoformat() if isinstance(value, date) else str(value)


def _md_field(f: t.Field, value: Any) -> str:
    label = f"**{f.label}:**"
    if is_blank(value):
        return f"{label} {NOT_ANSWERED}"
    if f.kind in LIST_KINDS:
        return label + "\n\n" + "\n".join(f"- {_md_user(v) if f.kind is t.Kind.USERS else v}" for v in value)
    text = _md_value(f.kind, value)
    return f"{label}\n\n{text}" if "\n" in text else f"{label} {text}"


def _md_cell(text: str) -> str:
    """A table cell holds one line, and a ``|`` would start a new column."""
    return " ".join(text.split()).replace("|", "\\|") or "—"


def _md_actions(template: t.Template, actions: list[CorrectiveAction]) -> str:
    if not actions:
        return NOT_ANSWERED
    columns = [f for f in template.action_fields if f.column]
    header = "| " + " | ".join(f.column for f in columns) + " |"
    rows = [header, "|" + " --- |" * len(columns)]
    status = template.action_key(t.ActionRole.STATUS)
    for action in actions:
        answers = action_answers(template, action)
        cells = []
        for f in columns:
            value = answers[f.key]
            text = "" if is_blank(value) else _md_value(f.kind, value)
            if f.key == status and action.status_reason:
                text += f" ({action.status_reason})"
            cells.append(_md_cell(text))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _md_checklist(items: list[ChecklistItem]) -> str:
    """Every item is an explicit yes or an explicit **no**, as section 12 asks."""
    return "\n".join(
        f"- [x] {item.question} — yes" if item.ok else f"- [ ] {item.question} — **no** ({item.missing})"
        for item in items
    )


def to_markdown(pm: Postmortem) -> str:
    """Every section as a readable document, then the YAML export and the checklist."""
    template = pm.template
    incident_id = template.role(t.Role.INCIDENT_ID)
    title = (pm.value(incident_id.section, incident_id.field) if incident_id else None) or pm.incident_id
    blocks = [f"# Postmortem · {title or '(no incident_id yet)'}"]
    for section in template.sections:
        blocks.append(f"## {section.number}. {section.title}")
        if section.is_action_list:
            blocks.append(_md_actions(template, pm.actions))
        else:
            blocks.extend(_md_field(f, pm.value(section.key, f.key)) for f in section.fields)
    number = checklist_number(template)
    blocks += [f"## {number - 1}. {YAML_TITLE}", f"```yaml\n{to_yaml(pm)}```"]
    blocks += [f"## {number}. {template.checklist_title}", _md_checklist(checklist(pm))]
    return "\n\n".join(blocks) + "\n"
