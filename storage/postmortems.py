"""The postmortem repository: start, load, save a section, import; each public method is one
transaction, so a handler never holds a session open. A save is one statement on PostgreSQL
(``storage.logged_changes``) and three in one transaction on SQLite, made in one trip to its
thread (``storage.sqlite_trips``); every statement is built once."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Row,
    Select,
    bindparam,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.document import Postmortem
from bot.domain.links import LinkTemplates
from bot.domain.template import Role, Template
from bot.domain.timeline import in_order
from storage import card_lease, logged_changes
from storage.base import INSERT_AUDIT, IncidentIdInUse, StoreBase, audit_params, touch, touch_params
from storage.logged_changes import UPDATE_SECTION
from storage.models import (
    ActionRow,
    AuditRow,
    EvalCaseRow,
    PostmortemRow,
    SectionAnswerRow,
    SlackUserRow,
    TemplateRow,
    TimelineRow,
)
from storage.records import (
    Conflict,
    IncidentIdTaken,
    Opened,
    PostmortemRecord,
    SavedSection,
    SectionSnapshot,
    TemplateMissing,
    action_columns,
    action_model,
    case_model,
)
from storage.sqlite_trips import in_one_trip
from storage.timeline import entry_model

ROLE_COLUMNS = frozenset({Role.INCIDENT_ID, Role.OWNER})
"""Roles kept on the postmortem's own row, where the queries for a team's incident or a person's postmortems look."""


def _postmortem_values(roles: dict[str, Any]) -> dict[str, Any]:
    """What a saved section changes on the postmortem's own row: the incident id, the owner."""
    return {str(role): value for role, value in roles.items() if role in ROLE_COLUMNS}


# Plain tables, not the mapped classes: a statement of mapped attributes is compiled through
# the ORM, which costs every request (and made a sweep's first compile hold the event loop).
_actions = ActionRow.__table__.c
_postmortems = PostmortemRow.__table__.c
_sections = SectionAnswerRow.__table__.c
_people = SlackUserRow.__table__.c
_cases = EvalCaseRow.__table__.c

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
    _postmortems.canvas_id,
    _postmortems.canvas_standalone,
    _sections.section_key,
    _sections.data,
    _sections.version,
    _sections.updated_by,
    _sections.updated_at,
    select(func.count())
    .where(TimelineRow.__table__.c.postmortem_id == _postmortems.id)
    .scalar_subquery()
    .label("timeline_entries"),
    (
        exists().where(_actions.postmortem_id == _postmortems.id)
        | exists().where(_cases.postmortem_id == _postmortems.id)
    ).label("has_items"),
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
    _actions.source,
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
_ACTION_ITEM, _CASE_ITEM = 0, 1
_ITEMS_OF = union_all(
    select(*_ACTION_COLUMNS, literal(_ACTION_ITEM).label("item"), null().cast(JSON).label("action_ids"))
    .outerjoin_from(ActionRow.__table__, SlackUserRow.__table__, _people.user_id == _actions.owner)
    .where(_actions.postmortem_id.in_(bindparam("postmortem_ids", expanding=True))),
    select(
        _cases.postmortem_id,
        _cases.id,
        *(null().cast(c.type).label(c.name) for c in _ACTION_COLUMNS[2:6]),
        _cases.data.label("extra"),
        *(null().cast(c.type).label(c.name) for c in _ACTION_COLUMNS[7:]),
        literal(_CASE_ITEM).label("item"),
        _cases.action_ids,
    ).where(_cases.postmortem_id.in_(bindparam("postmortem_ids", expanding=True))),
).order_by(text("item"), text("id"))
"""The postmortems' corrective actions, then their eval cases (``data`` as ``extra``): one statement for both."""
_TIMELINE_OF = select(TimelineRow.__table__).where(
    TimelineRow.__table__.c.postmortem_id.in_(bindparam("postmortem_ids", expanding=True))
)
# Statements built once: building one per request cost more CPU than running it.


def _record(
    rows: Sequence[Row[Any]],
    actions: Sequence[Row[Any]],
    timeline: Sequence[Row[Any]],
    cases: Sequence[Row[Any]],
    template: Template,
    links: LinkTemplates,
) -> PostmortemRecord:
    head = rows[0]
    sections = {
        r.section_key: SectionSnapshot(r.data, r.version, r.updated_by, r.updated_at)
        for r in rows
        if r.section_key is not None
    }
    doc = Postmortem(
        incident_id=head.incident_id,
        answers={key: snap.data for key, snap in sections.items()},
        actions=[action_model(a) for a in actions],
        timeline=in_order([entry_model(e) for e in timeline]),
        evals=[case_model(c) for c in cases],
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
        canvas_id=head.canvas_id,
        canvas_standalone=head.canvas_standalone,
        links=links,
    )


