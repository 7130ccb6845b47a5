"""Template files: YAML in, a checked ``Template`` out, or every problem with its line.

The format is documented in the README ("Your own template"); the built-in templates in
``bot/domain/templates/`` are examples of it. A template is read as strictly as an imported
postmortem (``bot.domain.yamlfile``): unknown keys, wrong types and references to fields that do
not exist are refused, each with its line, so that renaming a field in a template can never
silently turn a checklist item into "no".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any

from bot.domain import template as t
from bot.domain.yamlfile import Mapping, Problems, Sequence, describe, load, plain

KEY = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
KEY_MAX = 40  # the database's section_key column
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
VERSION_CHARS = 12
MODAL_TITLE_MAX = 24
MODAL_BLOCKS_MAX = 100
CARD_SECTIONS_MAX = 40  # the card has 7 blocks besides one per section, and Slack allows 50
OPTIONS_MAX = 100
OPTION_VALUE_MAX = 150
LABEL_MAX = 2000
PLACEHOLDER_MAX = 150
DEFAULT_PLACEHOLDERS = ("unknown", "n/a", "na", "none", "tbd", "todo", "?", "-", "--")
DEFAULT_STATUS_LABELS = {"open": "open", "done": "done", "wont_do": "won't do"}
TEMPLATE_KEYS = {
    "name", "title", "use_for_severity", "vocabularies", "sections", "header", "checklist",
}  # fmt: skip
SECTION_KEYS = {"key", "title", "short", "guidance", "fields", "actions", "role"}
ACTIONS_KEYS = {"export", "export_first", "statuses", "fields"}
FIELD_KEYS = {
    "key", "label", "kind", "required", "vocabulary", "hint", "placeholder", "export", "role",
    "max_length", "min", "max", "default", "column",
}  # fmt: skip
CHECKLIST_KEYS = {"title", "placeholders", "items"}
ROLE_KINDS: dict[str, frozenset[t.Kind]] = {
    t.Role.INCIDENT_ID: frozenset({t.Kind.SHORT_TEXT}),
    t.Role.OWNER: frozenset({t.Kind.USER}),
    t.Role.SEVERITY: frozenset({t.Kind.CHOICE}),
    t.Role.TRACE_ID: frozenset({t.Kind.SHORT_TEXT}),
    t.Role.SESSION_ID: frozenset({t.Kind.SHORT_TEXT}),
    t.Role.CHANGE_ID: frozenset({t.Kind.SHORT_TEXT}),
    t.Role.EVAL_CASES: frozenset({t.Kind.LINES}),
}
ACTION_ROLE_KINDS: dict[str, frozenset[t.Kind]] = {
    t.ActionRole.TITLE: t.TEXT_KINDS,
    t.ActionRole.CATEGORY: frozenset({t.Kind.CHOICE}),
    t.ActionRole.OWNER: frozenset({t.Kind.USER}),
    t.ActionRole.DUE: frozenset({t.Kind.DATE}),
    t.ActionRole.STATUS: frozenset({t.Kind.CHOICE}),
    t.ActionRole.STATUS_REASON: t.TEXT_KINDS,
}
REQUIRED_ROLES = (t.Role.INCIDENT_ID, t.Role.OWNER)
REQUIRED_ACTION_ROLES = tuple(r for r in t.ActionRole if r is not t.ActionRole.CATEGORY)
FIELD_RULES = (t.Rule.ANSWERED, t.Rule.KNOWN, t.Rule.DECIDED)
ACTION_RULES = (t.Rule.HAS_ACTIONS, t.Rule.EVERY_ACTION_HAS, t.Rule.SOME_ACTION)


def version_of(text: str) -> str:
    """A template version is its content: the same file gives the same version on every replica."""
    return hashlib.sha256(text.encode()).hexdigest()[:VERSION_CHARS]


@dataclass
class _Reader:
    """Typed access to the file's mappings; each wrong value is one problem, and reading goes on."""

    problems: Problems = field(default_factory=Problems)

    def mapping(self, value: Any, line: int | None, where: str, allowed: set[str]) -> Mapping | None:
        if not isinstance(value, Mapping):
            self.problems.add(line, f"{where} must be a mapping, not {describe(value)}")
            return None
        for key in value:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                self.problems.add(value.line_of(key), f"unknown key {key!r} in {where}; expected one of: {expected}")
        return value

    def items(self, parent: Mapping, key: str, where: str, *, required: bool = True) -> list[tuple[Any, int | None]]:
        value = parent.get(key)
        if value is None:
            if required:
                self.problems.add(parent.line, f"{where} needs `{key}:`, a list")
            return []
        if not isinstance(value, Sequence):
            self.problems.add(parent.line_of(key), f"{where}.{key} must be a list, not {describe(value)}")
            return []
        return [(item, value.line_of(i)) for i, item in enumerate(value)]

    def text(self, parent: Mapping, key: str, where: str, *, required: bool = False, limit: int = 3000) -> str:
        value = parent.get(key)
        if value is None:
            if required:
                self.problems.add(parent.line, f"{where} needs `{key}:`")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problems.add(parent.line_of(key), f"{where}.{key} must be text, not {describe(value)}")
            return ""
        if len(value) > limit:
            self.problems.add(parent.line_of(key), f"{where}.{key} is longer than Slack allows ({limit} characters)")
        return value.strip()

    def key(self, parent: Mapping, name: str, where: str) -> str:
        value = self.text(parent, name, where, required=True, limit=KEY_MAX)
        if value and not KEY.match(value):
            self.problems.add(
                parent.line_of(name),
                f"{where}.{name} {value!r} must be lower_case_with_underscores (letters, digits, single underscores)",
            )
        return value

    def strings(self, parent: Mapping, key: str, where: str) -> tuple[str, ...]:
        found: list[str] = []
        for item, line in self.items(parent, key, where, required=False):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                self.problems.add(line, f"{where}.{key} holds {describe(item)}; write text")
            else:
                found.append(str(item))
        return tuple(found)

    def number(self, parent: Mapping, key: str, where: str) -> float | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problems.add(parent.line_of(key), f"{where}.{key} must be a number, not {describe(value)}")
            return None
        return value

    def flag(self, parent: Mapping, key: str, where: str) -> bool:
        value = parent.get(key, False)
        if not isinstance(value, bool):
            self.problems.add(parent.line_of(key), f"{where}.{key} must be true or false, not {describe(value)}")
            return False
        return value

    def choice(self, parent: Mapping, key: str, where: str, allowed: tuple[str, ...], *, required: bool) -> str:
        value = self.text(parent, key, where, required=required)
        if value and value not in allowed:
            self.problems.add(parent.line_of(key), f"{where}.{key} {value!r} is not one of: {', '.join(allowed)}")
            return ""
        return value


