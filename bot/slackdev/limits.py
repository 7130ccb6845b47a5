"""Slack's documented limits, and the words Slack refuses a view or a message with.

The Web API methods and the modal stack the driver changes hold every view and message to
these same checks, so a view refused over one path is refused over all of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from bot.slackdev.wire import JSON, ApiError, invalid_arguments

TRIGGER_TTL_SECONDS = 3.0
"""Slack lets an app exchange a trigger_id only within 3 seconds of issuing it."""
MAX_VIEW_STACK = 3
"""A modal stack holds the opened view plus at most two pushed ones."""
MAX_MODAL_BLOCKS = 100
MAX_VIEW_BYTES = 250_000
"""Slack refuses a view "greater than 250kb" with ``view_too_large``.  Measured on the JSON
slack_sdk and Bolt send (non-ASCII escaped, so an emoji counts 12 bytes) against 250,000
bytes: the strictest reading of Slack's wording, so a view passing here passes there."""
MAX_MESSAGE_BLOCKS = 50
MAX_MESSAGE_TEXT = 40_000

_OPTION_LIMITS = {
    "static_select": 100,
    "multi_static_select": 100,
    "overflow": 5,
    "radio_buttons": 10,
    "checkboxes": 10,
}


def iter_elements(blocks: Any) -> Iterator[tuple[JSON, JSON, str]]:
    """Yield (block, element, pointer-from-block) for every interactive element.

    Shared by the limit checks, the driver's click/fill and state bookkeeping so
    they all agree on where Slack looks for elements.
    """
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        slots: list[tuple[str, Any]] = [("/accessory", block.get("accessory"))]
        slots.append(("/element", block.get("element")))
        if block.get("type") == "actions":
            slots += [(f"/elements/{i}", e) for i, e in enumerate(block.get("elements", []))]
        for pointer, element in slots:
            if isinstance(element, dict):
                yield block, element, pointer


class _Limits:
    """Collects violations of Slack's documented limits, worded as Slack words them."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def fail(self, problem: str, pointer: str) -> None:
        self.messages.append(f"[ERROR] {problem} [json-pointer:{pointer}]")

    def chars(self, value: Any, limit: int, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", pointer)

    def text(self, obj: Any, limit: int, pointer: str) -> None:
        if isinstance(obj, dict):
            self.chars(obj.get("text"), limit, f"{pointer}/text")

    def items(self, items: Any, limit: int, pointer: str) -> None:
        if isinstance(items, list) and len(items) > limit:
            self.fail(f"no more than {limit} items allowed", pointer)


def _check_blocks(lim: _Limits, blocks: Any, pointer: str, *, in_message: bool) -> None:
    if not isinstance(blocks, list):
        lim.fail("must be an array", pointer)
        return
    lim.items(blocks, MAX_MESSAGE_BLOCKS if in_message else MAX_MODAL_BLOCKS, pointer)
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"{pointer}/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            lim.fail("missing required field: type", at)
            continue
        block_id = block.get("block_id")
        lim.chars(block_id, 255, f"{at}/block_id")
        if block_id is not None and block_id in block_ids:
            lim.fail(f"duplicate block_id: {block_id}", f"{at}/block_id")
        block_ids.add(block_id)
        _check_block(lim, block, at, in_message=in_message)


def _check_block(lim: _Limits, block: JSON, at: str, *, in_message: bool) -> None:
    kind = block["type"]
    if kind == "section":
        lim.text(block.get("text"), 3000, f"{at}/text")
        lim.items(block.get("fields"), 10, f"{at}/fields")
        for i, field in enumerate(block.get("fields") or []):
            lim.text(field, 2000, f"{at}/fields/{i}")
    elif kind == "header":
        lim.text(block.get("text"), 150, f"{at}/text")
    elif kind == "input":
        if in_message:
            lim.fail("unsupported type: input", f"{at}/type")
        lim.text(block.get("label"), 2000, f"{at}/label")
        lim.text(block.get("hint"), 2000, f"{at}/hint")
    elif kind == "actions":
        lim.items(block.get("elements"), 25, f"{at}/elements")
    action_ids: set[str] = set()
    for _, element, pointer in iter_elements([block]):
        action_id = element.get("action_id")
        if action_id is not None and action_id in action_ids:
            lim.fail(f"duplicate action_id: {action_id}", f"{at}{pointer}/action_id")
        action_ids.add(action_id)
        _check_element(lim, element, f"{at}{pointer}")


def _check_element(lim: _Limits, element: JSON, at: str) -> None:
    lim.chars(element.get("action_id"), 255, f"{at}/action_id")
    kind = element.get("type")
    if kind in _OPTION_LIMITS:
        lim.items(element.get("options"), _OPTION_LIMITS[kind], f"{at}/options")
    for i, option in enumerate(element.get("options") or []):
        if isinstance(option, dict):
            lim.text(option.get("text"), 75, f"{at}/options/{i}/text")
    if kind == "plain_text_input":
        max_length = element.get("max_length")
        max_length = max_length if isinstance(max_length, int) else 3000
        if max_length > 3000:
            lim.fail("must be less than 3001", f"{at}/max_length")
        lim.chars(element.get("initial_value"), min(max_length, 3000), f"{at}/initial_value")


def view_violations(view: Any, *, kind: str) -> list[str]:
    """Every limit a view breaks, as Slack's response_metadata.messages lines."""
    lim = _Limits()
    if not isinstance(view, dict):
        lim.fail("must be an object", "/view")
        return lim.messages
    if view.get("type") != kind:
        lim.fail(f"must be {kind}", "/view/type")
    if kind == "modal":
        _check_modal_chrome(lim, view)
    lim.chars(view.get("private_metadata"), 3000, "/view/private_metadata")
    lim.chars(view.get("callback_id"), 255, "/view/callback_id")
    lim.chars(view.get("external_id"), 255, "/view/external_id")
    _check_blocks(lim, view.get("blocks", []), "/view/blocks", in_message=False)
    return lim.messages


