"""What listeners on several surfaces look up: the postmortem a modal names, and the sealed
metadata of a section modal."""

from __future__ import annotations

from typing import Any

from bot.domain import template as t
from bot.domain.document import CorrectiveAction
from handlers.builders.modals import SectionMeta
from handlers.support.context import Services
from handlers.support.permissions import NOT_FOUND, Refused, check_may_change_action, check_team
from storage.records import PostmortemRecord

GONE = "This postmortem no longer exists. Start a new one with `/postmortem start`."


async def find_postmortem(svc: Services, meta: SectionMeta, body: dict[str, Any]) -> PostmortemRecord | None:
    """By id, or by channel for a modal opened before the postmortem row existed.

    The record must be the one of the team and channel the modal was opened for, and the
    request must come from that team: a modal's metadata never reaches another workspace's data.
    """
    check_team(meta.team, body)
    if meta.postmortem is not None:
        record = await svc.store.get(meta.postmortem)
    else:
        record = await svc.store.by_channel(meta.team, meta.channel)
    if record is not None and (record.team_id, record.channel_id) != (meta.team, meta.channel):
        raise Refused(NOT_FOUND, f"metadata of {meta.team}/{meta.channel} names postmortem {record.id}")
    return record


def action_to_change(record: PostmortemRecord, action_id: int | None, user: str) -> CorrectiveAction | None:
    """The action a form names (None for a new one), refused unless it is this postmortem's and
    ``user`` may change it: its owner or the postmortem's."""
    if action_id is None:
        return None
    action = next((a for a in record.doc.actions if a.id == action_id), None)
    if action is None:
        raise Refused(NOT_FOUND, f"action {action_id} is not in postmortem {record.id}")
    check_may_change_action(user, action.owner, record.owner)
    return action


def meta_for(svc: Services, record: PostmortemRecord, section: t.Section, revision: int = 0) -> SectionMeta:
    return SectionMeta(
        team=record.team_id,
        channel=record.channel_id,
        section=section.key,
        postmortem=record.id,
        version=record.version(section.key),
        revision=revision,
    ).keyed(svc.metadata_key)