def _path(value: str) -> tuple[str, ...]:
    return tuple(value.split("."))


@dataclass
class _Parts:
    """What the file declares, read; the checks across parts run on these."""

    vocabularies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sections: list[t.Section] = field(default_factory=list)
    section_lines: dict[str, int | None] = field(default_factory=dict)
    field_lines: dict[tuple[str, str], int | None] = field(default_factory=dict)
    action_fields: tuple[t.Field, ...] = ()
    action_export_first: tuple[str, ...] = ()
    status_labels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUS_LABELS))
    roles: dict[str, t.FieldRef] = field(default_factory=dict)
    action_roles: dict[str, str] = field(default_factory=dict)


def _field(read: _Reader, raw: Any, line: int | None, where: str, parts: _Parts) -> t.Field | None:
    spec = read.mapping(raw, line, where, FIELD_KEYS)
    if spec is None:
        return None
    key = read.key(spec, "key", where)
    where = f"{where} ({key})" if key else where
    kind_name = read.choice(spec, "kind", where, tuple(t.Kind), required=True)
    kind = t.Kind(kind_name) if kind_name else t.Kind.SHORT_TEXT
    vocabulary = read.text(spec, "vocabulary", where)
    options: tuple[str, ...] = ()
    if kind in t.CHOICE_KINDS:
        if not vocabulary:
            read.problems.add(spec.line, f"{where} is a {kind} and needs `vocabulary:`")
        elif vocabulary not in parts.vocabularies:
            known = ", ".join(parts.vocabularies) or "none declared"
            read.problems.add(spec.line_of("vocabulary"), f"{where}: no vocabulary {vocabulary!r} ({known})")
        else:
            options = parts.vocabularies[vocabulary]
    elif vocabulary:
        read.problems.add(spec.line_of("vocabulary"), f"{where}: only choice and multi_choice fields take a vocabulary")
    max_length = read.number(spec, "max_length", where)
    if max_length is not None and not (kind in (*t.TEXT_KINDS, t.Kind.URL) and 1 <= max_length <= t.LONG_TEXT_MAX):
        read.problems.add(
            spec.line_of("max_length"), f"{where}: max_length is for text fields, from 1 to {t.LONG_TEXT_MAX}"
        )
        max_length = None
    minimum, maximum = read.number(spec, "min", where), read.number(spec, "max", where)
    if (minimum is not None or maximum is not None) and kind is not t.Kind.NUMBER:
        read.problems.add(spec.line, f"{where}: min and max are for number fields")
    export = read.text(spec, "export", where)
    if export and not all(KEY.match(part) for part in _path(export)):
        read.problems.add(spec.line_of("export"), f"{where}: export {export!r} must be keys joined by dots")
    default = plain(spec.get("default"))
    if default is not None and kind is t.Kind.CHOICE and default not in options:
        read.problems.add(spec.line_of("default"), f"{where}: default {default!r} is not in its vocabulary")
    return t.Field(
        key=key,
        label=read.text(spec, "label", where, required=True, limit=LABEL_MAX),
        kind=kind,
        required=read.flag(spec, "required", where),
        vocabulary=vocabulary,
        options=options,
        hint=read.text(spec, "hint", where, limit=LABEL_MAX),
        placeholder=read.text(spec, "placeholder", where, limit=PLACEHOLDER_MAX),
        export=_path(export) if export else (),
        role=read.text(spec, "role", where),
        max_length=int(max_length) if max_length is not None else None,
        minimum=minimum,
        maximum=maximum,
        default=default,
        column=read.text(spec, "column", where, limit=LABEL_MAX),
    )


