"""Exports of a postmortem: section 11's YAML (and its import) and a readable Markdown file.

Everything here is derived from the template declaration in ``bot.template``; there is no
per-field code, so a field added there is exported, imported and rendered without a change here.

The YAML file, under a single ``postmortem:`` root, has three parts, in this order:

1. Section 11's keys, exactly as the template prints them: ``incident_id``, ``severity``,
   ``owner``, ``active_artifacts``, ``root_cause``, ``corrective_actions`` and
   ``lifecycle_updates``. They come from the fields whose ``Field.export`` names a path, in
   template order, plus the action list. They are always present, ``null`` when unknown, so
   every file has the template's shape.
2. Every other answer, one mapping per section, under the section's own key
   (``summary``, ``what_happened``, ``artifacts``, ...). **Rule for further keys:** when a
   section's key is already one of section 11's keys (section 5 ``root_cause``), its
   remaining answers go under ``<section key>_details`` (``root_cause_details``), so section
   11's mappings hold exactly the template's keys. Empty answers and empty sections are left out.
3. ``checklist``: section 12, computed from the answers and marked so by a comment. It is
   ignored on import.

Import (``from_yaml``) is the inverse and is strict, because a file is edited by hand: unknown
keys, wrong types and invalid answers are refused with the line of the offending key. It is
not strict about completeness: a file carrying only section 11's keys is a valid postmortem,
whose sections hold what was given.

A file may also come from anyone, so import refuses what only a hostile file has: anchors and
aliases, nesting deeper than ``MAX_NESTING``, and escapes that produce characters a YAML file
may not contain literally (NUL, which PostgreSQL cannot store, other control characters, lone
surrogates). Callers reading from disk cap the size at ``MAX_IMPORT_BYTES`` before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from bot import template as t
from bot.checklist import ChecklistItem, checklist
from bot.document import (
    CorrectiveAction,
    Postmortem,
    SectionErrors,
    drop_blank,
    is_blank,
    is_user_id,
    validate_action,
    validate_section,
)

ROOT = "postmortem"
ACTIONS_KEY = "corrective_actions"
# Section 11 fixes these keys of each corrective action; the other action fields follow them.
ACTION_SECTION_11_KEYS = ("owner", "action", "due")
CHECKLIST_KEY = "checklist"
CHECKLIST_NOTE = "section 12, computed from the answers above: ignored on import"
DETAILS_SUFFIX = "_details"
INCIDENT_ID_PATH = ("incident_id",)
YAML_TITLE = "YAML"
CHECKLIST_TITLE = "What to Do Right Away"
NOT_ANSWERED = "_not answered_"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_IMPORT_BYTES = 1024 * 1024  # an exported postmortem is a few KiB; this leaves room for long answers
MAX_NESTING = 16  # an exported file needs 5: the root, postmortem, corrective_actions, an action, its owner
TEXT_KINDS = frozenset({t.Kind.SHORT_TEXT, t.Kind.LONG_TEXT, t.Kind.USER, t.Kind.CHOICE})
LIST_KINDS = frozenset({t.Kind.LINES, t.Kind.MULTI_CHOICE})
ACTION_TABLE = (  # (column header, action field): the Markdown table of section 8
    ("Action", "action"),
    ("Kind", "kind"),
    ("Owner", "owner"),
    ("Due", "due"),
    ("Artifact", "artifact"),
    ("Status", "status"),
)


# --- the file's layout, derived once from the template ---------------------------------------


@dataclass(frozen=True)
class _Slot:
    """Where one template field's answer lives in the file."""

    section: t.Section
    field: t.Field


class _ActionList:
    """Section 8's rows: a list under ``corrective_actions``, not a mapping of fields."""


class _Computed:
    """Written on export for readers, ignored on import (section 12)."""


_ACTION_LIST = _ActionList()
_COMPUTED = _Computed()
Layout = dict[str, Any]  # key -> _Slot | _ActionList | _Computed | nested Layout


