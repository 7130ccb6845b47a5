"""Where the app is installed, and the OAuth states of installs under way: slack_sdk's async
installation and state store interfaces over our own tables, so SQLite and PostgreSQL both
serve them and alembic migrates them with everything else.

One row per installer (client, org, workspace, user): it carries the bot token that the
workspace's requests, cards, DMs and reminders use, and the installer's user token if any.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.base import StoreBase
from storage.models import InstallationRow, OAuthStateRow, OrgTeamRow
from storage.tokens import TokenCipher

log = logging.getLogger(__name__)
_rows = InstallationRow.__table__.c
_states = OAuthStateRow.__table__.c
SECRETS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
"""The columns kept as ciphertext."""
_IDS = ("enterprise_id", "team_id", "user_id", "is_enterprise_install", "installed_at")
_WEBHOOK = "incoming_webhook_url"
"""A credential too: kept in ``details`` as ciphertext."""


def _team(team_id: str | None, is_enterprise_install: bool | None) -> str:
    """An org-wide install belongs to no workspace, as slack_bolt looks it up."""
    return "" if is_enterprise_install or team_id is None else team_id


def _timestamp(value: Any) -> Any:
    return int(value.timestamp()) if isinstance(value, datetime) else value


class InstallationStore(AsyncInstallationStore):
    """Installations of the app with OAuth client ``client_id``, tokens encrypted by ``cipher``."""

    def __init__(self, store: StoreBase, cipher: TokenCipher, client_id: str) -> None:
        self.store = store
        self.cipher = cipher
        self.client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return log

    def _where(self, enterprise_id: str | None, team: str) -> list[ColumnElement[bool]]:
        return [_rows.client_id == self.client_id, _rows.enterprise_id == (enterprise_id or ""), _rows.team_id == team]

    def _values(self, installation: Installation) -> dict[str, Any]:
        values = installation.to_dict_for_copying()
        details = {k: _timestamp(v) for k, v in values.items() if k not in (*SECRETS, *_IDS)}
        details[_WEBHOOK] = self.cipher.encrypt(installation.incoming_webhook_url)
        return {
            "client_id": self.client_id,
            "enterprise_id": installation.enterprise_id or "",
            "team_id": _team(installation.team_id, installation.is_enterprise_install),
            "user_id": installation.user_id or "",
            "is_enterprise_install": bool(installation.is_enterprise_install),
            **{name: self.cipher.encrypt(getattr(installation, name)) for name in SECRETS},
            "details": details,
            "installed_at": self.store.clock.now(),
        }

    async def async_save(self, installation: Installation) -> None:
        """A new install, or a reinstall by the same person, which replaces theirs."""
        values = self._values(installation)
        key = [*self._where(installation.enterprise_id, values["team_id"]), _rows.user_id == values["user_id"]]
        async with self.store.engine.begin() as connection:
            done = await connection.execute(update(InstallationRow.__table__).where(*key).values(values))
            if done.rowcount:
                return
            try:
                async with connection.begin_nested():
                    await connection.execute(insert(InstallationRow.__table__).values(values))
            except IntegrityError:  # another replica saved it meanwhile: ours is as new
                await connection.execute(update(InstallationRow.__table__).where(*key).values(values))

    async def async_save_bot(self, bot: Bot) -> None:
        """A refreshed bot token (token rotation) for every install row of its workspace."""
        values = {
            "bot_token": self.cipher.encrypt(bot.bot_token),
            "bot_refresh_token": self.cipher.encrypt(bot.bot_refresh_token),
        }
        where = self._where(bot.enterprise_id, _team(bot.team_id, bot.is_enterprise_install))
        async with self.store.engine.begin() as connection:
            await connection.execute(update(InstallationRow.__table__).where(*where).values(values))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        installation = await self._find(self._where(enterprise_id, _team(team_id, is_enterprise_install)), None)
        return installation.to_bot() if installation is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        where = self._where(enterprise_id, _team(team_id, is_enterprise_install))
        return await self._find(where, user_id)

    async def bot_for_team(self, team_id: str) -> Bot | None:
        """The bot of a workspace, installed there or org-wide on its Enterprise Grid: what the
        reminder sweep, which knows a postmortem only by its team id, delivers with."""
        installation = await self._find([_rows.client_id == self.client_id, _rows.team_id == team_id], None)
        if installation is None:
            org = select(OrgTeamRow.enterprise_id).where(OrgTeamRow.team_id == team_id).scalar_subquery()
            org_wide = [_rows.client_id == self.client_id, _rows.team_id == "", _rows.enterprise_id == org]
            installation = await self._find(org_wide, None)
        return installation.to_bot() if installation is not None else None

    async def note_org_team(self, team_id: str, enterprise_id: str) -> None:
        """A request from ``team_id`` came under ``enterprise_id``'s org-wide install."""
        try:
            async with self.store.engine.begin() as connection:
                await connection.execute(
                    insert(OrgTeamRow.__table__), {"team_id": team_id, "enterprise_id": enterprise_id}
                )
        except IntegrityError:
            pass  # noted already, by this request's twin or another replica

    async def _find(self, where: list[ColumnElement[bool]], user_id: str | None) -> Installation | None:
        """The newest install that has a bot token (or, given ``user_id``, that person's)."""
        query = select(InstallationRow.__table__).where(*where)
        query = query.where(_rows.user_id == user_id) if user_id else query.where(_rows.bot_token.is_not(None))
        async with self.store.engine.connect() as connection:
            row = (await connection.execute(query.order_by(_rows.installed_at.desc(), _rows.id.desc()))).first()
        if row is None:
            return None
        await self._renew_stale(row)
        return self._installation(row)

    def _installation(self, row: Any) -> Installation:
        details = dict(row.details)
        details[_WEBHOOK] = self.cipher.decrypt(details.get(_WEBHOOK))
        return Installation(
            **details,
            enterprise_id=row.enterprise_id or None,
            team_id=row.team_id or None,
            user_id=row.user_id,
            is_enterprise_install=row.is_enterprise_install,
            installed_at=row.installed_at,
            **{name: self.cipher.decrypt(getattr(row, name)) for name in SECRETS},
        )

    async def rekey(self) -> int:
        """Every token kept under an older key written again under the first; how many installs had one."""
        async with self.store.engine.connect() as connection:
            rows = (await connection.execute(select(InstallationRow.__table__))).all()
        return sum([await self._renew_stale(row) for row in rows])

    async def _renew_stale(self, row: Any) -> bool:
        """Key rotation, done lazily: tokens read under an older key are written back under the first."""
        stale = [name for name in SECRETS if self.cipher.stale(getattr(row, name))]
        if not stale:
            return False
        renewed = {name: self.cipher.encrypt(self.cipher.decrypt(getattr(row, name))) for name in stale}
        unchanged = [_rows[name] == getattr(row, name) for name in stale]
        async with self.store.engine.begin() as connection:
            await connection.execute(
                update(InstallationRow.__table__).where(_rows.id == row.id, *unchanged).values(renewed)
            )
        return True

    async def async_delete_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> None:
        where = self._where(enterprise_id, _team(team_id, is_enterprise_install))
        await self._update(where, {"bot_token": None, "bot_refresh_token": None})

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """The person's user token goes (everyone's, without ``user_id``); the bot stays until ``delete_bot``."""
        where = self._where(enterprise_id, team_id or "")
        if user_id:
            where.append(_rows.user_id == user_id)
        await self._update(where, {"user_token": None, "user_refresh_token": None})

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        where = self._where(enterprise_id, team_id or "")
        async with self.store.engine.begin() as connection:
            await connection.execute(delete(InstallationRow.__table__).where(*where))

    async def _update(self, where: list[ColumnElement[bool]], values: dict[str, Any]) -> None:
        async with self.store.engine.begin() as connection:
            await connection.execute(update(InstallationRow.__table__).where(*where).values(values))