def _fields(read: _Reader, spec: Mapping, where: str, parts: _Parts) -> tuple[list[t.Field], list[int | None]]:
    fields: list[t.Field] = []
    lines: list[int | None] = []
    seen: set[str] = set()
    for raw, line in read.items(spec, "fields", where):
        declared = _field(read, raw, line, f"{where} field {len(fields) + 1}", parts)
        if declared is None:
            continue
        if declared.key in seen:
            read.problems.add(line, f"{where}: field {declared.key!r} is declared twice")
        seen.add(declared.key)
        fields.append(declared)
        lines.append(line)
    return fields, lines


def _roles(read: _Reader, section: str, fields: list[t.Field], lines: list[int | None], parts: _Parts) -> None:
    for declared, line in zip(fields, lines, strict=True):
        if not declared.role:
            continue
        if declared.role not in tuple(t.Role):
            read.problems.add(
                line, f"{section}.{declared.key}: role {declared.role!r} is not one of: {', '.join(t.Role)}"
            )
        elif declared.role in parts.roles:
            read.problems.add(line, f"{section}.{declared.key}: role {declared.role!r} is already taken")
        elif declared.kind not in ROLE_KINDS[declared.role]:
            kinds = " or ".join(sorted(ROLE_KINDS[declared.role]))
            read.problems.add(line, f"{section}.{declared.key}: the {declared.role} role needs a {kinds} field")
        else:
            parts.roles[declared.role] = t.FieldRef(section, declared.key)


