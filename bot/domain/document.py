"""The postmortem as a pydantic document: the one source of truth for validation.

Each section's validation model, and the corrective action's, is generated from the
postmortem's template, so a field declared in a template file is validated, stored and
exported without further code.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.domain import template as t
from bot.domain.catalog import builtin
from bot.domain.evals import EvalCase
from bot.domain.timeline import TimelineEntry

INCIDENT_ID_MAX = 64
INCIDENT_ID_MARKUP = "<>&|`"
INCIDENT_ID_RULE = (
    f"An incident id is one word of at most {INCIDENT_ID_MAX} characters, like `inc-2026-04-09-001`, "
    "without angle brackets, ampersands, pipes or backticks."
)
SectionState = Literal["done", "partial", "empty"]
URL = re.compile(r"^https?://[^\s<>|]+$")

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=t.SHORT_TEXT_MAX)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class YesNo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Literal["yes", "no", "unknown"]
    details: Annotated[str, StringConstraints(strip_whitespace=True, max_length=t.DETAILS_MAX)] = ""


class CorrectiveAction(BaseModel):
    """One corrective action; reminders are about these.

    The attributes are the action roles the app needs (``bot.domain.template.ActionRole``): ``action``
    is the title, ``kind`` the category. The template's other action fields are in ``extra``.
    """

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    action: str
    kind: str = ""
    owner: str | None = None
    due: date | None = None
    status: t.ActionStatus = t.OPEN
    status_reason: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None
    """The permalink of the Slack message the action was created from (*Create corrective action*)."""

    @model_validator(mode="after")
    def _reason_for_dropping(self) -> CorrectiveAction:
        if self.status == t.DROPPED and not self.status_reason.strip():
            raise PydanticCustomError("reason_required", DROPPED_NEEDS_REASON, {"loc": "status_reason"})
        return self

    @property
    def live(self) -> bool:
        """Still to be done, or done: only an action dropped as won't do is not."""
        return self.status != t.DROPPED


DROPPED_NEEDS_REASON = "Say why this action won't be done."


