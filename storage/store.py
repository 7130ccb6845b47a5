"""Queries. Each public method is one transaction, so a handler never holds a session open."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, Update, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.domain.catalog import Catalog, default_catalog
from bot.domain.clock import Clock, SystemClock
from bot.domain.document import CorrectiveAction, Postmortem
from bot.domain.template import DONE, OPEN, Role, Template
from storage import card_lease
from storage.card_lease import Lease
from storage.models import ActionRow, AuditRow, PostmortemRow, SectionAnswerRow, SlackUserRow, TemplateRow

_SAME_SNOOZE = timedelta(minutes=10)
ROLE_COLUMNS = frozenset({Role.INCIDENT_ID, Role.OWNER})
"""Roles kept on the postmortem's own row, where the queries for a team's incident or a person's postmortems look."""


class IncidentIdTaken(Exception):
    """Another postmortem of this workspace already uses the incident id."""

    def __init__(self, incident_id: str, channel_id: str) -> None:
        super().__init__(f"{incident_id} already has a postmortem in <#{channel_id}>")
        self.incident_id = incident_id
        self.channel_id = channel_id


@dataclass(frozen=True)
class SectionSnapshot:
    data: dict[str, Any]
    version: int
    updated_by: str | None
    updated_at: datetime | None


class TemplateMissing(Exception):
    """A postmortem names a template version neither the files nor the database hold."""


class Conflict(Exception):
    """Someone saved the section after this modal was opened."""

    def __init__(self, current: SectionSnapshot) -> None:
        super().__init__(f"section changed to version {current.version}")
        self.current = current


@dataclass(frozen=True)
class PostmortemRecord:
    """A postmortem with everything the card, the modals and the exports need."""

    id: int
    team_id: str
    channel_id: str
    incident_id: str | None
    created_by: str
    card_ts: str | None
    card_post_started: datetime | None
    last_edited_by: str | None
    last_edited_at: datetime | None
    doc: Postmortem
    sections: dict[str, SectionSnapshot] = field(default_factory=dict)
    gone: frozenset[str] = frozenset()
    """Action owners Slack last reported deleted or unknown (the reminder sweep keeps this current)."""
    card_revision: int = 0
    """How many times the card was marked out of date when this was read (see ``storage.card_lease``)."""

    @property
    def owner(self) -> str:
        """The person nagged about unowned actions: the named owner, else whoever started it."""
        return self.doc.owner or self.created_by

    @property
    def template(self) -> Template:
        """The template version this postmortem was started with, whatever the files say now."""
        return self.doc.template

    def version(self, section_key: str) -> int:
        snapshot = self.sections.get(section_key)
        return snapshot.version if snapshot else 0

    def with_section(self, section_key: str, snapshot: SectionSnapshot) -> PostmortemRecord:
        """This record as it is once ``snapshot`` is stored: what the save wrote, without reading it back."""
        sections = {**self.sections, section_key: snapshot}
        renamed = self.template.roles_in(section_key, snapshot.data).get(Role.INCIDENT_ID, self.incident_id)
        doc = self.doc.model_copy(
            update={"incident_id": renamed, "answers": {key: snap.data for key, snap in sections.items()}}
        )
        return replace(
            self,
            incident_id=renamed,
            last_edited_by=snapshot.updated_by,
            last_edited_at=snapshot.updated_at,
            doc=doc,
            sections=sections,
        )


def _postmortem_values(roles: dict[str, Any]) -> dict[str, Any]:
    """What a saved section changes on the postmortem's own row: the incident id, the owner."""
    return {str(role): value for role, value in roles.items() if role in ROLE_COLUMNS}


def _action_model(row: ActionRow | Row[Any]) -> CorrectiveAction:
    """From a mapped row or a plain one of ``ACTION_CONTEXT_COLUMNS``: the same names either way."""
    return CorrectiveAction(
        id=row.id,
        action=row.action,
        kind=row.kind,
        owner=row.owner,
        due=row.due,
        status=row.status,  # type: ignore[arg-type]
        status_reason=row.status_reason,
        extra=row.extra,
    )