def _actions(read: _Reader, spec: Mapping, where: str, parts: _Parts) -> None:
    fields, lines = _fields(read, spec, where, parts)
    for declared, line in zip(fields, lines, strict=True):
        role = declared.role
        if not role:
            continue
        if role not in tuple(t.ActionRole):
            read.problems.add(line, f"{where}.{declared.key}: role {role!r} is not one of: {', '.join(t.ActionRole)}")
        elif role in parts.action_roles:
            read.problems.add(line, f"{where}.{declared.key}: role {role!r} is already taken")
        elif declared.kind not in ACTION_ROLE_KINDS[role]:
            kinds = " or ".join(sorted(ACTION_ROLE_KINDS[role]))
            read.problems.add(line, f"{where}.{declared.key}: the {role} role needs a {kinds} field")
        else:
            parts.action_roles[role] = declared.key
    for role in REQUIRED_ACTION_ROLES:
        if role not in parts.action_roles:
            read.problems.add(spec.line, f"{where} needs a field with `role: {role}`")
    statuses = spec.get("statuses")
    if statuses is not None and (
        labels := read.mapping(statuses, spec.line_of("statuses"), f"{where}.statuses", set(t.ACTION_STATUSES))
    ):
        parts.status_labels.update({k: str(v) for k, v in labels.items() if k in t.ACTION_STATUSES})
    status_key = parts.action_roles.get(t.ActionRole.STATUS)
    status = next((f for f in fields if f.key == status_key), None)
    if status is not None and set(status.options) != set(t.ACTION_STATUSES):
        read.problems.add(
            lines[fields.index(status)],
            f"{where}.{status.key} must offer exactly {', '.join(t.ACTION_STATUSES)} (the states reminders know); "
            "label them under `statuses:`",
        )
    parts.action_fields = tuple(fields)
    first = read.strings(spec, "export_first", where)
    for key in first:
        if key not in {f.key for f in fields}:
            read.problems.add(spec.line_of("export_first"), f"{where}.export_first: no action field {key!r}")
    parts.action_export_first = first


def _section(read: _Reader, raw: Any, line: int | None, number: int, parts: _Parts) -> None:
    where = f"section {number}"
    spec = read.mapping(raw, line, where, SECTION_KEYS)
    if spec is None:
        return
    key = read.key(spec, "key", where)
    where = f"section {number} ({key})" if key else where
    if key in parts.section_lines:
        read.problems.add(line, f"{where}: section key {key!r} is used twice")
    parts.section_lines[key] = line
    actions = spec.get("actions")
    if "fields" in spec and actions is not None:
        read.problems.add(line, f"{where} has `fields:` and `actions:`; a section is one or the other")
    fields: list[t.Field] = []
    export = ""
    if actions is not None:
        if any(s.is_action_list for s in parts.sections):
            read.problems.add(spec.line_of("actions"), f"{where}: only one section may hold the corrective actions")
        actions_spec = read.mapping(actions, spec.line_of("actions"), f"{where}.actions", ACTIONS_KEYS)
        if actions_spec is not None:
            export = read.key(actions_spec, "export", f"{where}.actions")
            _actions(read, actions_spec, f"{where}.actions", parts)
    else:
        fields, lines = _fields(read, spec, where, parts)
        parts.field_lines.update({(key, f.key): ln for f, ln in zip(fields, lines, strict=True)})
        _roles(read, key, fields, lines, parts)
        blocks = 1 + sum(2 if f.kind is t.Kind.YES_NO else 1 for f in fields)
        if blocks > MODAL_BLOCKS_MAX:
            read.problems.add(line, f"{where} needs {blocks} blocks in its modal; Slack allows {MODAL_BLOCKS_MAX}")
    parts.sections.append(
        t.Section(
            number=number,
            key=key,
            title=read.text(spec, "title", where, required=True, limit=150),
            short=read.text(spec, "short", where, required=True, limit=MODAL_TITLE_MAX),
            guidance=read.text(spec, "guidance", where),
            fields=tuple(fields),
            is_action_list=actions is not None,
            export=export,
            role=_section_role(read, spec, where, parts),
        )
    )


