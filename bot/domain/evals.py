"""Eval cases: an incident turned into structured cases an eval harness can run.

The case's fields are fixed here, not in the template: ``eval-jsonl`` is a contract with
eval harnesses, so every template exports the same keys. The template says where the cases
are asked (the section holding the field with role ``eval_cases``) and the checklist counts
them (rule ``eval_cases``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from bot.domain import template as t

ScenarioId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=t.SHORT_TEXT_MAX)]
RiskClass = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=t.LONG_TEXT_MAX)]
ACTIONS_KEY = "action_ids"

CASE_FIELDS: tuple[t.Field, ...] = (
    t.Field("scenario_id", "Scenario id", t.Kind.SHORT_TEXT, required=True, placeholder="refund-without-approval"),
    t.Field("labels", "Labels (one per line)", t.Kind.LINES),
    t.Field("user_inputs", "User inputs that start the path (one per line)", t.Kind.LINES, required=True),
    t.Field("expected_outcomes", "Expected outcomes (one per line)", t.Kind.LINES, required=True),
    t.Field("risk_class", "Risk class", t.Kind.SHORT_TEXT, placeholder="high"),
    t.Field("source_trace_ids", "Source trace ids (one per line)", t.Kind.LINES),
)
"""The case form's inputs, in the order of the JSON lines; the linked actions are asked apart."""


class EvalCase(BaseModel):
    """One eval case of a postmortem; ``action_ids`` are the corrective actions it is the regression eval of."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    scenario_id: ScenarioId
    labels: list[Line] = Field(default_factory=list)
    user_inputs: list[Line] = Field(min_length=1)
    expected_outcomes: list[Line] = Field(min_length=1)
    risk_class: RiskClass = ""
    source_trace_ids: list[Line] = Field(default_factory=list)
    action_ids: list[int] = Field(default_factory=list)

    @field_validator("labels", "user_inputs", "expected_outcomes", "source_trace_ids", mode="before")
    @classmethod
    def _no_blank_lines(cls, value: Any) -> Any:
        return [v for v in value if not isinstance(v, str) or v.strip()] if isinstance(value, list) else value

    def fields(self) -> dict[str, Any]:
        """The case as the form's fields and the export's keys, without its id and links."""
        return self.model_dump(exclude={"id", ACTIONS_KEY})


class CaseErrors(Exception):
    """Per form field, what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def validate_case(raw: dict[str, Any], case_id: int | None, action_ids: list[int]) -> EvalCase:
    """A case from the case form or a file; raises ``CaseErrors`` naming each wrong field."""
    given = {k: v for k, v in raw.items() if v is not None}
    try:
        return EvalCase.model_validate({**given, "id": case_id, ACTIONS_KEY: action_ids})
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "scenario_id"
            empty = error["type"] in ("missing", "too_short", "string_too_short")
            errors.setdefault(key, "This is required." if empty else error["msg"])
        raise CaseErrors(errors) from exc


def case_defaults(trace_id: Any) -> dict[str, Any]:
    """A new case starts with the incident's trace id, the one it most likely replays."""
    return {"source_trace_ids": [trace_id]} if isinstance(trace_id, str) and trace_id.strip() else {}