class OAuthStateStore(AsyncOAuthStateStore):
    """States good once, for ``expiration_seconds`` by the app's clock, and signed with ``secret``
    (``SLACK_STATE_SECRET``): a state we did not make is refused before the database is asked."""

    def __init__(self, store: StoreBase, secret: str, expiration_seconds: int) -> None:
        self.store = store
        self.secret = secret.encode()
        self.lifetime = timedelta(seconds=expiration_seconds)

    def _signature(self, nonce: str) -> str:
        digest = hmac.new(self.secret, nonce.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def _signed(self, state: str) -> bool:
        nonce, _, signature = state.partition(".")
        return hmac.compare_digest(signature, self._signature(nonce))

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        nonce = secrets.token_urlsafe(32)
        state = f"{nonce}.{self._signature(nonce)}"
        now = self.store.clock.now()
        async with self.store.engine.begin() as connection:
            await connection.execute(delete(OAuthStateRow.__table__).where(_states.expires_at <= now))
            row = {"state": state, "expires_at": now + self.lifetime}
            await connection.execute(insert(OAuthStateRow.__table__), row)
        return state

    async def async_consume(self, state: str) -> bool:
        """True once for a state we issued that has not expired; the row goes with the first answer."""
        if not self._signed(state):
            return False
        statement = delete(OAuthStateRow.__table__).where(
            _states.state == state, _states.expires_at > self.store.clock.now()
        )
        async with self.store.engine.begin() as connection:
            return bool((await connection.execute(statement)).rowcount)
