"""Many people each owning an action due today: one digest DM each, counted at the stand-in."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from bot.domain.document import CorrectiveAction
from bot.slackdev import SlackStandin
from storage.models import SlackUserRow
from storage.store import Store

LEAD = "U0LEAD0001"


def owner(i: int) -> str:
    return f"U0OWN{i:05d}"


async def seed(store: Store, standin: SlackStandin, count: int, zone: str, *, due_in_days: int = 0) -> list[str]:
    """``count`` owners in ``zone``, each with one open action due in ``due_in_days`` days."""
    owners = [owner(i) for i in range(count)]
    for user in [*owners, LEAD]:
        standin.add_user(user, tz=zone)
    record, _ = await store.open_postmortem(standin.team_id, "C0INCIDENT", LEAD, "inc-delivery")
    due: date = store.clock.now().date() + timedelta(days=due_in_days)
    for user in owners:
        action = CorrectiveAction(action=f"Action of {user}", kind="other", owner=user, due=due)
        await store.save_action(record.id, action, LEAD)
    return owners


async def known_to_the_bot(store: Store, users: list[str], zone: str, fetched_at: datetime) -> None:
    """users.info answers kept as if asked at ``fetched_at``."""
    async with store.sessions.begin() as session:
        session.add_all(SlackUserRow(user_id=u, tz=zone, gone=False, fetched_at=fetched_at) for u in users)


def dm_counts(standin: SlackStandin) -> Counter[str]:
    """DMs each person received: messages in their DM, whatever the channel the bot named."""
    return Counter(
        c.response["channel"].removeprefix("D")
        for c in standin.calls_to("chat.postMessage")
        if c.response and c.response.get("ok")
    )