def _check_modal_chrome(lim: _Limits, view: JSON) -> None:
    if not isinstance(view.get("title"), dict):
        lim.fail("missing required field: title", "/view/title")
    for key in ("title", "submit", "close"):
        obj = view.get(key)
        if isinstance(obj, dict) and obj.get("type") != "plain_text":
            lim.fail("must be plain_text", f"/view/{key}/type")
        lim.text(obj, 24, f"/view/{key}")
    blocks = view.get("blocks")
    has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if has_input and "submit" not in view:
        lim.fail("missing required field: submit (required when using input blocks)", "/view")


def message_violations(params: JSON) -> list[str]:
    """Every Block Kit limit a message's blocks break, as Slack words them."""
    lim = _Limits()
    if "blocks" in params:
        _check_blocks(lim, params["blocks"], "/blocks", in_message=True)
    return lim.messages


def check_view(view: Any, *, kind: str) -> None:
    """Raise Slack's refusal of a view a views method was given, if it breaks a limit."""
    if _too_large(view):
        raise ApiError("view_too_large")
    problems = view_violations(view, kind=kind)
    if problems:
        raise invalid_arguments(problems)


def response_action_problems(view: Any, *, kind: str) -> list[str]:
    """What Slack says of a view an app answers a submission with (``response_action``):
    the same limits as the views methods, as a list, since no method call fails."""
    problems = view_violations(view, kind=kind)
    return [*problems, "view_too_large: the view is greater than 250kb"] if _too_large(view) else problems


def _too_large(view: Any) -> bool:
    return len(json.dumps(view)) > MAX_VIEW_BYTES


def check_message(params: JSON) -> None:
    """Raise Slack's refusal of chat.postMessage/update/postEphemeral content, if any:
    nothing to show, blocks over a limit, text too long, metadata of the wrong shape."""
    if not (params.get("text") or params.get("blocks") or params.get("attachments")):
        raise ApiError("no_text")
    problems = message_violations(params)
    if problems:
        raise ApiError(
            "invalid_blocks",
            errors=[p.removeprefix("[ERROR] ") for p in problems],
            response_metadata={"messages": problems},
        )
    if len(str(params.get("text", ""))) > MAX_MESSAGE_TEXT:
        raise ApiError("msg_too_long")
    metadata = params.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
