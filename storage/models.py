"""Tables. Durable state lives here and nowhere else, so any replica can serve any request."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.owners import NO_USER_OWNER, UNOWNED_INDEX


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class PostmortemRow(Base):
    __tablename__ = "postmortems"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", name="uq_postmortems_channel"),
        UniqueConstraint("team_id", "incident_id", name="uq_postmortems_incident"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[str | None] = mapped_column(String(150))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    last_edited_by: Mapped[str | None] = mapped_column(String(32))
    last_edited_at: Mapped[datetime | None]
    card_ts: Mapped[str | None] = mapped_column(String(32))
    card_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    card_lease_holder: Mapped[str | None] = mapped_column(String(32))
    card_lease_until: Mapped[datetime | None]
    card_post_started: Mapped[datetime | None]
    owner: Mapped[str | None] = mapped_column(String(150), index=True)
    template_name: Mapped[str] = mapped_column(String(40))
    template_version: Mapped[str] = mapped_column(String(16))
    canvas_id: Mapped[str | None] = mapped_column(String(32))
    canvas_standalone: Mapped[bool] = mapped_column(default=False)
    """Slack refused a channel canvas: ``canvas_id`` is a standalone canvas the card links to."""
    canvas_create_started: Mapped[datetime | None]
    """A create was claimed and its outcome is not known yet (see ``storage.canvas_lease``)."""
    canvas_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    canvas_lease_holder: Mapped[str | None] = mapped_column(String(32))
    canvas_lease_until: Mapped[datetime | None]
    canvas_digests: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Per section key, the digest of the text the canvas was last given (``bot.domain.canvas``)."""
    finished_at: Mapped[datetime | None]
    """When the card first showed every section done (``storage.card_lease``); None while it does not."""

    sections: Mapped[list[SectionAnswerRow]] = relationship(
        back_populates="postmortem", cascade="all, delete-orphan", lazy="raise"
    )
    actions: Mapped[list[ActionRow]] = relationship(
        back_populates="postmortem", cascade="all, delete-orphan", lazy="raise", order_by="ActionRow.id"
    )