_INSERT_SECTION = insert(SectionAnswerRow.__table__)
_INSERT_NEW_POSTMORTEM = sqlite.insert(PostmortemRow.__table__).on_conflict_do_nothing().returning(_postmortems.id)
"""A postmortem, unless the channel has one or the team's incident id is taken (then no row is returned);
PostgreSQL's comes with its audit entry (``storage.logged_changes``)."""


@dataclass(frozen=True)
class _SectionSave:
    """A section's answers on their way to the database, and what the save changes on the postmortem."""

    postmortem_id: int
    section_key: str
    data: dict[str, Any]
    base_version: int
    user_id: str
    now: datetime
    changes: dict[str, Any]
    card_holder: str | None

    def params(self) -> dict[str, Any]:
        """The parameters of ``UPDATE_SECTION`` and of PostgreSQL's whole save (``storage.logged_changes``)."""
        section = {"pid": self.postmortem_id, "key": self.section_key, "base": self.base_version}
        written = {"new_version": self.base_version + 1, "new_data": self.data}
        written |= {"new_updated_by": self.user_id, "new_updated_at": self.now}
        touched = touch_params(self.postmortem_id, self.user_id, self.now, self.changes, self.card_holder)
        return section | written | touched


class _Stale(Exception):
    """The optimistic version check failed inside the transaction."""


def _create(params: dict[str, Any], user_id: str, now: datetime, connection: Connection) -> int | None:
    """SQLite's start (one trip): the postmortem and its audit entry; None where the channel has one."""
    postmortem_id = connection.scalar(_INSERT_NEW_POSTMORTEM, params)
    if postmortem_id is not None:
        connection.execute(INSERT_AUDIT, audit_params(postmortem_id, user_id, "started", now))
    return postmortem_id


def _save_in_transaction(save: _SectionSave, connection: Connection) -> tuple[int, Row[Any] | None]:
    """SQLite's save (one trip): the section, the postmortem's edit and the audit entry."""
    version = _write_section(connection, save)
    touched = touch(connection, save.postmortem_id, save.user_id, save.now, save.changes, save.card_holder)
    entry = audit_params(
        save.postmortem_id, save.user_id, "section_saved", save.now, section_key=save.section_key, version=version
    )
    connection.execute(INSERT_AUDIT, entry)
    return version, touched


def _write_section(connection: Connection, save: _SectionSave) -> int:
    """Version 1 by insert; later versions by an update that finds nothing when someone saved meanwhile."""
    values = {"data": save.data, "updated_by": save.user_id, "updated_at": save.now}
    if save.base_version == 0:
        try:
            connection.execute(
                _INSERT_SECTION,
                {"postmortem_id": save.postmortem_id, "section_key": save.section_key, "version": 1, **values},
            )
        except IntegrityError:  # a colleague's first save came first
            raise _Stale from None
        return 1
    if connection.execute(UPDATE_SECTION, save.params()).rowcount != 1:
        raise _Stale
    return save.base_version + 1


