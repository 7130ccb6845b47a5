"""Block Kit as the JSON Slack reads, built as plain dicts.

slack_sdk's model classes check every attribute of every object again on each ``to_dict()``:
a card or a modal cost over a millisecond of CPU that way, on every request, for JSON that
never changes shape. These builders write the same JSON (the same keys slack_sdk writes)
directly. Slack's limits are kept by the callers (``render.truncate``) and checked, in the
tests, by the Slack stand-in, which answers ``invalid_blocks`` as Slack does.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class SharedJSON(dict[str, Any]):
    """Block Kit JSON built once and put in many views: changing it would change every view it is
    in, so it refuses to be changed. orjson and json write it as the dict it is."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise TypeError("shared Block Kit JSON is read-only: build a new one to change it")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]


def shared(value: Any) -> Any:
    """``value`` as ``SharedJSON``, its lists as tuples, all the way down."""
    if isinstance(value, dict):
        return SharedJSON({key: shared(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(shared(item) for item in value)
    return value


def _present(**attributes: Any) -> JSON:
    return {key: value for key, value in attributes.items() if value is not None}


def plain(text: str) -> JSON:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> JSON:
    return {"type": "mrkdwn", "text": text}


def _plain_or_none(text: str | None) -> JSON | None:
    return plain(text) if text is not None else None


# blocks


def section(text: str, *, block_id: str | None = None, accessory: JSON | None = None) -> JSON:
    return _present(type="section", block_id=block_id, text=mrkdwn(text), accessory=accessory)


def context(*texts: str, block_id: str | None = None) -> JSON:
    return _present(type="context", block_id=block_id, elements=[mrkdwn(text) for text in texts])


def header(text: str) -> JSON:
    return {"type": "header", "text": plain(text)}


def divider() -> JSON:
    return {"type": "divider"}


def actions(*elements: JSON, block_id: str | None = None) -> JSON:
    return _present(type="actions", block_id=block_id, elements=list(elements))


def input_block(
    label: str,
    element: JSON,
    *,
    block_id: str | None = None,
    optional: bool | None = None,
    hint: str | None = None,
    dispatch_action: bool | None = None,
) -> JSON:
    return _present(
        type="input",
        block_id=block_id,
        label=plain(label),
        element=element,
        optional=optional,
        hint=_plain_or_none(hint),
        dispatch_action=dispatch_action,
    )


# elements


def button(
    text: str, action_id: str, *, value: str | None = None, style: str | None = None, url: str | None = None
) -> JSON:
    return _present(type="button", action_id=action_id, text=plain(text), value=value, style=style, url=url)


def option(value: str, label: str) -> JSON:
    return {"text": plain(label), "value": value}


def overflow(action_id: str, options: list[JSON]) -> JSON:
    return {"type": "overflow", "action_id": action_id, "options": options}


def static_select(
    action_id: str, options: list[JSON], *, initial: JSON | None = None, placeholder: str | None = None
) -> JSON:
    return _present(
        type="static_select",
        action_id=action_id,
        options=options,
        initial_option=initial,
        placeholder=_plain_or_none(placeholder),
    )


def multi_static_select(
    action_id: str, options: list[JSON], *, initial: list[JSON] | None = None, placeholder: str | None = None
) -> JSON:
    return _present(
        type="multi_static_select",
        action_id=action_id,
        options=options,
        initial_options=initial or None,
        placeholder=_plain_or_none(placeholder),
    )


def radio_buttons(action_id: str, options: list[JSON], *, initial: JSON | None = None) -> JSON:
    return _present(type="radio_buttons", action_id=action_id, options=options, initial_option=initial)


def users_select(action_id: str, *, initial: str | None = None, placeholder: str | None = None) -> JSON:
    return _present(
        type="users_select", action_id=action_id, initial_user=initial, placeholder=_plain_or_none(placeholder)
    )


def multi_users_select(action_id: str, *, initial: list[str] | None = None, placeholder: str | None = None) -> JSON:
    return _present(
        type="multi_users_select",
        action_id=action_id,
        initial_users=initial or None,
        placeholder=_plain_or_none(placeholder),
    )


def text_input(
    action_id: str,
    *,
    multiline: bool | None = None,
    max_length: int | None = None,
    initial: str | None = None,
    placeholder: str | None = None,
) -> JSON:
    return _present(
        type="plain_text_input",
        action_id=action_id,
        multiline=multiline,
        max_length=max_length,
        initial_value=initial,
        placeholder=_plain_or_none(placeholder),
    )


def number_input(
    action_id: str,
    *,
    initial: str | None = None,
    minimum: str | None = None,
    maximum: str | None = None,
    placeholder: str | None = None,
) -> JSON:
    return _present(
        type="number_input",
        action_id=action_id,
        is_decimal_allowed=True,
        initial_value=initial,
        min_value=minimum,
        max_value=maximum,
        placeholder=_plain_or_none(placeholder),
    )


def url_input(action_id: str, *, initial: str | None = None, placeholder: str | None = None) -> JSON:
    return _present(
        type="url_text_input", action_id=action_id, initial_value=initial, placeholder=_plain_or_none(placeholder)
    )


def datepicker(action_id: str, *, initial: str | None = None) -> JSON:
    return _present(type="datepicker", action_id=action_id, initial_date=initial)


def datetimepicker(action_id: str, *, initial: int | None = None) -> JSON:
    return _present(type="datetimepicker", action_id=action_id, initial_date_time=initial)


# surfaces


def modal(
    title: str,
    blocks: list[JSON],
    *,
    callback_id: str | None = None,
    private_metadata: str | None = None,
    submit: str | None = None,
    close: str | None = None,
) -> JSON:
    return _present(
        type="modal",
        callback_id=callback_id,
        title=plain(title),
        submit=_plain_or_none(submit),
        close=_plain_or_none(close),
        private_metadata=private_metadata,
        blocks=blocks,
    )


def home(blocks: list[JSON]) -> JSON:
    return {"type": "home", "blocks": blocks}
