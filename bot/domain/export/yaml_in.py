"""The YAML import: a postmortem from its template's file, the inverse of ``to_yaml``.

It is strict, because a file is edited by hand: unknown keys, wrong types and invalid
answers are refused with the line of the offending key. It is not strict about
completeness: a file carrying only the fixed keys is a valid postmortem, whose sections hold
what was given. A file without ``template:`` is read with the default template. Hostile
files are refused by the reader of ``bot.domain.yamlfile``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.domain import template as t
from bot.domain.catalog import builtin, default_catalog
from bot.domain.document import (
    URL,
    CorrectiveAction,
    Postmortem,
    SectionErrors,
    drop_blank,
    is_blank,
    validate_action,
    validate_section,
)
from bot.domain.evals import CaseErrors, EvalCase, validate_case
from bot.domain.export.layout import (
    ACTION_SOURCE_KEY,
    EVAL_ACTIONS_KEY,
    EVALS_KEY,
    LIST_KINDS,
    ROOT,
    TEMPLATE_KEY,
    ActionList,
    Layout,
    Slot,
    layouts,
)
from bot.domain.yamlfile import MAX_FILE_BYTES, FileProblems, Mapping, Problems, Sequence, describe, load, plain

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_IMPORT_BYTES = MAX_FILE_BYTES
IMPORT_LIMIT = "the import limit (an exported postmortem is a few KiB)"
TEXT_KINDS = frozenset({t.Kind.SHORT_TEXT, t.Kind.LONG_TEXT, t.Kind.USER, t.Kind.CHOICE, t.Kind.URL})
ImportFileError = FileProblems
TemplateFor = Callable[[str | None, str | None, int | None], t.Template]
"""The template a file's ``template:`` names (name, version, its line); raises ImportFileError if none."""


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


def _load(text: str) -> Mapping:
    """The file's top-level mapping, or ImportFileError for anything that is not such a file."""
    data = load(text, f"a `{ROOT}:` mapping")
    if ROOT not in data:
        found = ", ".join(map(repr, data))
        raise ImportFileError(data.line, f"no `{ROOT}:` root (found {found})")
    problems = Problems()
    for key in data:
        if key not in (ROOT, TEMPLATE_KEY, EVALS_KEY):
            problems.add(
                data.line_of(key),
                f"unknown key {key!r} next to `{ROOT}:`; only `{TEMPLATE_KEY}:` and `{EVALS_KEY}:` go there",
            )
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
        elif isinstance(node, Slot):
            if value is not None:
                reading.answers.setdefault(node.section.key, {})[node.field.key] = _Given(value, here, line)
        elif isinstance(node, ActionList):
            reading.actions = _Given(value, here, line)
        elif isinstance(node, dict):
            if isinstance(value, Mapping):
                _read(node, value, here, reading, problems)
            elif value is not None:
                problems.add(line, f"{here} must be a mapping of {', '.join(node)}, not {describe(value)}")
        # Computed: the checklist is recomputed from the answers, whatever the file says


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
    """A loaded YAML value as the raw answer ``bot.domain.document`` validates; ValueError says why not."""
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
    source = item.get(ACTION_SOURCE_KEY) if ACTION_SOURCE_KEY not in keys else None
    if source is not None and not (isinstance(source, str) and URL.match(source)):
        problems.add(
            item.line_of(ACTION_SOURCE_KEY), f"{where}.{ACTION_SOURCE_KEY}: the message's link (http:// or https://)"
        )
        readable = False
    for key, value in item.items():
        if key == ACTION_SOURCE_KEY and key not in keys:
            continue
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
        return validate_action(raw, None, template).model_copy(update={"source": source})
    except SectionErrors as exc:
        for key, message in exc.errors.items():
            problems.add(item.line_of(key), f"{where}.{key}: {message}")
        return None


def _cases_from_yaml(data: Mapping, actions: int, problems: Problems) -> list[EvalCase]:
    """The eval cases; their ``action_ids`` are the positions (from 1) of their actions until they are stored."""
    given = data.get(EVALS_KEY)
    if given is None:
        return []
    if not isinstance(given, Sequence):
        problems.add(data.line_of(EVALS_KEY), f"`{EVALS_KEY}:` must be a list of cases, not {describe(given)}")
        return []
    cases = []
    for index, item in enumerate(given):
        where = f"{EVALS_KEY}[{index}]"
        if not isinstance(item, Mapping):
            problems.add(given.line_of(index), f"{where} must be a mapping, not {describe(item)}")
            continue
        raw = {k: plain(v) for k, v in item.items() if k != EVAL_ACTIONS_KEY}
        linked = plain(item.get(EVAL_ACTIONS_KEY)) or []
        if not isinstance(linked, list) or any(type(n) is not int or not 1 <= n <= actions for n in linked):
            problems.add(given.line_of(index), f"{where}.{EVAL_ACTIONS_KEY}: positions in the action list, 1-{actions}")
            continue
        try:
            cases.append(validate_case(raw, None, linked))
        except CaseErrors as exc:
            for key, message in exc.errors.items():
                problems.add(item.line_of(key) or given.line_of(index), f"{where}.{key}: {message}")
    return cases


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
    evals = _cases_from_yaml(data, len(actions), problems)
    problems.raise_if_any()
    incident_id = template.role(t.Role.INCIDENT_ID)
    found_id = answers.get(incident_id.section, {}).get(incident_id.field) if incident_id else None
    return Postmortem(incident_id=found_id, answers=answers, actions=actions, evals=evals, template=template)