def incident_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an incident id, or None when it can.

    Any token is accepted, in any format teams already use; it only has to fit where the id
    goes: the database column, one text input, and Slack messages in which ``<``, ``>`` and
    ``&`` start markup (``|`` splits a link, a backtick ends code) and whitespace or control
    characters split or hide it.
    """
    if not value:
        return "This is required."
    if len(value) > INCIDENT_ID_MAX:
        return f"Use at most {INCIDENT_ID_MAX} characters."
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in value):
        return "Use one word: no spaces, line breaks or control characters."
    if any(c in INCIDENT_ID_MARKUP for c in value):
        return "Leave out angle brackets, ampersands, pipes and backticks: Slack reads them as formatting."
    return None


def _valid_incident_id(value: str) -> str:
    problem = incident_id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


IncidentId = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_valid_incident_id)]


def _member_of(values: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in values:
            raise ValueError(f"must be one of: {', '.join(values)}")
        return value

    return AfterValidator(check)


def _fits_one_input(lines: list[str]) -> list[str]:
    """Lines are edited in one Slack text input, which holds at most 3000 characters."""
    if len("\n".join(lines)) > t.LONG_TEXT_MAX:
        raise ValueError(f"at most {t.LONG_TEXT_MAX} characters in all")
    return lines


def _web_address(value: str) -> str:
    if not URL.match(value):
        raise ValueError("must be a web address starting with https:// or http://")
    return value


def _text(limit: int) -> Any:
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=limit)]


def _value_type(f: t.Field) -> Any:
    match f.kind:
        case t.Kind.SHORT_TEXT | t.Kind.LONG_TEXT:
            return _text(f.text_limit)
        case t.Kind.USER:
            return ShortText
        case t.Kind.USERS:
            return Annotated[list[ShortText], Field(min_length=1, max_length=100)]
        case t.Kind.DATE:
            return date
        case t.Kind.DATETIME:
            return AwareDatetime
        case t.Kind.CHOICE:
            return Annotated[str, _member_of(f.options)]
        case t.Kind.MULTI_CHOICE:
            member = Annotated[str, _member_of(f.options)]
            return Annotated[list[member], Field(min_length=1)]  # type: ignore[valid-type]
        case t.Kind.YES_NO:
            return YesNo
        case t.Kind.LINES:
            return Annotated[list[Line], Field(min_length=1, max_length=50), AfterValidator(_fits_one_input)]
        case t.Kind.NUMBER:
            return Annotated[int | float, Field(ge=f.minimum, le=f.maximum, allow_inf_nan=False)]
        case t.Kind.URL:
            return Annotated[_text(f.text_limit), AfterValidator(_web_address)]
    raise AssertionError(f"unhandled kind {f.kind}")


def _model(name: str, fields: tuple[t.Field, ...], partial: bool, incident_id: str | None = None) -> type[BaseModel]:
    declared: dict[str, Any] = {}
    for f in fields:
        value_type = IncidentId if f.key == incident_id else _value_type(f)
        declared[f.key] = (value_type, ...) if f.required and not partial else (value_type | None, None)
    return create_model(name, __config__=ConfigDict(extra="forbid"), **declared)


@cache
def section_model(template: t.Template, section_key: str, partial: bool = False) -> type[BaseModel]:
    """A pydantic model for one section, built from its template declaration.

    ``partial`` makes every field optional: an imported file may carry only some answers.
    """
    incident_id = template.role(t.Role.INCIDENT_ID)
    own_id = incident_id.field if incident_id and incident_id.section == section_key else None
    name = f"{'Partial' if partial else 'Section'}_{section_key}"
    return _model(name, template.section(section_key).fields, partial, own_id)


@cache
def action_model(template: t.Template) -> type[BaseModel]:
    return _model("CorrectiveActionForm", template.action_fields, partial=False)


def is_blank(value: Any) -> bool:
    """An answer left empty: None, "", whitespace, an empty list or mapping."""
    if value is None:
        return True
    if isinstance(value, str | list | dict):
        return not value or (isinstance(value, str) and not value.strip())
    return False


def drop_blank(raw: dict[str, Any]) -> dict[str, Any]:
    """Raw answers without the blank ones, and lists without their blank items."""
    cleaned: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, list):
            value = [v for v in value if not is_blank(v)]
        if not is_blank(value):
            cleaned[key] = value
    return cleaned


class SectionErrors(Exception):
    """Validation failed; ``errors`` maps field key to a message for the user."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def _human(error: Any) -> str:
    if error["type"] == "missing":
        return "This is required."
    if error["type"] in ("too_short", "string_too_short") and error.get("ctx", {}).get("min_length") == 1:
        return "This is required."
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _errors_by_field(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = error["loc"] or (error.get("ctx", {}).get("loc", "__all__"),)
        errors.setdefault(str(location[0]), _human(error))
    return errors


def action_defaults(template: t.Template) -> dict[str, Any]:
    """What a new action's form starts with, and what an imported action leaves out means."""
    return {f.key: f.default for f in template.action_fields if f.default is not None}


def validate_action(
    raw: dict[str, Any], action_id: int | None = None, template: t.Template | None = None
) -> CorrectiveAction:
    """A corrective action from the action form or a file; raises ``SectionErrors`` per field."""
    template = template or builtin()
    try:
        parsed = action_model(template).model_validate({**action_defaults(template), **drop_blank(raw)})
    except ValidationError as exc:
        raise SectionErrors(_errors_by_field(exc)) from exc
    answers = parsed.model_dump(mode="json", exclude_none=True)
    by_role = {role: answers.pop(key, None) for role, key in template.action_roles.items()}
    if by_role[t.ActionRole.STATUS] == t.DROPPED and not by_role[t.ActionRole.STATUS_REASON]:
        raise SectionErrors({template.action_roles[t.ActionRole.STATUS_REASON]: DROPPED_NEEDS_REASON})
    return CorrectiveAction(
        id=action_id,
        action=by_role[t.ActionRole.TITLE],
        kind=by_role.get(t.ActionRole.CATEGORY) or "",
        owner=by_role[t.ActionRole.OWNER],
        due=by_role[t.ActionRole.DUE],
        status=by_role[t.ActionRole.STATUS],
        status_reason=by_role[t.ActionRole.STATUS_REASON] or "",
        extra=answers,
    )


def action_answers(template: t.Template, action: CorrectiveAction) -> dict[str, Any]:
    """An action as its template's fields, JSON-ready and in template order (blank ones included)."""
    by_role = {
        t.ActionRole.TITLE: action.action,
        t.ActionRole.CATEGORY: action.kind,
        t.ActionRole.OWNER: action.owner,
        t.ActionRole.DUE: action.due.isoformat() if action.due else None,
        t.ActionRole.STATUS: action.status,
        t.ActionRole.STATUS_REASON: action.status_reason,
    }
    roles = {key: role for role, key in template.action_roles.items()}
    return {f.key: by_role[roles[f.key]] if f.key in roles else action.extra.get(f.key) for f in template.action_fields}


def validate_section(
    section_key: str, raw: dict[str, Any], template: t.Template | None = None, *, partial: bool = False
) -> dict[str, Any]:
    """Validated, JSON-ready answers of a section; raises ``SectionErrors`` per field."""
    model = section_model(template or builtin(), section_key, partial)
    try:
        parsed = model.model_validate(drop_blank(raw))
    except ValidationError as exc:
        raise SectionErrors(_errors_by_field(exc)) from exc
    return parsed.model_dump(mode="json", exclude_none=True)


def section_state(section: t.Section, answers: dict[str, Any], actions: list[CorrectiveAction]) -> SectionState:
    """Completeness shown on the card: empty, partial or done."""
    if section.is_action_list:
        live = [a for a in actions if a.live]
        if not actions:
            return "empty"
        return "done" if live and all(a.owner and a.due for a in live) else "partial"
    if not answers:
        return "empty"
    required = [f.key for f in section.fields if f.required]
    return "done" if all(not is_blank(answers.get(k)) for k in required) else "partial"


class Postmortem(BaseModel):
    """A whole postmortem, independent of Slack and of the database, with the template version it uses."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    incident_id: str | None = None
    answers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    actions: list[CorrectiveAction] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    """In time order (``bot.domain.timeline.in_order``)."""
    evals: list[EvalCase] = Field(default_factory=list)
    template: t.Template = Field(default_factory=builtin, exclude=True, repr=False)

    def value(self, section_key: str, field_key: str) -> Any:
        return self.answers.get(section_key, {}).get(field_key)

    def role(self, role: t.Role) -> Any:
        ref = self.template.role(role)
        return self.value(ref.section, ref.field) if ref else None

    def state(self, section: t.Section) -> SectionState:
        return section_state(section, self.answers.get(section.key, {}), self.actions)

    @property
    def sections_done(self) -> int:
        return sum(self.state(s) == "done" for s in self.template.sections)

    @property
    def owner(self) -> str | None:
        return self.role(t.Role.OWNER)
