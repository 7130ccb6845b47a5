"""Who owns a corrective action, and when it needs an owner: defined here once.

The card's count, App Home, the reminder policy and the reminder sweep all ask
``needs_owner``; the due query states the same rule in SQL (``storage.owners``).
"""

from __future__ import annotations

import re
from collections.abc import Container

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def is_user_id(value: object) -> bool:
    """Owners are Slack users, except team names kept from an imported file."""
    return isinstance(value, str) and bool(USER_ID.match(value))


def needs_owner(owner: str | None, gone: Container[str] = ()) -> bool:
    """Nobody can be reminded of the action by name: no owner, an owner who is no Slack user
    (a team name from an imported file), or an account Slack says is ``gone``."""
    return not is_user_id(owner) or owner in gone
