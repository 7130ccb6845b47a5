"""Who may do what, and how a refusal travels: one rule for every surface that changes an action."""

from __future__ import annotations

from typing import Any

from handlers.builders import render


class Refused(Exception):
    """``user_text`` is shown to the user; ``reason`` (default: the same) goes to the log."""

    def __init__(self, user_text: str, reason: str = "") -> None:
        super().__init__(reason or user_text)
        self.user_text = user_text


NOT_FOUND = "That postmortem or corrective action does not exist here."


def request_team(body: dict[str, Any]) -> str:
    """The workspace a request comes from (``user.team_id`` where an org-wide install leaves ``team`` out)."""
    return (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or body.get("team_id") or ""


def check_team(record_team: str, body: dict[str, Any]) -> None:
    """A request touches only its own workspace's records, whatever ids its payload names."""
    team = request_team(body)
    if team != record_team:
        raise Refused(NOT_FOUND, f"team {team} asked for a record of team {record_team}")


def check_may_change_action(user: str, action_owner: str | None, postmortem_owner: str) -> None:
    """An existing corrective action is changed by its owner or the postmortem's owner, nobody else."""
    if user not in (action_owner, postmortem_owner):
        raise Refused(
            f"Only {render.person(action_owner)} (the action's owner) or {render.person(postmortem_owner)} "
            "(the postmortem's owner) can change this action.",
            f"{user} may not change an action of {action_owner} in a postmortem of {postmortem_owner}",
        )