class SectionAnswerRow(Base):
    """One section's answers; ``version`` guards against silently overwriting a colleague."""

    __tablename__ = "section_answers"
    __table_args__ = (UniqueConstraint("postmortem_id", "section_key", name="uq_section_answers_section"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"))
    section_key: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime]

    postmortem: Mapped[PostmortemRow] = relationship(back_populates="sections", lazy="raise")


OPEN_INDEX = "ix_corrective_actions_open"
OWNER_INDEX = "ix_corrective_actions_owner"
CLOSED_INDEX = "ix_corrective_actions_closed"
"""The actions closed since an instant, with what the insights count of them (``storage.insights``)."""
CLOSED = "closed_at IS NOT NULL"


class ActionRow(Base):
    """One corrective action; ``form_view`` is the form that created it, so a doubled submission creates it once."""

    __tablename__ = "corrective_actions"
    __table_args__ = (
        Index(OPEN_INDEX, "status", "due"),
        UniqueConstraint("postmortem_id", "form_view", name="uq_corrective_actions_form"),
        Index(OWNER_INDEX, "owner", "status", "id"),
        Index(
            UNOWNED_INDEX,
            "status",
            "id",
            sqlite_where=text(NO_USER_OWNER),
            postgresql_where=text(NO_USER_OWNER),
        ),
        Index(
            CLOSED_INDEX,
            "closed_at",
            "status",
            "due",
            "created_at",
            "postmortem_id",
            sqlite_where=text(CLOSED),
            postgresql_where=text(CLOSED),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    owner: Mapped[str | None] = mapped_column(String(150))
    due: Mapped[date | None] = mapped_column(Date)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The template's action fields that are no column of their own (the roles are)."""
    status: Mapped[str] = mapped_column(String(16), default="open")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    snoozed_until: Mapped[datetime | None]
    form_view: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(Text)
    """The permalink of the message the action was created from, if it was."""
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    """When it left ``open`` (done or won't do); None while open, and for actions imported closed."""

    postmortem: Mapped[PostmortemRow] = relationship(back_populates="actions", lazy="raise")


class EvalCaseRow(Base):
    """One eval case (``bot.domain.evals``) of a postmortem; ``form_view`` is the form that created it,
    so a doubled submission creates it once."""

    __tablename__ = "eval_cases"
    __table_args__ = (UniqueConstraint("postmortem_id", "form_view", name="uq_eval_cases_form"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict[str, Any]]
    """The case's fields, as ``EvalCase.fields`` gives them."""
    action_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    form_view: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TemplateRow(Base):
    """Every template version the app has used: a postmortem keeps its version after the file changes."""

    __tablename__ = "templates"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[str] = mapped_column(String(16), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class AuditRow(Base):
    """Who changed what, when: the answer to "who overwrote my root cause?"."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(40))
    section_key: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]


class ReminderRow(Base):
    """The reminder ledger: a reminder is claimed here, under a unique key, before it is sent.

    ``state`` moves claimed -> sending -> sent, or -> failed (Slack said no: a later sweep
    may reclaim it) or -> unknown (the request may have arrived: the DM history is checked,
    in state checking, before anything is sent again). The sweep ``claimed_by`` owns the row
    while ``lease_until`` lies ahead; it renews the lease as it runs, and moves the row to
    sending only while it still owns it.
    """

    __tablename__ = "reminder_ledger"
    __table_args__ = (Index("ix_reminder_ledger_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("corrective_actions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    slot: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="claimed")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime]
    claimed_by: Mapped[str] = mapped_column(String(32))
    lease_until: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class SlackUserRow(Base):
    """``users.info`` answers cached: time zone for working hours, and whether the account is gone."""

    __tablename__ = "slack_users"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tz: Mapped[str | None] = mapped_column(String(64))
    gone: Mapped[bool] = mapped_column(default=False)
    fetched_at: Mapped[datetime]


class TimelineRow(Base):
    """A message of the incident channel on section 2's timeline; one row per message, however it was added."""

    __tablename__ = "timeline_entries"
    __table_args__ = (UniqueConstraint("postmortem_id", "message_ts", name="uq_timeline_entries_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    message_ts: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    permalink: Mapped[str] = mapped_column(String(500))
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"permalinks": [...]}``: the message's files and images."""
    deleted: Mapped[bool] = mapped_column(default=False)
    via: Mapped[str] = mapped_column(String(16))
    added_by: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime]


class InsightsPostRow(Base):
    """The weekly insights post of a workspace, claimed under (team, ISO week) before it is made.

    ``state`` moves claimed -> completing (the chart is uploaded as ``file_id`` and about to be
    shared) -> posted, or -> failed (Slack said no: a later run may claim it again) or -> unknown
    (the share may have happened: settled by looking for ``file_id`` in the channel, never by
    sharing again). ``claimed_by`` owns a claimed row while ``lease_until`` lies ahead.
    """

    __tablename__ = "insights_posts"
    __table_args__ = (UniqueConstraint("team_id", "week", name="uq_insights_posts_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    week: Mapped[str] = mapped_column(String(10))
    channel_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str] = mapped_column(String(32))
    claimed_at: Mapped[datetime]
    lease_until: Mapped[datetime]
    file_id: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(String(500))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(200))


class InstallationRow(Base):
    """One install of the app (a workspace, or an Enterprise Grid org), as ``slack_sdk``'s
    ``Installation`` describes it; tokens only as ciphertext (``storage.tokens``).

    Absent ids are stored as ``""``: a unique constraint treats NULLs as all different.
    """

    __tablename__ = "installations"
    __table_args__ = (
        UniqueConstraint("client_id", "enterprise_id", "team_id", "user_id", name="uq_installations_installer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    team_id: Mapped[str] = mapped_column(String(32), default="")
    user_id: Mapped[str] = mapped_column(String(32), default="")
    is_enterprise_install: Mapped[bool] = mapped_column(default=False)
    bot_token: Mapped[str | None] = mapped_column(Text)
    bot_refresh_token: Mapped[str | None] = mapped_column(Text)
    user_token: Mapped[str | None] = mapped_column(Text)
    user_refresh_token: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The rest of the installation (names, scopes, bot ids, expiry, webhook), no secret among it."""
    installed_at: Mapped[datetime]


class OAuthStateRow(Base):
    """An OAuth ``state`` handed to a browser at ``/slack/install``: good once, until ``expires_at``."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class OrgTeamRow(Base):
    """A workspace met in a request under an org-wide install: which org's install serves it
    where only its team id is known (a postmortem's reminders)."""

    __tablename__ = "org_teams"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(String(32))