def _section_11_layout() -> Layout:
    """Section 11's keys and nesting, in template order, from the ``Field.export`` paths."""
    layout: Layout = {}
    for section in t.SECTIONS:
        if section.is_action_list:
            layout[ACTIONS_KEY] = _ACTION_LIST
        for f in section.fields:
            if f.export:
                *parents, leaf = f.export
                node = layout
                for parent in parents:
                    node = node.setdefault(parent, {})
                node[leaf] = _Slot(section, f)
    return layout


def _further_layout(taken: set[str]) -> Layout:
    """One mapping per section for the answers section 11 does not place (see module docstring)."""
    layout: Layout = {}
    for section in t.FORM_SECTIONS:
        rest = {f.key: _Slot(section, f) for f in section.fields if not f.export}
        if rest:
            key = section.key + DETAILS_SUFFIX if section.key in taken else section.key
            if key in taken or key in layout:  # a template change that would make the file ambiguous
                raise RuntimeError(f"export key {key!r} is used twice; rename section {section.key!r}")
            layout[key] = rest
    return layout


SECTION_11: Layout = _section_11_layout()
FURTHER: Layout = _further_layout(set(SECTION_11) | {CHECKLIST_KEY})
FILE_LAYOUT: Layout = {**SECTION_11, **FURTHER, CHECKLIST_KEY: _COMPUTED}
ACTION_FIELDS: dict[str, t.Field] = {f.key: f for f in t.ACTION_FIELDS}
ACTION_KEYS: tuple[str, ...] = ACTION_SECTION_11_KEYS + tuple(
    k for k in ACTION_FIELDS if k not in ACTION_SECTION_11_KEYS
)
INCIDENT_ID_SLOT: _Slot = SECTION_11[INCIDENT_ID_PATH[0]]


# --- small value helpers ------------------------------------------------------------------------


def _describe(value: Any) -> str:
    """A value's YAML type in the words of a person editing the file."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"yes/no ({str(value).lower()})"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _plain(value: Any) -> Any:
    """The loaded value without the line-tracking containers, as pydantic and equality expect."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


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
    if value is None and slot is INCIDENT_ID_SLOT:
        return pm.incident_id
    return value


def _export(layout: Layout, pm: Postmortem, keep_empty: bool) -> dict[str, Any]:
    """One mapping of the file; ``keep_empty`` keeps null keys so section 11 keeps its shape."""
    out: dict[str, Any] = {}
    for key, node in layout.items():
        if isinstance(node, _Slot):
            value = _to_yaml_value(node.field.kind, _stored(pm, node))
        elif isinstance(node, _ActionList):
            value = [_action_to_yaml(a) for a in pm.actions]
        elif isinstance(node, dict):
            value = _export(node, pm, keep_empty) or None
        else:
            continue
        if keep_empty or value is not None:
            out[key] = value
    return out


def _action_to_yaml(action: CorrectiveAction) -> dict[str, Any]:
    """Section 11's ``owner, action, due`` always, then the other fields when not empty; no id."""
    stored = action.model_dump()
    out: dict[str, Any] = {}
    for key in ACTION_KEYS:
        value = _to_yaml_value(ACTION_FIELDS[key].kind, stored[key])
        if key in ACTION_SECTION_11_KEYS or value is not None:
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


def to_yaml(pm: Postmortem, dumper: type[yaml.SafeDumper] = DUMPER) -> str:
    """Section 11's YAML file for ``pm`` (see the module docstring for its layout)."""
    document = _export(SECTION_11, pm, keep_empty=True)
    for key, sections_fields in FURTHER.items():
        if answers := _export(sections_fields, pm, keep_empty=False):
            document[key] = answers
    document[CHECKLIST_KEY] = _checklist_to_yaml(checklist(pm))
    text = yaml.dump({ROOT: document}, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)
    # A comment cannot be dumped; the key is indented once and alone on its line, so this is exact.
    key_line = f"\n  {CHECKLIST_KEY}:\n"
    return text.replace(key_line, f"\n  # {CHECKLIST_NOTE}{key_line}", 1)


