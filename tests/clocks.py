"""Instants and zones the tests set the app's clock to."""

from __future__ import annotations

from datetime import UTC, datetime

TUESDAY_AFTERNOON = datetime(2026, 5, 5, 13, 30, tzinfo=UTC)
"""The default: a working day after the worked example's due dates (April 2026)."""


def afternoon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is early afternoon at ``now``, whatever its hour in UTC."""
    hour = now.astimezone(UTC).hour
    offset = (13 - hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"
