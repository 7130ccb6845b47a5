"""Queries. Each public method is one transaction, so a handler never holds a session open."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.catalog import Catalog, default_catalog
from bot.clock import Clock, SystemClock
from bot.document import CorrectiveAction, Postmortem
from bot.template import DONE, OPEN, Role, Template
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


def _record(row: PostmortemRow, template: Template) -> PostmortemRecord:
    sections = {s.section_key: SectionSnapshot(s.data, s.version, s.updated_by, s.updated_at) for s in row.sections}
    doc = Postmortem(
        incident_id=row.incident_id,
        answers={key: snap.data for key, snap in sections.items()},
        actions=[_action_model(a) for a in row.actions],
        template=template,
    )
    return PostmortemRecord(
        id=row.id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        incident_id=row.incident_id,
        created_by=row.created_by,
        card_ts=row.card_ts,
        card_post_started=row.card_post_started,
        last_edited_by=row.last_edited_by,
        last_edited_at=row.last_edited_at,
        doc=doc,
        sections=sections,
    )


def _with_children() -> Any:
    return select(PostmortemRow).options(selectinload(PostmortemRow.sections), selectinload(PostmortemRow.actions))


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

    async def _template(self, session: AsyncSession, name: str, version: str) -> Template:
        known = self.catalog.known(name, version)
        if known is not None:
            return known
        text = await session.scalar(
            select(TemplateRow.text).where(TemplateRow.name == name, TemplateRow.version == version)
        )
        if text is None:
            raise TemplateMissing(f"template {name} version {version} is neither a file nor in the database")
        return self.catalog.remember(text)

    async def stored_template(self, name: str, version: str) -> Template | None:
        """A version the database keeps (for an imported file that names one); None when it has none."""
        async with self.sessions() as session:
            try:
                return await self._template(session, name, version)
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

    def _audit(self, session: AsyncSession, postmortem_id: int, actor: str, event: str, **detail: Any) -> None:
        section_key = detail.pop("section_key", None)
        session.add(
            AuditRow(
                postmortem_id=postmortem_id,
                actor=actor,
                event=event,
                section_key=section_key,
                detail=detail,
                at=self.clock.now(),
            )
        )

    async def _one(self, session: AsyncSession, *where: Any) -> PostmortemRecord | None:
        row = (await session.scalars(_with_children().where(*where))).one_or_none()
        return await self._loaded(session, row) if row else None

    async def _loaded(self, session: AsyncSession, row: PostmortemRow) -> PostmortemRecord:
        return _record(row, await self._template(session, row.template_name, row.template_version))

    async def get(self, postmortem_id: int) -> PostmortemRecord | None:
        async with self.sessions() as session:
            return await self._one(session, PostmortemRow.id == postmortem_id)

    async def by_channel(self, team_id: str, channel_id: str) -> PostmortemRecord | None:
        async with self.sessions() as session:
            return await self._one(session, PostmortemRow.team_id == team_id, PostmortemRow.channel_id == channel_id)

    async def by_incident(self, incident_id: str, team_id: str | None = None) -> PostmortemRecord | None:
        where = [PostmortemRow.incident_id == incident_id]
        if team_id:
            where.append(PostmortemRow.team_id == team_id)
        async with self.sessions() as session:
            return await self._one(session, *where)

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
        existing = await self.by_channel(team_id, channel_id)
        if existing:
            return existing, False
        template = template or self.catalog.default_template
        await self.keep_template(template)
        try:
            async with self.sessions.begin() as session:
                session.add(
                    PostmortemRow(
                        team_id=team_id,
                        channel_id=channel_id,
                        incident_id=incident_id,
                        created_by=user_id,
                        created_at=self.clock.now(),
                        template_name=template.name,
                        template_version=template.version,
                    )
                )
                await session.flush()
        except IntegrityError:
            existing = await self.by_channel(team_id, channel_id)
            if existing:
                return existing, False
            taken = await self.by_incident(incident_id or "", team_id)
            raise IncidentIdTaken(incident_id or "", taken.channel_id if taken else "?") from None
        created = await self.by_channel(team_id, channel_id)
        assert created is not None
        async with self.sessions.begin() as session:
            self._audit(session, created.id, user_id, "started")
        return created, True

    async def save_section(
        self,
        postmortem_id: int,
        section_key: str,
        data: dict[str, Any],
        base_version: int,
        user_id: str,
        template: Template,
    ) -> int:
        """Store answers if nobody saved since ``base_version``; returns the new version."""
        roles = template.roles_in(section_key, data)
        try:
            async with self.sessions.begin() as session:
                await self._check_incident_id(session, postmortem_id, roles)
                new_version = await self._write_section(
                    session, postmortem_id, section_key, data, base_version, user_id
                )
                await self._touch(session, postmortem_id, user_id, roles)
                self._audit(
                    session, postmortem_id, user_id, "section_saved", section_key=section_key, version=new_version
                )
                return new_version
        except _Stale:
            pass
        except IntegrityError:
            pass
        current = await self.section(postmortem_id, section_key)
        raise Conflict(current)

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

    async def _check_incident_id(self, session: AsyncSession, postmortem_id: int, roles: dict[str, Any]) -> None:
        incident_id = roles.get(Role.INCIDENT_ID)
        if not incident_id:
            return
        team_id = await session.scalar(select(PostmortemRow.team_id).where(PostmortemRow.id == postmortem_id))
        other = await session.scalar(
            select(PostmortemRow).where(
                PostmortemRow.team_id == team_id,
                PostmortemRow.incident_id == incident_id,
                PostmortemRow.id != postmortem_id,
            )
        )
        if other:
            raise IncidentIdTaken(incident_id, other.channel_id)

    async def _write_section(
        self,
        session: AsyncSession,
        postmortem_id: int,
        section_key: str,
        data: dict[str, Any],
        base_version: int,
        user_id: str,
    ) -> int:
        if base_version == 0:
            session.add(
                SectionAnswerRow(
                    postmortem_id=postmortem_id,
                    section_key=section_key,
                    data=data,
                    version=1,
                    updated_by=user_id,
                    updated_at=self.clock.now(),
                )
            )
            await session.flush()
            return 1
        result = await session.execute(
            update(SectionAnswerRow)
            .where(
                SectionAnswerRow.postmortem_id == postmortem_id,
                SectionAnswerRow.section_key == section_key,
                SectionAnswerRow.version == base_version,
            )
            .values(data=data, version=base_version + 1, updated_by=user_id, updated_at=self.clock.now())
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _Stale
        return base_version + 1

    async def _touch(
        self, session: AsyncSession, postmortem_id: int, user_id: str, roles: dict[str, Any] | None
    ) -> None:
        """Who edited last; a saved section holding the incident id or the owner also sets them."""
        values: dict[str, Any] = {"last_edited_by": user_id, "last_edited_at": self.clock.now()}
        values.update({role: value for role, value in (roles or {}).items() if role in ROLE_COLUMNS})
        await session.execute(update(PostmortemRow).where(PostmortemRow.id == postmortem_id).values(**values))

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
            await self._touch(session, postmortem_id, user_id, None)
            self._audit(session, postmortem_id, user_id, event, action_id=action_id)
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
            self._audit(session, row.id, user_id, "imported")
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
            self._audit(
                session, postmortem_id, user_id, event, action_id=action_id, **{k: str(v) for k, v in values.items()}
            )
            await self._touch(session, postmortem_id, user_id, None)
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

    async def gone_people(self, user_ids: Iterable[str]) -> frozenset[str]:
        """Owners Slack last reported deleted or unknown (the reminder sweep keeps this current)."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(SlackUserRow.user_id).where(SlackUserRow.user_id.in_(set(user_ids)), SlackUserRow.gone)
            )
            return frozenset(rows)

    async def postmortems_of(self, team_id: str, user_id: str, limit: int = 20) -> list[PostmortemRecord]:
        """Postmortems a person owns or started, newest first (App Home)."""
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    _with_children()
                    .where(
                        PostmortemRow.team_id == team_id,
                        (PostmortemRow.owner == user_id)
                        | (PostmortemRow.owner.is_(None) & (PostmortemRow.created_by == user_id)),
                    )
                    .order_by(PostmortemRow.id.desc())
                    .limit(limit)
                )
            ).all()
            return [await self._loaded(session, row) for row in rows]


class _Stale(Exception):
    """The optimistic version check failed inside the transaction."""


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


# Plain tables, not the mapped classes: a statement of mapped attributes is compiled through
# the ORM, which made a sweep's first compile hold the event loop for tens of milliseconds.
_actions = ActionRow.__table__.c
_postmortems = PostmortemRow.__table__.c
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