# --- import: a loader that remembers lines ------------------------------------------------------


class _Mapping(dict[Any, Any]):
    """A loaded YAML mapping that knows the line of each key, so errors can point at it."""

    line: int | None = None
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class _Sequence(list[Any]):
    """A loaded YAML list that knows the line of each item."""

    line: int | None = None
    item_lines: list[int]

    def line_of(self, index: int) -> int | None:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _LineLoader(yaml.SafeLoader):
    """``SafeLoader`` that tracks lines, refuses duplicate keys and keeps impossible dates as text.

    It refuses anchors and aliases outright rather than bounding their expansion: an exported
    file never has them, a hand edit does not need them, and nine lines of nested aliases
    expand to gigabytes ("billion laughs"). Nesting is bounded because composing is recursive.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ImportFileError(line, "anchors and aliases (&name, *name) are not accepted; write the value out")
        if self._depth >= MAX_NESTING:
            raise ImportFileError(line, f"nested more than {MAX_NESTING} levels deep; an exported file needs 5")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_scalar(self, node: yaml.Node) -> Any:
        value = super().construct_scalar(node)
        if isinstance(value, str) and (unprintable := _UNPRINTABLE.search(value)):
            raise ImportFileError(
                node.start_mark.line + 1,
                f"character U+{ord(unprintable.group()):04X} is not allowed: an escape may not produce "
                "NUL, other control characters or lone surrogates",
            )
        return value


_UNPRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # what YAML refuses literally, refused as escapes too


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[_Mapping]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first at line {seen[key_node.value]})",
                    key_node.start_mark,
                )
            seen[key_node.value] = line
    data = _Mapping()
    data.line, data.key_lines = node.start_mark.line + 1, {}
    yield data
    data.update(loader.construct_mapping(node))
    for key_node, _ in node.value:  # flattened by construct_mapping: merged keys included
        data.key_lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[_Sequence]:
    data = _Sequence()
    data.line, data.item_lines = node.start_mark.line + 1, [n.start_mark.line + 1 for n in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    """``2026-02-30`` looks like a date but is none: keep the text so the field says what is wrong."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


def _refuse_binary(_loader: _LineLoader, node: yaml.Node) -> Any:
    """``!!binary`` decodes to bytes that pydantic would take as text, past the character check."""
    raise ImportFileError(node.start_mark.line + 1, "binary values (!!binary) are not accepted; write text")


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_LineLoader.add_constructor("tag:yaml.org,2002:binary", _refuse_binary)


# --- import: problems ---------------------------------------------------------------------------


class ImportFileError(Exception):
    """A file that cannot be imported. ``line`` (1-based) points at the offending key.

    ``problems`` lists every problem found, in file order, so a person can fix them in one
    pass; ``line`` and ``reason`` are the first of them.
    """

    def __init__(self, line: int | None, reason: str, problems: list[tuple[int | None, str]] | None = None) -> None:
        super().__init__(line, reason)
        self.line = line
        self.reason = reason
        self.problems = problems or [(line, reason)]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line is not None else self.reason


@dataclass
class _Problems:
    found: list[tuple[int | None, str]] = field(default_factory=list)

    def add(self, line: int | None, reason: str) -> None:
        self.found.append((line, reason))

    def raise_if_any(self) -> None:
        if self.found:
            ordered = sorted(self.found, key=lambda p: (p[0] is None, p[0] or 0))
            raise ImportFileError(*ordered[0], problems=ordered)


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


