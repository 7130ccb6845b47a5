"""What the store hands out about a postmortem: the record with its sections, and the
outcomes and refusals of starting one and saving a section."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from bot.domain.document import CorrectiveAction, Postmortem
from bot.domain.evals import EvalCase
from bot.domain.links import NO_LINKS, LinkTemplates
from bot.domain.template import Role, Template
from storage.card_lease import Lease
from storage.models import ActionRow


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
    canvas_id: str | None = None
    canvas_standalone: bool = False
    """The canvas is a standalone one, Slack having refused a channel canvas: the card links to it."""
    links: LinkTemplates = NO_LINKS
    """The operator's trace link templates, for whatever shows this postmortem."""

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


def action_model(row: ActionRow | Row[Any]) -> CorrectiveAction:
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
        source=row.source,
    )


def case_model(row: Row[Any]) -> EvalCase:
    """From a row of the store's items query, where a case's ``data`` is in ``extra``."""
    return EvalCase.model_validate({**row.extra, "id": row.id, "action_ids": row.action_ids})


def action_columns(action: CorrectiveAction) -> dict[str, Any]:
    return action.model_dump(mode="json", exclude={"id", "due"}) | {"due": action.due}