class Postmortems(StoreBase):
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
        """The postmortems ``statement`` (on ``_RECORDS``) selects, in at most three statements whatever
        their number: each with its sections (and whether it has actions or eval cases, and how many
        timeline entries), then the actions, with whether their owners are gone, and the eval cases of
        those that have any, then the timelines of those that have one (and another, once per
        process, a template version that is in no file any more)."""
        rows = (await connection.execute(statement, params)).all()
        if not rows:
            return []
        grouped: dict[int, list[Row[Any]]] = {}
        for row in rows:
            grouped.setdefault(row.id, []).append(row)
        actions_of: dict[int, list[Row[Any]]] = {}
        cases_of: dict[int, list[Row[Any]]] = {}
        with_items = [key for key, group in grouped.items() if group[0].has_items]
        if with_items:  # the first seven sections are saved before any action exists: no statement then
            for item in (await connection.execute(_ITEMS_OF, {"postmortem_ids": with_items})).all():
                of = actions_of if item.item == _ACTION_ITEM else cases_of
                of.setdefault(item.postmortem_id, []).append(item)
        timeline_of: dict[int, list[Row[Any]]] = {}
        with_timeline = [key for key, group in grouped.items() if group[0].timeline_entries]
        if with_timeline:  # most saves are of postmortems without one: no statement for them
            for entry in (await connection.execute(_TIMELINE_OF, {"postmortem_ids": with_timeline})).all():
                timeline_of.setdefault(entry.postmortem_id, []).append(entry)
        records = []
        for key, group in grouped.items():
            template = await self._template(connection, group[0].template_name, group[0].template_version)
            parts = actions_of.get(key, []), timeline_of.get(key, []), cases_of.get(key, [])
            records.append(_record(group, *parts, template, self.links))
        return records

    async def _one(self, statement: Select[Any], params: dict[str, Any] | None = None) -> PostmortemRecord | None:
        async with self.reading() as connection:
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
        its first card, taken in the statement that creates it (render it or drop the lease).

        The insert comes first and does nothing where the channel already has a postmortem (or
        the incident id is another channel's): a new channel, the common case, is never read.
        """
        template = template or self.catalog.default_template
        await self.keep_template(template)
        now = self.clock.now()
        holder = card_lease.new_holder()
        values = {"team_id": team_id, "channel_id": channel_id, "incident_id": incident_id, "created_by": user_id}
        named = {"template_name": template.name, "template_version": template.version}
        leased = card_lease.taken(holder, now) if take_card else {}
        params = {**values, **named, "created_at": now, **leased}
        if self._sqlite:
            postmortem_id = await in_one_trip(self.engine, functools.partial(_create, params, user_id, now))
        else:
            row = await self.write(logged_changes.start_statement(tuple(params)), params)
            postmortem_id = row.id if row else None
        if postmortem_id is None:
            existing = await self.by_channel(team_id, channel_id)
            if existing:
                return Opened(existing, created=False)
            taken = await self.by_incident(incident_id or "", team_id)
            raise IncidentIdTaken(incident_id or "", taken.channel_id if taken else "?")
        created = PostmortemRecord(
            id=postmortem_id,
            **values,
            card_ts=None,
            card_post_started=None,
            last_edited_by=None,
            last_edited_at=None,
            doc=Postmortem(incident_id=incident_id, template=template),
            links=self.links,
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
        """Store answers if nobody saved since ``base_version``: the section, the postmortem's edit and
        the audit entry, all or nothing (one statement on PostgreSQL, a transaction on SQLite).

        The statement that records who edited marks the card out of date and, with
        ``take_card``, takes its render lease (the caller must then render or drop it).
        """
        holder = card_lease.new_holder() if take_card else None
        roles = template.roles_in(section_key, data)
        save = _SectionSave(
            postmortem_id, section_key, data, base_version, user_id, self.clock.now(), _postmortem_values(roles), holder
        )
        try:
            if self._sqlite:
                version, touched = await in_one_trip(self.engine, functools.partial(_save_in_transaction, save))
            else:
                version, touched = await self._save_in_one_statement(save)
        except _Stale:
            raise Conflict(await self.section(postmortem_id, section_key)) from None
        except IncidentIdInUse:
            raise await self._incident_id_taken(postmortem_id, roles.get(Role.INCIDENT_ID) or "") from None
        card = card_lease.granted(postmortem_id, holder, touched) if holder else None
        return SavedSection(SectionSnapshot(data, version, user_id, save.now), card)

    async def _save_in_one_statement(self, save: _SectionSave) -> tuple[int, Row[Any]]:
        first, take_card = save.base_version == 0, save.card_holder is not None
        statement = logged_changes.save_statement(tuple(save.changes), first=first, take_card=take_card)
        try:
            row = await self.write(statement, save.params())
        except IntegrityError:  # the one constraint a save can meet: the incident id is unique in a team
            raise IncidentIdInUse from None
        if row is None:
            raise _Stale
        return row.version, row

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

    async def set_card(self, postmortem_id: int, ts: str | None) -> None:
        """The card's message, once a post's outcome is known (None: Slack refused it); settles the claim."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(PostmortemRow)
                .where(PostmortemRow.id == postmortem_id)
                .values(card_ts=ts, card_post_started=None)
            )

    async def import_postmortem(self, team_id: str, channel_id: str, doc: Postmortem, user_id: str) -> int:
        """Load an exported postmortem with its template version; refuses to overwrite one bound to the channel.

        Its eval cases name their actions by position in ``doc.actions`` (from 1), as a file does.
        """
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
            new_ids: dict[int, int] = {}
            for position, action in enumerate(doc.actions, 1):
                fields = action_columns(action)
                added = ActionRow(postmortem_id=row.id, created_by=user_id, created_at=now, updated_at=now, **fields)
                session.add(added)
                await session.flush()
                new_ids[position] = added.id
            for case in doc.evals:
                linked = [new_ids[a] for a in case.action_ids if a in new_ids]
                session.add(
                    EvalCaseRow(
                        postmortem_id=row.id,
                        data=case.fields(),
                        action_ids=linked,
                        created_by=user_id,
                        created_at=now,
                        updated_at=now,
                    )
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

    async def postmortems_of(self, team_id: str, user_id: str, limit: int = 20) -> list[PostmortemRecord]:
        """Postmortems a person owns or started, newest first (App Home)."""
        theirs = (_postmortems.team_id == team_id) & (
            (_postmortems.owner == user_id) | (_postmortems.owner.is_(None) & (_postmortems.created_by == user_id))
        )
        newest = select(_postmortems.id).where(theirs).order_by(_postmortems.id.desc()).limit(limit)
        async with self.engine.connect() as connection:
            return await self._records(connection, _RECORDS.where(_postmortems.id.in_(newest)))