def _section_role(read: _Reader, spec: Mapping, where: str, parts: _Parts) -> str:
    role = read.text(spec, "role", where)
    line = spec.line_of("role")
    if role and role not in tuple(t.SectionRole):
        read.problems.add(line, f"{where}: role {role!r} is not one of: {', '.join(t.SectionRole)}")
    elif role and "actions" in spec:
        read.problems.add(line, f"{where}: the {role} role needs a section with fields")
    elif role and any(s.role == role for s in parts.sections):
        read.problems.add(line, f"{where}: role {role!r} is already taken")
    else:
        return role
    return ""


def _vocabularies(read: _Reader, data: Mapping, parts: _Parts) -> None:
    raw = data.get("vocabularies")
    if raw is None:
        return
    spec = read.mapping(raw, data.line_of("vocabularies"), "vocabularies", set(raw) if isinstance(raw, dict) else set())
    for name, values in (spec or {}).items():
        line = spec.line_of(name) if spec else None
        if not isinstance(values, Sequence) or not values:
            read.problems.add(line, f"vocabulary {name!r} must be a non-empty list of values")
            continue
        words = tuple(str(v) for v in values if not isinstance(v, bool) and isinstance(v, str | int | float))
        if len(words) < len(values):
            read.problems.add(line, f"vocabulary {name!r} holds something that is not text")
        if len(set(words)) < len(words):
            read.problems.add(line, f"vocabulary {name!r} lists a value twice")
        if len(words) > OPTIONS_MAX or any(len(w) > OPTION_VALUE_MAX for w in words):
            read.problems.add(
                line, f"vocabulary {name!r}: Slack takes {OPTIONS_MAX} options of {OPTION_VALUE_MAX} characters"
            )
        parts.vocabularies[str(name)] = words


def _ref(read: _Reader, value: Any, line: int | None, where: str, parts: _Parts) -> t.FieldRef | None:
    """``section.field``, checked against what the template declares."""
    if not isinstance(value, str) or value.count(".") != 1:
        read.problems.add(line, f"{where}: expected section.field, not {describe(value)}")
        return None
    section_key, field_key = value.split(".")
    section = next((s for s in parts.sections if s.key == section_key and not s.is_action_list), None)
    if section is None:
        read.problems.add(line, f"{where}: no section {section_key!r} with fields")
        return None
    if not any(f.key == field_key for f in section.fields):
        read.problems.add(line, f"{where}: section {section_key!r} has no field {field_key!r}")
        return None
    return t.FieldRef(section_key, field_key)


def _condition(read: _Reader, raw: Any, line: int | None, where: str, parts: _Parts) -> t.Condition | None:
    rules = tuple(t.Rule)
    spec = read.mapping(raw, line, where, {*rules, "missing"})
    if spec is None:
        return None
    given = [r for r in rules if r in spec]
    if len(given) != 1:
        read.problems.add(spec.line, f"{where}: say exactly one of: {', '.join(rules)}")
        return None
    rule = t.Rule(given[0])
    value, at = spec[rule], spec.line_of(rule)
    if rule in FIELD_RULES:
        ref = _ref(read, value, at, where, parts)
        if ref and rule is t.Rule.DECIDED:
            declared = next(s for s in parts.sections if s.key == ref.section).field(ref.field)
            if declared.kind is not t.Kind.YES_NO:
                read.problems.add(
                    at, f"{where}: decided is for yes_no fields; {ref.section}.{ref.field} is {declared.kind}"
                )
        return t.Condition(rule, ref=ref) if ref else None
    if rule is t.Rule.ANY:
        if not isinstance(value, Sequence) or not value:
            read.problems.add(at, f"{where}: any takes a list of conditions")
            return None
        found = [_condition(read, item, value.line_of(i), where, parts) for i, item in enumerate(value)]
        return t.Condition(rule, any_of=tuple(c for c in found if c)) if all(found) else None
    if rule is t.Rule.HAS_ACTIONS:
        return t.Condition(rule)
    if rule is t.Rule.EVAL_CASES:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            read.problems.add(at, f"{where}: eval_cases takes how many cases at least, like 1")
            return None
        return t.Condition(rule, least=value)
    return _action_condition(read, rule, value, at, where, parts)


