"""The postmortem as a pydantic document: the one source of truth for validation.

Each section's validation model is generated from the template, so a field declared in
``bot.template`` is validated, stored and exported without further code.
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

from bot import template as t

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
INCIDENT_ID_MAX = 64
INCIDENT_ID_MARKUP = "<>&|`"
INCIDENT_ID_RULE = (
    f"An incident id is one word of at most {INCIDENT_ID_MAX} characters, like `inc-2026-04-09-001`, "
    "without angle brackets, ampersands, pipes or backticks."
)
SectionState = Literal["done", "partial", "empty"]
ActionStatus = Literal["open", "done", "wont_do"]

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=t.SHORT_TEXT_MAX)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=t.LONG_TEXT_MAX)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class YesNo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Literal["yes", "no", "unknown"]
    details: Annotated[str, StringConstraints(strip_whitespace=True, max_length=t.DETAILS_MAX)] = ""


class CorrectiveAction(BaseModel):
    """One row of section 8; reminders are about these."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    action: LongText
    kind: str = "other"
    owner: ShortText | None = None
    due: date | None = None
    artifact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=t.SHORT_TEXT_MAX)] = ""
    status: ActionStatus = "open"
    status_reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=t.DETAILS_MAX)] = ""

    @model_validator(mode="after")
    def _reason_for_dropping(self) -> CorrectiveAction:
        if self.status == "wont_do" and not self.status_reason:
            raise PydanticCustomError("reason_required", "Say why this action won't be done.", {"loc": "status_reason"})
        return self


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
INCIDENT_ID_FIELD = t.SECTION_BY_KEY["summary"].field("incident_id")


def is_user_id(value: object) -> bool:
    """Owners are Slack users, except team names kept from an imported file."""
    return isinstance(value, str) and bool(USER_ID.match(value))


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


def _value_type(f: t.Field, vocabulary: t.Vocabulary) -> Any:
    match f.kind:
        case t.Kind.SHORT_TEXT | t.Kind.USER:
            return ShortText
        case t.Kind.LONG_TEXT:
            return LongText
        case t.Kind.DATE:
            return date
        case t.Kind.DATETIME:
            return AwareDatetime
        case t.Kind.CHOICE:
            return Annotated[str, _member_of(vocabulary[f.vocabulary])]
        case t.Kind.MULTI_CHOICE:
            member = Annotated[str, _member_of(vocabulary[f.vocabulary])]
            return Annotated[list[member], Field(min_length=1)]  # type: ignore[valid-type]
        case t.Kind.YES_NO:
            return YesNo
        case t.Kind.LINES:
            return Annotated[list[Line], Field(min_length=1, max_length=50), AfterValidator(_fits_one_input)]
    raise AssertionError(f"unhandled kind {f.kind}")


@cache
def section_model(
    section_key: str, vocabulary: t.Vocabulary = t.DEFAULT_VOCABULARY, partial: bool = False
) -> type[BaseModel]:
    """A pydantic model for one section, built from its template declaration.

    ``partial`` makes every field optional: an imported file may carry only some answers.
    """
    section = t.SECTION_BY_KEY[section_key]
    fields: dict[str, Any] = {}
    for f in section.fields:
        value_type = IncidentId if f is INCIDENT_ID_FIELD else _value_type(f, vocabulary)
        fields[f.key] = (value_type, ...) if f.required and not partial else (value_type | None, None)
    return create_model(
        f"{'Partial' if partial else 'Section'}_{section_key}",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )


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


def validate_action(
    raw: dict[str, Any], action_id: int | None = None, vocabulary: t.Vocabulary = t.DEFAULT_VOCABULARY
) -> CorrectiveAction:
    """A corrective action from the action form; raises ``SectionErrors`` per field."""
    try:
        action = CorrectiveAction.model_validate({**drop_blank(raw), "id": action_id})
    except ValidationError as exc:
        raise SectionErrors(_errors_by_field(exc)) from exc
    if action.kind not in vocabulary["action_kind"]:
        raise SectionErrors({"kind": f"must be one of: {', '.join(vocabulary['action_kind'])}"})
    return action


def validate_section(
    section_key: str,
    raw: dict[str, Any],
    vocabulary: t.Vocabulary = t.DEFAULT_VOCABULARY,
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """Validated, JSON-ready answers of a section; raises ``SectionErrors`` per field."""
    model = section_model(section_key, vocabulary, partial)
    try:
        parsed = model.model_validate(drop_blank(raw))
    except ValidationError as exc:
        raise SectionErrors(_errors_by_field(exc)) from exc
    return parsed.model_dump(mode="json", exclude_none=True)


def section_state(section: t.Section, answers: dict[str, Any], actions: list[CorrectiveAction]) -> SectionState:
    """Completeness shown on the card: empty, partial or done."""
    if section.is_action_list:
        live = [a for a in actions if a.status != "wont_do"]
        if not actions:
            return "empty"
        return "done" if live and all(a.owner and a.due for a in live) else "partial"
    if not answers:
        return "empty"
    required = [f.key for f in section.fields if f.required]
    return "done" if all(not is_blank(answers.get(k)) for k in required) else "partial"


class Postmortem(BaseModel):
    """A whole postmortem, independent of Slack and of the database."""

    incident_id: str | None = None
    answers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    actions: list[CorrectiveAction] = Field(default_factory=list)

    def value(self, section_key: str, field_key: str) -> Any:
        return self.answers.get(section_key, {}).get(field_key)

    def state(self, section: t.Section) -> SectionState:
        return section_state(section, self.answers.get(section.key, {}), self.actions)

    @property
    def sections_done(self) -> int:
        return sum(self.state(s) == "done" for s in t.SECTIONS)

    @property
    def owner(self) -> str | None:
        return self.value("summary", "owner")
