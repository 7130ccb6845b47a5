"""The SQL form of ``bot.domain.owners.needs_owner``: the queries that find actions nobody
can be reminded of by name state it here, next to the partial index that serves them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, TextClause, text


def no_user_owner(column: str = "owner") -> str:
    """No owner, or one that is no Slack user id (``^[UW][A-Z0-9]{2,}$``: a team name from an
    imported file), in plain SQL both databases can index."""
    return (
        f"({column} IS NULL OR length({column}) < 3 OR substr({column}, 1, 1) NOT IN ('U', 'W')"
        f" OR trim(substr({column}, 2), '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ') <> '')"
    )


UNOWNED_INDEX = "ix_corrective_actions_unowned"
NO_USER_OWNER = no_user_owner()
"""The condition of the partial index ``UNOWNED_INDEX``: a query that wants the index repeats it
word for word, as a partial index serves only the queries that state its condition."""


def needs_owner(
    owner: Any, departed: Select[Any], *, qualified: bool = False
) -> tuple[TextClause, ColumnElement[bool]]:
    """``needs_owner`` as its two arms (either one means the action needs an owner): no Slack
    user as owner (``NO_USER_OWNER``, with the column named by its table when ``qualified``, for
    a join), and an owner among ``departed`` (the people Slack says are gone)."""
    name = f"{owner.table.name}.{owner.name}" if qualified else owner.name
    return text(no_user_owner(name)), owner.in_(departed)