def _action_condition(
    read: _Reader, rule: t.Rule, value: Any, line: int | None, where: str, parts: _Parts
) -> t.Condition | None:
    keys = {f.key for f in parts.action_fields}
    if rule is t.Rule.EVERY_ACTION_HAS:
        if value not in keys:
            read.problems.add(line, f"{where}: no action field {value!r}")
            return None
        return t.Condition(rule, action_field=value)
    if not isinstance(value, Mapping) or len(value) != 1:
        read.problems.add(line, f"{where}: some_action takes one action field and its values, like {{kind: [a, b]}}")
        return None
    ((key, values),) = value.items()
    if key not in keys or not isinstance(values, Sequence):
        read.problems.add(line, f"{where}: no action field {key!r}, or its values are not a list")
        return None
    return t.Condition(rule, action_field=key, values=tuple(str(v) for v in values))


def _counts(missing: str) -> bool:
    try:
        missing.format(count=0)
    except (KeyError, IndexError, ValueError):
        return False
    return True


def _missing_default(condition: t.Condition) -> str:
    return condition.ref.field if condition.ref else ""


def _checklist(read: _Reader, data: Mapping, parts: _Parts) -> tuple[str, tuple[t.CheckItem, ...], frozenset[str]]:
    raw = data.get("checklist")
    if raw is None:
        return "Checklist", (), frozenset(DEFAULT_PLACEHOLDERS)
    spec = read.mapping(raw, data.line_of("checklist"), "checklist", CHECKLIST_KEYS)
    if spec is None:
        return "Checklist", (), frozenset(DEFAULT_PLACEHOLDERS)
    placeholders = read.strings(spec, "placeholders", "checklist") if "placeholders" in spec else DEFAULT_PLACEHOLDERS
    items: list[t.CheckItem] = []
    for raw_item, line in read.items(spec, "items", "checklist"):
        where = f"checklist item {len(items) + 1}"
        item = read.mapping(raw_item, line, where, {"question", "require"})
        if item is None:
            continue
        question = read.text(item, "question", where, required=True, limit=300)
        requires: list[t.Requirement] = []
        for raw_req, req_line in read.items(item, "require", where):
            condition = _condition(read, raw_req, req_line, where, parts)
            if condition is None:
                continue
            missing = raw_req.get("missing") if isinstance(raw_req, Mapping) else None
            if missing is None and not (missing := _missing_default(condition)):
                read.problems.add(req_line, f"{where}: say what is `missing:` when this fails")
            elif condition.rule is t.Rule.EVERY_ACTION_HAS and not _counts(str(missing)):
                read.problems.add(req_line, f"{where}: `missing:` may name only {{count}}, the number of actions")
            requires.append(t.Requirement(condition, str(missing or "")))
        items.append(t.CheckItem(question, tuple(requires)))
    title = read.text(spec, "title", "checklist", limit=150) or "Checklist"
    return title, tuple(items), frozenset(p.strip().lower() for p in placeholders)


def _header(read: _Reader, data: Mapping, parts: _Parts) -> tuple[t.HeaderPart, ...]:
    found: list[t.HeaderPart] = []
    for raw, line in read.items(data, "header", "the template", required=False):
        spec = read.mapping(raw, line, "header", {"field", "empty"})
        if spec is None:
            continue
        ref = _ref(read, spec.get("field"), spec.line_of("field"), "header", parts)
        if ref:
            found.append(t.HeaderPart(ref, read.text(spec, "empty", "header") or "—"))
    return tuple(found)