def _action_columns(action: CorrectiveAction) -> dict[str, Any]:
    return action.model_dump(mode="json", exclude={"id", "due"}) | {"due": action.due}


# Plain tables, not the mapped classes: a statement of mapped attributes is compiled through
# the ORM, which costs every request (and made a sweep's first compile hold the event loop).
_actions = ActionRow.__table__.c
_postmortems = PostmortemRow.__table__.c
_sections = SectionAnswerRow.__table__.c
_people = SlackUserRow.__table__.c

_RECORD_COLUMNS = (
    _postmortems.id,
    _postmortems.team_id,
    _postmortems.channel_id,
    _postmortems.incident_id,
    _postmortems.created_by,
    _postmortems.card_ts,
    _postmortems.card_post_started,
    _postmortems.last_edited_by,
    _postmortems.last_edited_at,
    _postmortems.card_revision,
    _postmortems.template_name,
    _postmortems.template_version,
    _sections.section_key,
    _sections.data,
    _sections.version,
    _sections.updated_by,
    _sections.updated_at,
)
_ACTION_COLUMNS = (
    _actions.postmortem_id,
    _actions.id,
    _actions.action,
    _actions.kind,
    _actions.owner,
    _actions.due,
    _actions.extra,
    _actions.status,
    _actions.status_reason,
    _people.gone,
)


_RECORDS = (
    select(*_RECORD_COLUMNS)
    .outerjoin_from(PostmortemRow.__table__, SectionAnswerRow.__table__, _sections.postmortem_id == _postmortems.id)
    .order_by(_postmortems.id.desc())
)
_BY_ID = _RECORDS.where(_postmortems.id == bindparam("postmortem_id"))
_BY_CHANNEL = _RECORDS.where(
    _postmortems.team_id == bindparam("team_id"), _postmortems.channel_id == bindparam("channel_id")
)
_ACTIONS_OF = (
    select(*_ACTION_COLUMNS)
    .outerjoin_from(ActionRow.__table__, SlackUserRow.__table__, _people.user_id == _actions.owner)
    .where(_actions.postmortem_id.in_(bindparam("postmortem_ids", expanding=True)))
    .order_by(_actions.id)
)
# Statements built once: building one per request cost more CPU than running it.


def _record(rows: Sequence[Row[Any]], actions: Sequence[Row[Any]], template: Template) -> PostmortemRecord:
    head = rows[0]
    sections = {
        r.section_key: SectionSnapshot(r.data, r.version, r.updated_by, r.updated_at)
        for r in rows
        if r.section_key is not None
    }
    doc = Postmortem(
        incident_id=head.incident_id,
        answers={key: snap.data for key, snap in sections.items()},
        actions=[_action_model(a) for a in actions],
        template=template,
    )
    return PostmortemRecord(
        id=head.id,
        team_id=head.team_id,
        channel_id=head.channel_id,
        incident_id=head.incident_id,
        created_by=head.created_by,
        card_ts=head.card_ts,
        card_post_started=head.card_post_started,
        last_edited_by=head.last_edited_by,
        last_edited_at=head.last_edited_at,
        doc=doc,
        sections=sections,
        gone=frozenset(a.owner for a in actions if a.gone),
        card_revision=head.card_revision,
    )


def _new(name: str, column: Any) -> Any:
    """The parameter ``new_<name>`` for a SET clause (a parameter may not share its column's name)."""
    return bindparam(f"new_{name}", type_=column.type)


_INSERT_AUDIT = insert(AuditRow.__table__)
_INSERT_SECTION = insert(SectionAnswerRow.__table__)
_UPDATE_SECTION = (
    update(SectionAnswerRow.__table__)
    .where(
        _sections.postmortem_id == bindparam("pid"),
        _sections.section_key == bindparam("key"),
        _sections.version == bindparam("base"),
    )
    .values({name: _new(name, _sections[name]) for name in ("version", "data", "updated_by", "updated_at")})
)


