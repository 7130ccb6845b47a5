"""The reminder buttons, in DMs and on App Home.

Only the action's owner or the postmortem's owner may change an action; a second click
of the same button finds nothing left to change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import template as t
from handlers.builders import blocks as kit
from handlers.builders import render
from handlers.builders.action_items import DONE, OPEN, REASSIGN, SNOOZE, SNOOZES
from handlers.builders.modals import actions_view
from handlers.support.canvas import refresh_canvas, update_canvas
from handlers.support.context import services
from handlers.support.errors import guarded
from handlers.support.lookups import meta_for
from handlers.support.permissions import Refused, check_may_change_action, check_team
from handlers.support.refresh import publish_home, refresh_card, update_card
from storage.read_models import ActionContext
from storage.store import Store


def _outcome_message(message: dict[str, Any], action_id: int, outcome: str) -> dict[str, Any]:
    """The DM as it was, with this action's controls replaced by what just happened."""
    blocks = []
    for block in message.get("blocks", []):
        if block.get("type") == "actions" and block.get("block_id", "").startswith(f"do-{action_id}-"):
            block = kit.context(outcome, block_id=block["block_id"])
        blocks.append(block)
    return {"text": message.get("text", "Corrective actions"), "blocks": blocks}


def clicked_action_id(body: dict[str, Any]) -> int:
    """Every control sits in a block whose id is ``<surface>-<action id>[-<kind>]``."""
    return int(body["actions"][0]["block_id"].split("-")[1])


async def _clicked_action(store: Store, body: dict[str, Any]) -> ActionContext:
    """The action a button names, if it exists in the clicking user's own workspace."""
    found = await store.action(clicked_action_id(body))
    if found is None:
        raise Refused("That corrective action no longer exists.")
    check_team(found.team_id, body)
    return found


Change = Callable[[Store, int, str], Awaitable[bool]]
Unchanged = Callable[[ActionContext], str]


def _already_closed(found: ActionContext) -> str:
    if found.action.status == t.DROPPED:
        return ":no_entry_sign: Already closed as won't do"
    return ":white_check_mark: Already done"


def _already_snoozed(found: ActionContext) -> str:
    if found.action.status != t.OPEN or found.snoozed_until is None:
        return _already_closed(found)
    return f":zzz: Already snoozed until {found.snoozed_until:%Y-%m-%d %H:%M} UTC"


def _already_owned(found: ActionContext) -> str:
    if found.action.status != t.OPEN:
        return _already_closed(found)
    return f":arrow_right: Already owned by {render.person(found.action.owner)}"


async def _change(
    body: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    respond: AsyncRespond | None,
    change: Change,
    outcome: str,
    unchanged: Unchanged,
) -> None:
    """Apply one button's change, if this person may, then show the state on every surface.

    A click that finds nothing left to change (done, snoozed or reassigned already, perhaps
    by someone else) shows the action as it is, through ``unchanged``, instead of ``outcome``.
    """
    svc = services(context)
    user = body["user"]["id"]
    found = await _clicked_action(svc.store, body)
    check_may_change_action(user, found.action.owner, found.postmortem_owner)
    action_id = found.action.id or 0
    changed = await change(svc.store, action_id, user)
    if not changed:
        outcome = unchanged(await svc.store.action(action_id) or found)
    container = body.get("container", {})
    if container.get("type") == "message":
        message = _outcome_message(body["message"], action_id, outcome)
        await client.chat_update(channel=container["channel_id"], ts=container["message_ts"], **message)
    await publish_home(client, svc.store, body["team"]["id"], user, svc.groups)
    if changed:
        await update_card(found.postmortem_id, refresh_card(client, svc.store, found.postmortem_id))
        if svc.canvas:
            await update_canvas(found.postmortem_id, refresh_canvas(client, svc.store, found.postmortem_id))


async def mark_done(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    await ack()
    outcome = f":white_check_mark: Marked done by <@{body['user']['id']}>"
    await _change(body, client, context, respond, Store.complete_action, outcome, _already_closed)


async def snooze(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    await ack()
    label, length = SNOOZES[action["selected_option"]["value"]]
    until = services(context).clock.now() + length

    async def quiet(store: Store, action_id: int, user: str) -> bool:
        return await store.snooze_action(action_id, user, until)

    outcome = f":zzz: Snoozed for {label} by <@{body['user']['id']}> (until {until:%Y-%m-%d %H:%M} UTC)"
    await _change(body, client, context, respond, quiet, outcome, _already_snoozed)


async def reassign(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    respond: AsyncRespond,
) -> None:
    await ack()
    new_owner = action["selected_user"]

    async def hand_over(store: Store, action_id: int, user: str) -> bool:
        return await store.reassign_action(action_id, user, new_owner)

    outcome = f":arrow_right: Reassigned to <@{new_owner}> by <@{body['user']['id']}>"
    await _change(body, client, context, respond, hand_over, outcome, _already_owned)


async def open_postmortem(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The postmortem's corrective-action list, where the action can be edited in full."""
    await ack()
    svc = services(context)
    found = await _clicked_action(svc.store, body)
    check_may_change_action(body["user"]["id"], found.action.owner, found.postmortem_owner)
    record = await svc.store.get(found.postmortem_id)
    if record is None:
        raise Refused("That postmortem no longer exists.")
    listed = actions_view(record.template, record, meta_for(svc, record, record.template.actions_section))
    await client.views_open(trigger_id=body["trigger_id"], view=listed)


def register(app: AsyncApp) -> None:
    app.action(DONE)(guarded(mark_done))
    app.action(SNOOZE)(guarded(snooze))
    app.action(REASSIGN)(guarded(reassign))
    app.action(OPEN)(guarded(open_postmortem))