def _check_sections(read: _Reader, data: Mapping, parts: _Parts) -> None:
    count = len(parts.sections)
    if not any(s.is_action_list for s in parts.sections):
        read.problems.add(data.line_of("sections"), "one section must hold the corrective actions (`actions:`)")
    if count > CARD_SECTIONS_MAX:
        read.problems.add(
            data.line_of("sections"), f"{count} sections do not fit on the card; at most {CARD_SECTIONS_MAX}"
        )
    for section in parts.sections:
        title = f"{section.number}/{count} {section.short}"
        if len(title) > MODAL_TITLE_MAX:
            read.problems.add(
                parts.section_lines.get(section.key),
                f"section {section.key}: the modal title {title!r} is longer than Slack's {MODAL_TITLE_MAX} characters",
            )
    for role in REQUIRED_ROLES:
        if role not in parts.roles:
            read.problems.add(data.line_of("sections"), f"one field must have `role: {role}`")


def _check_export(read: _Reader, parts: _Parts) -> None:
    """The export file's keys: section 11's paths, the action list, one mapping per section; never one twice."""
    taken: dict[tuple[str, ...], str] = {}
    for section in parts.sections:
        paths = [((section.export,), f"the {section.key} list")] if section.is_action_list else []
        paths += [(f.export, f"{section.key}.{f.key}") for f in section.fields if f.export]
        for path, owner in paths:
            line = parts.field_lines.get((section.key, owner.partition(".")[2]), parts.section_lines.get(section.key))
            clash = next((p for p in taken if p[: len(path)] == path or path[: len(p)] == p), None)
            if clash is not None:
                read.problems.add(line, f"export {'.'.join(path)} of {owner} collides with {taken[clash]}")
            taken[path] = owner
    roots = {path[0] for path in taken} | {"checklist"}
    for section in parts.sections:
        if section.is_action_list or all(f.export for f in section.fields):
            continue
        key = section.key + "_details" if section.key in roots else section.key
        if key in roots:
            read.problems.add(
                parts.section_lines.get(section.key),
                f"export key {key!r} is used twice; rename section {section.key!r}",
            )
        roots.add(key)


def _severity_rule(read: _Reader, data: Mapping, parts: _Parts) -> tuple[str, ...]:
    severities = read.strings(data, "use_for_severity", "use_for_severity")
    severity = parts.roles.get(t.Role.SEVERITY)
    if severities and severity is None:
        read.problems.add(data.line_of("use_for_severity"), "use_for_severity needs a field with `role: severity`")
    elif severity is not None:
        options = next(s for s in parts.sections if s.key == severity.section).field(severity.field).options
        for value in severities:
            if value not in options:
                read.problems.add(
                    data.line_of("use_for_severity"), f"use_for_severity: {value!r} is not a severity here"
                )
    return severities


def parse(text: str) -> t.Template:
    """The template in ``text``; ``FileProblems`` lists every problem, each with its line."""
    data = load(text, "a template mapping (name:, sections: ...)")
    read, parts = _Reader(), _Parts()
    read.mapping(data, data.line, "the template", TEMPLATE_KEYS)
    name = read.text(data, "name", "the template", required=True)
    if name and not NAME.match(name):
        read.problems.add(data.line_of("name"), f"name {name!r} must be lower-case letters, digits and dashes")
    _vocabularies(read, data, parts)
    for number, (raw, line) in enumerate(read.items(data, "sections", "the template"), start=1):
        _section(read, raw, line, number, parts)
    _check_sections(read, data, parts)
    _check_export(read, parts)
    header = _header(read, data, parts)
    checklist_title, checklist, placeholders = _checklist(read, data, parts)
    use_for_severity = _severity_rule(read, data, parts)
    read.problems.raise_if_any()
    count = len(parts.sections)
    return t.Template(
        name=name,
        version=version_of(text),
        title=read.text(data, "title", "the template") or name,
        text=text,
        sections=tuple(replace(s, count=count) for s in parts.sections),
        action_fields=parts.action_fields,
        action_export_first=parts.action_export_first,
        status_labels=parts.status_labels,
        header=header,
        checklist_title=checklist_title,
        checklist=checklist,
        placeholders=placeholders,
        use_for_severity=use_for_severity,
        roles=parts.roles,
        action_roles=parts.action_roles,
    )
