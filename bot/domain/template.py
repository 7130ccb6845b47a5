"""A postmortem template, as data: what a template file declares, once loaded (``bot.domain.template_file``).

Every other layer reads a ``Template``: the modal blocks, the validation models, the stored
JSON, completeness, the checklist, the card's header and the YAML/Markdown exports. No other
module names a section or a field: where the code needs a particular field (the incident id,
the owner, an action's due date), the template says which one through its *roles*.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal, get_args


class Kind(StrEnum):
    """How a field is asked in Slack and stored as JSON."""

    SHORT_TEXT = "short_text"  # str
    LONG_TEXT = "long_text"  # str, multiline
    DATE = "date"  # "YYYY-MM-DD"
    DATETIME = "datetime"  # ISO 8601 with offset
    USER = "user"  # Slack user id (or a team name kept from an import)
    USERS = "users"  # list of Slack user ids
    CHOICE = "choice"  # one value of a vocabulary
    MULTI_CHOICE = "multi_choice"  # list of vocabulary values
    YES_NO = "yes_no"  # {"answer": "yes"|"no"|"unknown", "details": str}
    LINES = "lines"  # list of non-empty lines
    NUMBER = "number"  # int or float
    URL = "url"  # http(s) address


CHOICE_KINDS = frozenset({Kind.CHOICE, Kind.MULTI_CHOICE})
TEXT_KINDS = frozenset({Kind.SHORT_TEXT, Kind.LONG_TEXT})
YES_NO_LABELS = {"yes": "Yes", "no": "No", "unknown": "Unknown"}
YES_NO_ANSWERS = tuple(YES_NO_LABELS)
SHORT_TEXT_MAX = 150
LONG_TEXT_MAX = 3000
DETAILS_MAX = 1000

ActionStatus = Literal["open", "done", "wont_do"]
"""The states reminders know: open actions remind, done and won't-do ones never do. A template
labels them; it cannot add states the reminders would not understand."""
ACTION_STATUSES: tuple[str, ...] = get_args(ActionStatus)
OPEN: ActionStatus = "open"
DONE: ActionStatus = "done"
DROPPED: ActionStatus = "wont_do"


class Role(StrEnum):
    """Fields of a section the app itself needs, whatever the template calls them."""

    INCIDENT_ID = "incident_id"  # one word; unique per team; names the postmortem everywhere
    OWNER = "owner"  # a Slack user: hears about unowned actions, may change any action
    SEVERITY = "severity"  # a choice; `/postmortem start ID SEVERITY` prefills it and picks the template
    TRACE_ID = "trace_id"  # linked with TRACE_URL_TEMPLATE (bot.domain.links)
    SESSION_ID = "session_id"  # linked with SESSION_URL_TEMPLATE
    CHANGE_ID = "change_id"  # linked with CHANGE_URL_TEMPLATE
    EVAL_CASES = "eval_cases"  # its section's modal lists the eval cases (bot.domain.evals) and adds them


class SectionRole(StrEnum):
    """Sections the app fills from elsewhere besides their form."""

    TIMELINE = "timeline"  # lists the messages captured from the incident channel (``bot.domain.timeline``)


class ActionRole(StrEnum):
    """Fields of a corrective action the reminders and lists need; each is a column of its own."""

    TITLE = "title"  # what to do (column ``action``)
    CATEGORY = "category"  # optional: a choice shown beside the title (column ``kind``)
    OWNER = "owner"  # reminded
    DUE = "due"  # reminds before, on and after it
    STATUS = "status"  # one of ACTION_STATUSES
    STATUS_REASON = "status_reason"  # required for won't do


@dataclass(frozen=True)
class Field:
    """One question of a section, or one field of a corrective action.

    ``options`` are the vocabulary's values for choice kinds (``vocabulary`` names the list,
    so operators can override it). ``export`` is the path of the answer under ``postmortem:``
    in the YAML export when the template fixes one; otherwise the answer is exported under
    its section's own key. ``column`` is the header of its column in the Markdown table of
    corrective actions (action fields without one are not in the table).
    """

    key: str
    label: str
    kind: Kind
    required: bool = False
    vocabulary: str = ""
    options: tuple[str, ...] = ()
    hint: str = ""
    placeholder: str = ""
    export: tuple[str, ...] = ()
    role: str = ""
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    column: str = ""

    @property
    def text_limit(self) -> int:
        if self.max_length is not None:
            return self.max_length
        return SHORT_TEXT_MAX if self.kind in (Kind.SHORT_TEXT, Kind.URL) else LONG_TEXT_MAX


@dataclass(frozen=True)
class Section:
    number: int
    key: str
    title: str
    short: str
    guidance: str
    fields: tuple[Field, ...] = ()
    is_action_list: bool = False
    export: str = ""
    """For the action list: its key in the YAML export."""
    count: int = 0
    """How many sections the template has, for the title."""
    role: str = ""
    """A ``SectionRole``: e.g. the section whose modal lists the timeline."""

    @property
    def modal_title(self) -> str:
        """Slack cuts modal titles at 24 characters, so position + short name."""
        return f"{self.number}/{self.count} {self.short}"

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)


@dataclass(frozen=True)
class FieldRef:
    """``section.field`` in a template file: a field of one section."""

    section: str
    field: str


class Rule(StrEnum):
    """What a checklist requirement checks."""

    ANSWERED = "answered"  # the field is not empty
    KNOWN = "known"  # answered, and not a placeholder such as "unknown" or "tbd"
    DECIDED = "decided"  # a yes/no question answered yes or no, not unknown
    ANY = "any"  # one of several conditions
    HAS_ACTIONS = "has_actions"  # at least one live (not won't-do) corrective action
    EVERY_ACTION_HAS = "every_action_has"  # every live action has this action field
    SOME_ACTION = "some_action"  # a live action whose field is one of some values
    EVAL_CASES = "eval_cases"  # at least this many eval cases


@dataclass(frozen=True)
class Condition:
    rule: Rule
    ref: FieldRef | None = None
    any_of: tuple[Condition, ...] = ()
    action_field: str = ""
    values: tuple[str, ...] = ()
    least: int = 0


@dataclass(frozen=True)
class Requirement:
    """One condition of a checklist item; ``missing`` is said when it fails (``{count}``: how many actions)."""

    condition: Condition
    missing: str


@dataclass(frozen=True)
class CheckItem:
    question: str
    requires: tuple[Requirement, ...]


@dataclass(frozen=True)
class HeaderPart:
    """A field shown in the card's header, or ``empty`` while it is not answered."""

    ref: FieldRef
    empty: str