@functools.cache
def _touch_statement(changed: tuple[str, ...], *, take_card: bool) -> Update:
    """Who edited last and the ``changed`` columns of the postmortem, with its card marked out of
    date (and, with ``take_card``, its lease taken): one statement per shape, built once."""
    card = card_lease.MARK if take_card else {"card_revision": _postmortems.card_revision + 1}
    edited = {name: _new(name, _postmortems[name]) for name in ("last_edited_by", "last_edited_at", *changed)}
    return (
        update(PostmortemRow.__table__)
        .where(_postmortems.id == bindparam("pid"))
        .values({**edited, **card})
        .returning(*card_lease.MARK_RETURNS)
    )


@dataclass(frozen=True)
class Opened:
    record: PostmortemRecord
    created: bool
    card: Lease | None = None
    """When this call created the postmortem and was asked to: the lease to render its first card."""


@dataclass(frozen=True)
class SavedSection:
    snapshot: SectionSnapshot
    card: Lease | None = None
    """The card's render lease, when the save was asked to take it and it was free."""

    @property
    def version(self) -> int:
        return self.snapshot.version


class Store:
    """Every timestamp it writes comes from ``clock``, the app's one source of "now".

    ``catalog`` holds the templates on offer; a postmortem whose version no file holds any
    more gets it back from the ``templates`` table, where every version used is kept.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock | None = None, catalog: Catalog | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        self.catalog: Catalog = catalog or default_catalog()
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._kept: set[tuple[str, str]] = set()

    async def _template(self, connection: AsyncConnection, name: str, version: str) -> Template:
        known = self.catalog.known(name, version)
        if known is not None:
            return known
        text = await connection.scalar(
            select(TemplateRow.text).where(TemplateRow.name == name, TemplateRow.version == version)
        )
        if text is None:
            raise TemplateMissing(f"template {name} version {version} is neither a file nor in the database")
        return self.catalog.remember(text)

    async def stored_template(self, name: str, version: str) -> Template | None:
        """A version the database keeps (for an imported file that names one); None when it has none."""
        async with self.engine.connect() as connection:
            try:
                return await self._template(connection, name, version)
            except TemplateMissing:
                return None

    async def keep_template(self, template: Template) -> None:
        """Store a version's text once, so that any replica can read its postmortems for good."""
        key = (template.name, template.version)
        if key in self._kept:
            return
        async with self.sessions() as session:
            stored = await session.scalar(
                select(TemplateRow.version).where(TemplateRow.name == key[0], TemplateRow.version == key[1])
            )
        if stored is None:
            try:
                async with self.sessions.begin() as session:
                    session.add(TemplateRow(name=key[0], version=key[1], text=template.text))
            except IntegrityError:
                pass  # another replica stored it first
        self._kept.add(key)

    async def _records(
        self, connection: AsyncConnection, statement: Select[Any], params: dict[str, Any] | None = None
    ) -> list[PostmortemRecord]:
        """The postmortems ``statement`` (on ``_RECORDS``) selects, in two statements whatever their
        number: each with its sections, then all their actions with whether their owners are gone
        (and a third, once per process, for a template version that is in no file any more)."""
        rows = (await connection.execute(statement, params)).all()
        if not rows:
            return []
        grouped: dict[int, list[Row[Any]]] = {}
        for row in rows:
            grouped.setdefault(row.id, []).append(row)
        actions = (await connection.execute(_ACTIONS_OF, {"postmortem_ids": list(grouped)})).all()
        actions_of: dict[int, list[Row[Any]]] = {}
        for action in actions:
            actions_of.setdefault(action.postmortem_id, []).append(action)
        records = []
        for key, group in grouped.items():
            template = await self._template(connection, group[0].template_name, group[0].template_version)
            records.append(_record(group, actions_of.get(key, []), template))
        return records

    async def _audit(
        self, executor: AsyncConnection | AsyncSession, postmortem_id: int, actor: str, event: str, **detail: Any
    ) -> None:
        section_key = detail.pop("section_key", None)
        row = {"actor": actor, "event": event, "section_key": section_key, "detail": detail, "at": self.clock.now()}
        await executor.execute(_INSERT_AUDIT, {"postmortem_id": postmortem_id, **row})

    async def _one(self, statement: Select[Any], params: dict[str, Any] | None = None) -> PostmortemRecord | None:
        async with self.engine.connect() as connection:
            found = await self._records(connection, statement, params)
        return found[0] if found else None

    async def get(self, postmortem_id: int) -> PostmortemRecord | None:
        return await self._one(_BY_ID, {"postmortem_id": postmortem_id})

    async def by_channel(self, team_id: str, channel_id: str) -> PostmortemRecord | None:
        return await self._one(_BY_CHANNEL, {"team_id": team_id, "channel_id": channel_id})

    async def by_incident(self, incident_id: str, team_id: str | None = None) -> PostmortemRecord | None:
        where = _postmortems.incident_id == incident_id
        if team_id:
            where &= _postmortems.team_id == team_id
        return await self._one(_RECORDS.where(where))

    async def incident_teams(self, incident_id: str) -> list[str]:
        """The teams with a postmortem for ``incident_id``: ids are unique within a team only."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(PostmortemRow.team_id)
                .where(PostmortemRow.incident_id == incident_id)
                .order_by(PostmortemRow.team_id)
            )
            return list(rows)

    async def open_postmortem(
        self, team_id: str, channel_id: str, user_id: str, incident_id: str | None, template: Template | None = None
    ) -> tuple[PostmortemRecord, bool]:
        """The channel's postmortem, created on first call (with ``template``, by default the
        catalog's default); retries and double clicks reuse it, with the template it has."""
        opened = await self.start(team_id, channel_id, user_id, incident_id, template, take_card=False)
        return opened.record, opened.created

    async def start(
        self,
        team_id: str,
        channel_id: str,
        user_id: str,
        incident_id: str | None,
        template: Template | None = None,
        *,
        take_card: bool = True,
    ) -> Opened:
        """``open_postmortem`` for the app: a postmortem it creates comes with the lease to render
        its first card, taken in the statement that creates it (render it or drop the lease)."""
        existing = await self.by_channel(team_id, channel_id)
        if existing:
            return Opened(existing, created=False)
        template = template or self.catalog.default_template
        await self.keep_template(template)
        now = self.clock.now()
        holder = card_lease.new_holder()
        values = {"team_id": team_id, "channel_id": channel_id, "incident_id": incident_id, "created_by": user_id}
        named = {"template_name": template.name, "template_version": template.version}
        try:
            async with self.engine.begin() as connection:
                postmortem_id = await connection.scalar(
                    insert(PostmortemRow.__table__)
                    .values(**values, **named, created_at=now, **(card_lease.taken(holder, now) if take_card else {}))
                    .returning(_postmortems.id)
                )
                await self._audit(connection, postmortem_id, user_id, "started")
        except IntegrityError:
            existing = await self.by_channel(team_id, channel_id)
            if existing:
                return Opened(existing, created=False)
            taken = await self.by_incident(incident_id or "", team_id)
            raise IncidentIdTaken(incident_id or "", taken.channel_id if taken else "?") from None
        created = PostmortemRecord(
            id=postmortem_id,
            **values,
            card_ts=None,
            card_post_started=None,
            last_edited_by=None,
            last_edited_at=None,
            doc=Postmortem(incident_id=incident_id, template=template),
        )
        card = card_lease.Lease(postmortem_id, holder, 1, post_claimed=True) if take_card else None
        return Opened(created, created=True, card=card)

    async def save_section(
        self,
        postmortem_id: int,
        section_key: str,
        data: dict[str, Any],
        base_version: int,
        user_id: str,
        template: Template,
        *,
        take_card: bool = False,
    ) -> SavedSection:
        """Store answers if nobody saved since ``base_version``: one transaction of three statements.

        The same statement that records who edited marks the card out of date and, with
        ``take_card``, takes its render lease (the caller must then render or drop it).
        """
        now = self.clock.now()
        holder = card_lease.new_holder()
        roles = template.roles_in(section_key, data)
        try:
            async with self.engine.begin() as connection:
                version = await self._write_section(
                    connection, postmortem_id, section_key, data, base_version, user_id, now
                )
                touched = await self._touch(
                    connection,
                    postmortem_id,
                    user_id,
                    now,
                    _postmortem_values(roles),
                    holder if take_card else None,
                )
                await self._audit(
                    connection, postmortem_id, user_id, "section_saved", section_key=section_key, version=version
                )
        except _Stale:
            raise Conflict(await self.section(postmortem_id, section_key)) from None
        except _IncidentIdInUse:
            raise await self._incident_id_taken(postmortem_id, roles.get(Role.INCIDENT_ID) or "") from None
        card = card_lease.granted(postmortem_id, holder, touched) if take_card else None
        return SavedSection(SectionSnapshot(data, version, user_id, now), card)

    async def section(self, postmortem_id: int, section_key: str) -> SectionSnapshot:
        async with self.sessions() as session:
            row = await session.scalar(
                select(SectionAnswerRow).where(
                    SectionAnswerRow.postmortem_id == postmortem_id, SectionAnswerRow.section_key == section_key
                )
            )
        if row is None:
            return SectionSnapshot({}, 0, None, None)
        return SectionSnapshot(row.data, row.version, row.updated_by, row.updated_at)

    async def _incident_id_taken(self, postmortem_id: int, incident_id: str) -> IncidentIdTaken:
        async with self.engine.connect() as connection:
            mine = select(_postmortems.team_id).where(_postmortems.id == postmortem_id).scalar_subquery()
            channel = await connection.scalar(
                select(_postmortems.channel_id).where(
                    _postmortems.team_id == mine,
                    _postmortems.incident_id == incident_id,
                    _postmortems.id != postmortem_id,
                )
            )
        return IncidentIdTaken(incident_id, channel or "?")

    async def _write_section(
        self,
        connection: AsyncConnection,
        postmortem_id: int,
        section_key: str,
        data: dict[str, Any],
        base_version: int,
        user_id: str,
        now: datetime,
    ) -> int:
        """Version 1 by insert; later versions by an update that finds nothing when someone saved meanwhile."""
        values = {"data": data, "updated_by": user_id, "updated_at": now}
        if base_version == 0:
            try:
                await connection.execute(
                    _INSERT_SECTION,
                    {"postmortem_id": postmortem_id, "section_key": section_key, "version": 1, **values},
                )
            except IntegrityError:  # a colleague's first save came first
                raise _Stale from None
            return 1
        result = await connection.execute(
            _UPDATE_SECTION,
            {"pid": postmortem_id, "key": section_key, "base": base_version, "new_version": base_version + 1}
            | {f"new_{name}": value for name, value in values.items()},
        )
        if result.rowcount != 1:
            raise _Stale
        return base_version + 1

    async def _touch(
        self,
        connection: AsyncConnection | AsyncSession,
        postmortem_id: int,
        user_id: str,
        now: datetime,
        changes: dict[str, Any],
        card_holder: str | None,
    ) -> Row[Any] | None:
        """Who edited last, what the save changes on the postmortem, and the card marked out of date."""
        statement = _touch_statement(tuple(changes), take_card=card_holder is not None)
        params = {"pid": postmortem_id, "new_last_edited_by": user_id, "new_last_edited_at": now}
        params |= {f"new_{name}": value for name, value in changes.items()}
        if card_holder is not None:
            params |= card_lease.wanted(card_holder, now)
        try:
            return (await connection.execute(statement, params)).one_or_none()
        except IntegrityError:
            raise _IncidentIdInUse from None

    async def save_action(
        self, postmortem_id: int, action: CorrectiveAction, user_id: str, form_view: str | None = None
    ) -> int:
        """Insert a new corrective action, or update the one with ``action.id``.

        A new action is stored once per ``form_view`` (the form it was typed in): the same
        submission delivered twice, even at once, returns the action the first one created.
        """
        try:
            return await self._write_action(postmortem_id, action, user_id, form_view)
        except IntegrityError:
            created = await self._action_of_form(postmortem_id, form_view) if form_view else None
            if created is None:
                raise
            return created

    async def _action_of_form(self, postmortem_id: int, form_view: str) -> int | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(ActionRow.id).where(ActionRow.postmortem_id == postmortem_id, ActionRow.form_view == form_view)
            )

    async def _write_action(
        self, postmortem_id: int, action: CorrectiveAction, user_id: str, form_view: str | None
    ) -> int:
        fields = _action_columns(action)
        async with self.sessions.begin() as session:
            if action.id is None:
                now = self.clock.now()
                row = ActionRow(
                    postmortem_id=postmortem_id,
                    created_by=user_id,
                    form_view=form_view,
                    created_at=now,
                    updated_at=now,
                    **fields,
                )
                session.add(row)
                await session.flush()
                action_id = row.id
                event = "action_added"
            else:
                await session.execute(
                    update(ActionRow)
                    .where(ActionRow.id == action.id, ActionRow.postmortem_id == postmortem_id)
                    .values(updated_at=self.clock.now(), **fields)
                )
                action_id = action.id
                event = "action_edited"
            await self._touch(session, postmortem_id, user_id, self.clock.now(), {}, None)
            await self._audit(session, postmortem_id, user_id, event, action_id=action_id)
            return action_id

    async def set_card(self, postmortem_id: int, ts: str | None) -> None:
        """The card's message, once a post's outcome is known (None: Slack refused it); settles the claim."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(PostmortemRow)
                .where(PostmortemRow.id == postmortem_id)
                .values(card_ts=ts, card_post_started=None)
            )

    async def import_postmortem(self, team_id: str, channel_id: str, doc: Postmortem, user_id: str) -> int:
        """Load an exported postmortem with its template version; refuses to overwrite one bound to the channel."""
        now = self.clock.now()
        await self.keep_template(doc.template)
        async with self.sessions.begin() as session:
            row = PostmortemRow(
                team_id=team_id,
                channel_id=channel_id,
                incident_id=doc.incident_id,
                owner=doc.owner,
                created_by=user_id,
                created_at=now,
                template_name=doc.template.name,
                template_version=doc.template.version,
            )
            session.add(row)
            await session.flush()
            for key, data in doc.answers.items():
                session.add(
                    SectionAnswerRow(
                        postmortem_id=row.id, section_key=key, data=data, updated_by=user_id, updated_at=now
                    )
                )
            for action in doc.actions:
                fields = _action_columns(action)
                session.add(
                    ActionRow(postmortem_id=row.id, created_by=user_id, created_at=now, updated_at=now, **fields)
                )
            await self._audit(session, row.id, user_id, "imported")
            return row.id

    async def audit(self, postmortem_id: int) -> Sequence[AuditRow]:
        async with self.sessions() as session:
            return (
                await session.scalars(
                    select(AuditRow).where(AuditRow.postmortem_id == postmortem_id).order_by(AuditRow.id)
                )
            ).all()

    async def open_actions_for(self, team_id: str, user_id: str) -> list[ActionContext]:
        """Open actions a person owns, and the unowned ones of postmortems they own."""
        their_postmortem = (PostmortemRow.owner == user_id) | (
            PostmortemRow.owner.is_(None) & (PostmortemRow.created_by == user_id)
        )
        async with self.sessions() as session:
            return await _contexts(
                session,
                ActionRow.status == OPEN,
                PostmortemRow.team_id == team_id,
                (ActionRow.owner == user_id) | (ActionRow.owner.is_(None) & their_postmortem),
            )

    async def action(self, action_id: int) -> ActionContext | None:
        async with self.sessions() as session:
            found = await _contexts(session, ActionRow.id == action_id)
        return found[0] if found else None

    async def update_action(
        self, action_id: int, user_id: str, event: str, *unless_already: Any, **values: Any
    ) -> bool:
        """Change an open action, atomically; False when there was nothing left to change.

        ``unless_already`` holds the conditions under which the change is still new, so a
        double click, or two people clicking at once, changes the action once.
        """
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(ActionRow)
                .where(ActionRow.id == action_id, ActionRow.status == OPEN, *unless_already)
                .values(updated_at=self.clock.now(), **values)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            postmortem_id = await session.scalar(select(ActionRow.postmortem_id).where(ActionRow.id == action_id))
            await self._audit(
                session, postmortem_id, user_id, event, action_id=action_id, **{k: str(v) for k, v in values.items()}
            )
            await self._touch(session, postmortem_id, user_id, self.clock.now(), {}, None)
            return True

    async def snooze_action(self, action_id: int, user_id: str, until: datetime) -> bool:
        """Quiet until ``until``; the same snooze clicked again moments later changes nothing."""
        not_yet = ActionRow.snoozed_until.is_(None) | (ActionRow.snoozed_until < until - _SAME_SNOOZE)
        return await self.update_action(action_id, user_id, "action_snoozed", not_yet, snoozed_until=until)

    async def reassign_action(self, action_id: int, user_id: str, owner: str) -> bool:
        other_owner = ActionRow.owner.is_(None) | (ActionRow.owner != owner)
        return await self.update_action(action_id, user_id, "action_reassigned", other_owner, owner=owner)

    async def complete_action(self, action_id: int, user_id: str) -> bool:
        return await self.update_action(action_id, user_id, "action_done", status=DONE)

    async def postmortems_of(self, team_id: str, user_id: str, limit: int = 20) -> list[PostmortemRecord]:
        """Postmortems a person owns or started, newest first (App Home)."""
        theirs = (_postmortems.team_id == team_id) & (
            (_postmortems.owner == user_id) | (_postmortems.owner.is_(None) & (_postmortems.created_by == user_id))
        )
        newest = select(_postmortems.id).where(theirs).order_by(_postmortems.id.desc()).limit(limit)
        async with self.engine.connect() as connection:
            return await self._records(connection, _RECORDS.where(_postmortems.id.in_(newest)))


class _Stale(Exception):
    """The optimistic version check failed inside the transaction."""


class _IncidentIdInUse(Exception):
    """The summary's incident id is another postmortem's of the same team."""


@dataclass(frozen=True)
class ActionContext:
    """An open corrective action with what a reminder needs to say about its postmortem."""

    action: CorrectiveAction
    postmortem_id: int
    team_id: str
    channel_id: str
    incident_id: str | None
    postmortem_owner: str
    created_at: datetime
    snoozed_until: datetime | None


ACTION_CONTEXT_COLUMNS = (
    _actions.id,
    _actions.action,
    _actions.kind,
    _actions.owner,
    _actions.due,
    _actions.extra,
    _actions.status,
    _actions.status_reason,
    _actions.snoozed_until,
    _actions.created_at,
    _actions.postmortem_id,
    _postmortems.team_id,
    _postmortems.channel_id,
    _postmortems.incident_id,
    _postmortems.owner.label("postmortem_owner"),
    _postmortems.created_by,
)
"""What an ``ActionContext`` is made of, as plain columns (see ``action_context``)."""


def action_context(row: Row[Any]) -> ActionContext:
    return ActionContext(
        action=_action_model(row),
        postmortem_id=row.postmortem_id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        incident_id=row.incident_id,
        postmortem_owner=row.postmortem_owner or row.created_by,
        created_at=row.created_at,
        snoozed_until=row.snoozed_until,
    )


async def _contexts(session: AsyncSession, *where: Any) -> list[ActionContext]:
    rows = await session.execute(
        select(*ACTION_CONTEXT_COLUMNS)
        .join_from(ActionRow.__table__, PostmortemRow.__table__, _postmortems.id == _actions.postmortem_id)
        .where(*where)
        .order_by(_actions.due.is_(None), _actions.due, _actions.id)
    )
    return [action_context(row) for row in rows]
