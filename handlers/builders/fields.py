"""Template fields <-> Block Kit inputs, in both directions.

One mapping per field kind: how it is asked (element + initial value) and how Slack's
``view.state.values`` turns back into the raw answer that ``bot.domain.document`` validates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.domain import template as t
from bot.domain.owners import is_user_id
from handlers.builders import blocks as kit

DETAILS_SUFFIX = "__details"
REVISION_MARK = "~"


def _option(value: str, label: str | None = None) -> kit.JSON:
    return kit.option(value, (label or value.replace("_", " "))[:75])


def _options(field: t.Field) -> list[kit.JSON]:
    return [_option(v) for v in field.options]


def _text_element(field: t.Field, value: Any, multiline: bool) -> kit.JSON:
    if isinstance(value, list):
        value = "\n".join(value)
    return kit.text_input(
        field.key,
        multiline=multiline,
        max_length=field.text_limit,
        initial=value or None,
        placeholder=field.placeholder or None,
    )


def _number_text(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def _number_element(field: t.Field, value: Any) -> kit.JSON:
    return kit.number_input(
        field.key,
        initial=_number_text(value),
        minimum=_number_text(field.minimum),
        maximum=_number_text(field.maximum),
        placeholder=field.placeholder or None,
    )


def _epoch(value: str | None) -> int | None:
    return int(datetime.fromisoformat(value).timestamp()) if value else None


def _selected(options: list[kit.JSON], value: Any) -> kit.JSON | None:
    return next((o for o in options if o["value"] == value), None)


def _element(field: t.Field, value: Any) -> kit.JSON:
    match field.kind:
        case t.Kind.SHORT_TEXT:
            return _text_element(field, value, False)
        case t.Kind.LONG_TEXT | t.Kind.LINES:
            return _text_element(field, value, True)
        case t.Kind.URL:
            return kit.url_input(field.key, initial=value or None, placeholder=field.placeholder or None)
        case t.Kind.NUMBER:
            return _number_element(field, value)
        case t.Kind.DATE:
            return kit.datepicker(field.key, initial=value or None)
        case t.Kind.DATETIME:
            return kit.datetimepicker(field.key, initial=_epoch(value))
        case t.Kind.USER:
            return kit.users_select(field.key, initial=value if is_user_id(value) else None)
        case t.Kind.USERS:
            return kit.multi_users_select(field.key, initial=[v for v in value or [] if is_user_id(v)])
        case t.Kind.CHOICE:
            options = _options(field)
            return kit.static_select(field.key, options, initial=_selected(options, value))
        case t.Kind.MULTI_CHOICE:
            options = _options(field)
            chosen = [o for o in options if o["value"] in (value or [])]
            return kit.multi_static_select(field.key, options, initial=chosen)
        case t.Kind.YES_NO:
            options = [_option(v, t.YES_NO_LABELS[v]) for v in t.YES_NO_ANSWERS]
            return kit.radio_buttons(field.key, options, initial=_selected(options, (value or {}).get("answer")))
    raise AssertionError(f"unhandled kind {field.kind}")


def block_id(key: str, revision: int) -> str:
    """A new revision gets new block ids, because Slack keeps typed input for unchanged ids."""
    return f"{key}{REVISION_MARK}{revision}" if revision else key


def field_key(block: str) -> str:
    return block.split(REVISION_MARK, 1)[0]


def _hint(field: t.Field, value: Any) -> str | None:
    if field.kind is t.Kind.USER and value and not is_user_id(value):
        return f"Currently {value} (imported). Pick a person to replace it, or leave empty to keep it."
    return field.hint or None


def input_blocks(fields: Iterable[t.Field], answers: dict[str, Any], revision: int = 0) -> list[kit.JSON]:
    """The inputs of a form, prefilled with ``answers``."""
    blocks: list[kit.JSON] = []
    for field in fields:
        value = answers.get(field.key)
        blocks += _unanswered(field, revision) if value is None else _field_blocks(field, value, revision)
    return blocks


_UNANSWERED: dict[tuple[int, int], tuple[t.Field, tuple[kit.JSON, ...]]] = {}
_UNANSWERED_KEPT = 2048


def _unanswered(field: t.Field, revision: int) -> tuple[kit.JSON, ...]:
    """The blocks of a question not answered yet, built once per field and revision.

    Most inputs of a form a person opens are unanswered: the whole first form of a start, the next
    section's after a save. Built anew in the running app, the first form took 150 us of the event
    loop before its ``views.open``, 100 us with these kept; in a burst of starts the last one's modal
    waits for all the others'.
    Keyed by identity (a field's default may be a list, which does not hash), with the field kept
    beside its blocks so that its id cannot be reused while they are.
    """
    kept = _UNANSWERED.get((id(field), revision))
    if kept is None:
        if len(_UNANSWERED) >= _UNANSWERED_KEPT:  # templates read anew (imports) come and go
            _UNANSWERED.clear()
        kept = _UNANSWERED[(id(field), revision)] = (field, kit.shared(_field_blocks(field, None, revision)))
    return kept[1]


def _field_blocks(field: t.Field, value: Any, revision: int) -> list[kit.JSON]:
    optional = not field.required or (field.kind is t.Kind.USER and bool(value) and not is_user_id(value))
    blocks = [
        kit.input_block(
            field.label[:2000],
            _element(field, value),
            block_id=block_id(field.key, revision),
            optional=optional,
            hint=_hint(field, value),
        )
    ]
    if field.kind is t.Kind.YES_NO:
        details = kit.text_input(
            field.key + DETAILS_SUFFIX,
            multiline=True,
            max_length=t.DETAILS_MAX,
            initial=(value or {}).get("details") or None,
        )
        blocks.append(
            kit.input_block("Details", details, block_id=block_id(field.key + DETAILS_SUFFIX, revision), optional=True)
        )
    return blocks


def _state_by_key(state_values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Action ids are the field keys; block ids carry the revision."""
    return {action_id: element for actions in state_values.values() for action_id, element in actions.items()}


def _selected_value(element: dict[str, Any]) -> str | None:
    option = element.get("selected_option")
    return option.get("value") if option else None


def _datetime_value(element: dict[str, Any]) -> str | None:
    stamp = element.get("selected_date_time")
    return datetime.fromtimestamp(int(stamp), UTC).isoformat() if stamp is not None else None


def _raw_value(field: t.Field, element: dict[str, Any], details: dict[str, Any] | None) -> Any:
    match field.kind:
        case t.Kind.SHORT_TEXT | t.Kind.LONG_TEXT | t.Kind.URL | t.Kind.NUMBER:
            return element.get("value")
        case t.Kind.LINES:
            return (element.get("value") or "").splitlines()
        case t.Kind.DATE:
            return element.get("selected_date")
        case t.Kind.DATETIME:
            return _datetime_value(element)
        case t.Kind.USER:
            return element.get("selected_user")
        case t.Kind.USERS:
            return element.get("selected_users") or []
        case t.Kind.CHOICE:
            return _selected_value(element)
        case t.Kind.MULTI_CHOICE:
            return [o.get("value") for o in element.get("selected_options") or []]
        case t.Kind.YES_NO:
            answer = _selected_value(element)
            text = (details or {}).get("value") or ""
            return {"answer": answer, "details": text} if answer or text.strip() else None
    raise AssertionError(f"unhandled kind {field.kind}")


def read_state(
    fields: Iterable[t.Field], state_values: dict[str, dict[str, Any]], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Raw answers from a submitted view; an imported non-user owner left untouched is kept."""
    elements = _state_by_key(state_values)
    raw: dict[str, Any] = {}
    for field in fields:
        value = _raw_value(field, elements.get(field.key, {}), elements.get(field.key + DETAILS_SUFFIX))
        kept = (previous or {}).get(field.key)
        if field.kind is t.Kind.USER and not value and kept and not is_user_id(kept):
            value = kept
        raw[field.key] = value
    return raw


def error_blocks(errors: dict[str, str], state_values: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Field-keyed errors re-addressed to the block ids of the view the user submitted."""
    by_key = {field_key(block): block for block in state_values}
    return {by_key.get(key, key): message[:200] for key, message in errors.items()}