@dataclass(frozen=True, eq=False)
class Template:
    """One version of one template. Compared by identity: the catalog keeps one object per version."""

    name: str
    version: str
    title: str
    text: str
    sections: tuple[Section, ...]
    action_fields: tuple[Field, ...]
    action_export_first: tuple[str, ...]
    status_labels: Mapping[str, str]
    header: tuple[HeaderPart, ...]
    checklist_title: str
    checklist: tuple[CheckItem, ...]
    placeholders: frozenset[str]
    use_for_severity: tuple[str, ...] = ()
    roles: Mapping[str, FieldRef] = field(default_factory=dict)
    action_roles: Mapping[str, str] = field(default_factory=dict)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    @property
    def form_sections(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if not s.is_action_list)

    @property
    def actions_section(self) -> Section:
        return next(s for s in self.sections if s.is_action_list)

    def section_after(self, section: Section) -> Section | None:
        """The section "Save & next" moves to; None after the last one."""
        index = self.sections.index(section)
        return self.sections[index + 1] if index + 1 < len(self.sections) else None

    @property
    def timeline_section(self) -> Section | None:
        return next((s for s in self.sections if s.role == SectionRole.TIMELINE), None)

    def role(self, role: Role) -> FieldRef | None:
        return self.roles.get(role)

    def role_field(self, role: Role) -> Field | None:
        ref = self.roles.get(role)
        return self.section(ref.section).field(ref.field) if ref else None

    def roles_in(self, section_key: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """The role answers a section's save sets on the postmortem itself (its incident id, its owner)."""
        return {role: data.get(ref.field) for role, ref in self.roles.items() if ref.section == section_key}

    def action_field(self, key: str) -> Field:
        return next(f for f in self.action_fields if f.key == key)

    def action_key(self, role: ActionRole) -> str | None:
        """The action field that plays ``role``; None for an optional role the template leaves out."""
        return self.action_roles.get(role)

    def status_label(self, status: str) -> str:
        return self.status_labels.get(status, status)

    def with_vocabularies(self, overrides: Mapping[str, tuple[str, ...]]) -> Template:
        """This version with the operator's lists (``POSTMORTEM_SEVERITIES`` ...) in the dropdowns."""
        if all(overrides.get(f.vocabulary, f.options) == f.options for f in self._all_fields()):
            return self

        def fields(declared: tuple[Field, ...]) -> tuple[Field, ...]:
            return tuple(replace(f, options=overrides.get(f.vocabulary, f.options)) for f in declared)

        sections = tuple(replace(s, fields=fields(s.fields)) for s in self.sections)
        return replace(self, sections=sections, action_fields=fields(self.action_fields))

    def _all_fields(self) -> list[Field]:
        return [f for s in self.sections for f in s.fields] + list(self.action_fields)
