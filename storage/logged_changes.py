"""A start and a save on PostgreSQL: the change, the postmortem's edit and the audit entry in one
statement, chained by data-modifying ``WITH`` clauses.

One statement commits by itself: a save is one round trip instead of five (BEGIN, the section,
the postmortem, the audit entry, COMMIT), and a start one instead of four, with the same
all-or-nothing outcome. SQLite has no data-modifying ``WITH``; there the same statements run
one by one in a transaction (``storage.postmortems``).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    Select,
    bindparam,
    func,
    insert,
    literal,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql

from storage.base import new_param, touch_statement
from storage.models import AuditRow, PostmortemRow, SectionAnswerRow

_audit = AuditRow.__table__
_postmortems = PostmortemRow.__table__.c
_sections = SectionAnswerRow.__table__.c
_WRITTEN = ("data", "updated_by", "updated_at")

UPDATE_SECTION = (
    update(SectionAnswerRow.__table__)
    .where(
        _sections.postmortem_id == bindparam("pid"),
        _sections.section_key == bindparam("key"),
        _sections.version == bindparam("base"),
    )
    .values({name: new_param(name, _sections[name]) for name in ("version", *_WRITTEN)})
)
"""A section's next version, written only over ``base``: nothing when someone saved meanwhile."""


def _logged(
    source: FromClause,
    event: str,
    postmortem_id: ColumnElement[Any],
    actor: ColumnElement[Any],
    at: ColumnElement[Any],
    section_key: ColumnElement[Any] | None = None,
    detail: ColumnElement[Any] | None = None,
) -> CTE:
    """The audit entry of the change ``source`` returns, written only if it returned a row."""
    entry = select(
        postmortem_id,
        actor,
        literal(event),
        section_key if section_key is not None else null(),
        detail if detail is not None else literal({}, _audit.c.detail.type),
        at,
    ).select_from(source)
    columns = ["postmortem_id", "actor", "event", "section_key", "detail", "at"]
    return insert(_audit).from_select(columns, entry).cte(f"logged_{event}")


@functools.cache
def start_statement(columns: tuple[str, ...]) -> Select[Any]:
    """A postmortem of the ``columns`` given, unless the channel has one or the team's incident id
    is taken (then no row), and its "started" entry: returns the new id."""
    created = (
        postgresql.insert(PostmortemRow.__table__)
        .values({name: bindparam(name, type_=_postmortems[name].type) for name in columns})
        .on_conflict_do_nothing()
        .returning(_postmortems.id, _postmortems.created_by, _postmortems.created_at)
        .cte("created")
    )
    logged = _logged(created, "started", created.c.id, created.c.created_by, created.c.created_at)
    return select(created.c.id).add_cte(logged)


@functools.cache
def save_statement(changed: tuple[str, ...], *, first: bool, take_card: bool) -> Select[Any]:
    """A section's answers (version 1 when ``first``, else over ``base``), and only if they were
    written: the postmortem's edit (``storage.base.touch_statement``) and the "section_saved"
    entry. Returns the version written and what the edit returns; no row when someone saved
    the section meanwhile."""
    written_values = {name: new_param(name, _sections[name]) for name in _WRITTEN}
    if first:
        write = (
            postgresql.insert(SectionAnswerRow.__table__)
            .values(postmortem_id=bindparam("pid"), section_key=bindparam("key"), version=1, **written_values)
            .on_conflict_do_nothing()
        )
    else:
        write = UPDATE_SECTION
    written = write.returning(_sections.version).cte("written")
    touched = touch_statement(changed, take_card=take_card).where(select(written.c.version).exists()).cte("touched")
    logged = _logged(
        written,
        "section_saved",
        bindparam("pid"),
        bindparam("new_updated_by"),
        bindparam("new_updated_at", type_=_audit.c.at.type),
        bindparam("key"),
        func.json_build_object("version", written.c.version),
    )
    return select(written.c.version, *touched.c).select_from(written.outerjoin(touched, true())).add_cte(logged)
