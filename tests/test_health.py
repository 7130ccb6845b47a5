"""`GET /healthz`: what a load balancer or supervisor asks before sending the bot traffic."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.app import HEALTH_PATH


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_healthz_fails_once_the_sqlite_file_is_deleted(app_url: str, database_url: str) -> None:
    """Connections already open keep working on the unlinked file: they alone cannot tell."""
    database = Path(database_url.removeprefix("sqlite:///"))
    async with aiohttp.ClientSession() as session:
        async with session.get(app_url + HEALTH_PATH) as response:
            assert (response.status, await response.json()) == (200, {"ok": True, "database": "up"})
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        async with session.get(app_url + HEALTH_PATH) as response:
            assert (response.status, await response.json()) == (503, {"ok": False, "database": "down"})
    assert not database.exists()