def _load(text: str) -> _Mapping:
    """The ``postmortem:`` mapping, or ImportFileError for anything that is not such a file."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = f"invalid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and mark and exc.context_mark.line != mark.line:
            reason += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ImportFileError(mark.line + 1 if mark else None, reason) from exc
    except yaml.YAMLError as exc:
        raise ImportFileError(None, f"invalid YAML: {exc}") from exc
    if data is None:
        raise ImportFileError(None, f"the file is empty; expected a `{ROOT}:` mapping")
    if not isinstance(data, _Mapping):
        line = getattr(data, "line", None)
        raise ImportFileError(line, f"expected a `{ROOT}:` mapping, found {_describe(data)}")
    if ROOT not in data:
        found = ", ".join(map(repr, data))
        raise ImportFileError(data.line, f"no `{ROOT}:` root (found {found})")
    problems = _Problems()
    for key in data:
        if key != ROOT:
            problems.add(data.line_of(key), f"unknown key {key!r} next to `{ROOT}:`; nothing else goes there")
    document = data[ROOT]
    if not isinstance(document, _Mapping):
        problems.add(
            data.line_of(ROOT),
            f"`{ROOT}:` must be a mapping of {', '.join(SECTION_11)}, not {_describe(document)}",
        )
    problems.raise_if_any()
    return document


def _unknown_key(key: Any, where: str, expected: Iterable[str]) -> str:
    """Name the stray key and the ones that belong there: most unknown keys are typos."""
    return f"unknown key {key!r} in {where}; expected one of: {', '.join(expected)}"


def _read(layout: Layout, mapping: _Mapping, where: str, reading: _Reading, problems: _Problems) -> None:
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
            if isinstance(value, _Mapping):
                _read(node, value, here, reading, problems)
            elif value is not None:
                problems.add(line, f"{here} must be a mapping of {', '.join(node)}, not {_describe(value)}")
        # _Computed: section 12 is recomputed from the answers, whatever the file says


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
    raise ValueError(f"must be a date like 2026-04-12, not {_describe(value)}")


def _as_yes_no(value: Any) -> Any:
    """Unquoted ``yes``/``no`` load as booleans; ``answer: yes`` and a bare ``yes`` both mean yes."""
    if isinstance(value, bool | str):
        value = {"answer": value}
    if isinstance(value, dict) and isinstance(value.get("answer"), bool):
        value = {**value, "answer": "yes" if value["answer"] else "no"}
    return value


def _from_yaml_value(kind: t.Kind, value: Any) -> Any:
    """A loaded YAML value as the raw answer ``bot.document`` validates; ValueError says why not."""
    value = _plain(value)
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
    section_key: str, given: dict[str, _Given], vocabulary: t.Vocabulary, problems: _Problems
) -> dict[str, Any]:
    """The given answers of one section, checked one by one; absent answers are not an error."""
    section = t.SECTION_BY_KEY[section_key]
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
        return validate_section(section_key, present, vocabulary, partial=True)
    except SectionErrors as exc:
        for key, message in exc.errors.items():
            found = given.get(key)
            problems.add(found.line if found else None, f"{found.where if found else key}: {message}")
        return {}


def _actions_from_yaml(given: _Given | None, vocabulary: t.Vocabulary, problems: _Problems) -> list[CorrectiveAction]:
    """Section 8's rows; ``kind`` defaults to ``action`` when that is a kind, as in the template's example."""
    if given is None or given.value is None:
        return []
    if not isinstance(given.value, _Sequence):
        problems.add(
            given.line,
            f"{given.where} must be a list of actions, each with "
            f"{', '.join(ACTION_SECTION_11_KEYS)}; not {_describe(given.value)}",
        )
        return []
    actions: list[CorrectiveAction] = []
    for index, item in enumerate(given.value):
        where = f"{given.where}[{index}]"
        if not isinstance(item, _Mapping):
            keys = ", ".join(ACTION_SECTION_11_KEYS)
            problems.add(given.value.line_of(index), f"{where} must be a mapping with {keys}, not {_describe(item)}")
            continue
        if action := _action_from_yaml(item, where, vocabulary, problems):
            actions.append(action)
    return actions


def _action_from_yaml(
    item: _Mapping, where: str, vocabulary: t.Vocabulary, problems: _Problems
) -> CorrectiveAction | None:
    raw: dict[str, Any] = {}
    readable = True
    for key, value in item.items():
        if key not in ACTION_FIELDS:
            problems.add(item.line_of(key), _unknown_key(key, where, ACTION_KEYS))
            readable = False
            continue
        try:
            raw[key] = _from_yaml_value(ACTION_FIELDS[key].kind, value)
        except ValueError as exc:
            problems.add(item.line_of(key), f"{where}.{key}: {exc}")
            readable = False
    if not readable:
        return None
    if is_blank(raw.get("kind")) and raw.get("action") in vocabulary["action_kind"]:
        raw["kind"] = raw["action"]
    try:
        return validate_action(raw, None, vocabulary)
    except SectionErrors as exc:
        for key, message in exc.errors.items():
            problems.add(item.line_of(key), f"{where}.{key}: {message}")
        return None


def from_yaml(text: str, vocabulary: t.Vocabulary = t.DEFAULT_VOCABULARY) -> Postmortem:
    """The postmortem in a section 11 YAML file; ImportFileError names the line and what is wrong."""
    document = _load(text)
    problems, reading = _Problems(), _Reading()
    _read(FILE_LAYOUT, document, ROOT, reading, problems)
    answers: dict[str, dict[str, Any]] = {}
    for section in t.FORM_SECTIONS:  # template order, so the stored answers read like the form
        given = reading.answers.get(section.key)
        if given and (section_answers := _section_answers(section.key, given, vocabulary, problems)):
            answers[section.key] = section_answers
    actions = _actions_from_yaml(reading.actions, vocabulary, problems)
    problems.raise_if_any()
    incident_id = answers.get(INCIDENT_ID_SLOT.section.key, {}).get(INCIDENT_ID_SLOT.field.key)
    return Postmortem(incident_id=incident_id, answers=answers, actions=actions)


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
    return value.isoformat() if isinstance(value, date) else str(value)


def _md_field(f: t.Field, value: Any) -> str:
    label = f"**{f.label}:**"
    if is_blank(value):
        return f"{label} {NOT_ANSWERED}"
    if f.kind in LIST_KINDS:
        return label + "\n\n" + "\n".join(f"- {item}" for item in value)
    text = _md_value(f.kind, value)
    return f"{label}\n\n{text}" if "\n" in text else f"{label} {text}"


def _md_cell(text: str) -> str:
    """A table cell holds one line, and a ``|`` would start a new column."""
    return " ".join(text.split()).replace("|", "\\|") or "—"


def _md_actions(actions: list[CorrectiveAction]) -> str:
    if not actions:
        return NOT_ANSWERED
    header = "| " + " | ".join(title for title, _ in ACTION_TABLE) + " |"
    rows = [header, "|" + " --- |" * len(ACTION_TABLE)]
    for action in actions:
        cells = []
        for _, key in ACTION_TABLE:
            value = getattr(action, key)
            text = "" if is_blank(value) else _md_value(ACTION_FIELDS[key].kind, value)
            if key == "status" and action.status_reason:
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
    """All twelve sections as a readable document; section 11 embeds the YAML export."""
    title = _stored(pm, INCIDENT_ID_SLOT) or "(no incident_id yet)"
    blocks = [f"# Postmortem · {title}"]
    for section in t.SECTIONS:
        blocks.append(f"## {section.number}. {section.title}")
        if section.is_action_list:
            blocks.append(_md_actions(pm.actions))
        else:
            blocks.extend(_md_field(f, pm.value(section.key, f.key)) for f in section.fields)
    yaml_number = len(t.SECTIONS) + 1
    blocks += [f"## {yaml_number}. {YAML_TITLE}", f"```yaml\n{to_yaml(pm)}```"]
    blocks += [f"## {yaml_number + 1}. {CHECKLIST_TITLE}", _md_checklist(checklist(pm))]
    return "\n\n".join(blocks) + "\n"
