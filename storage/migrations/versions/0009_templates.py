"""templates as data: every template version used, each postmortem's template, action fields beyond the roles

Postmortems started before this migration were started with the built-in template, which
is from now on the file ``bot/domain/templates/agent-systems.yml``: they are bound to that file's
version as this release ships it, and its text is stored like any other version's.
A corrective action's ``artifact`` column becomes a field of ``extra``, where every action
field of a template goes that is not one of the columns the reminders need.

Revision ID: 0009_templates
Revises: 0008
Create Date: 2026-12-01
"""

import hashlib
from importlib.resources import files

from alembic import op
import sqlalchemy as sa


revision = "0009_templates"
down_revision = "0008"
branch_labels = None
depends_on = None

BUILTIN = "agent-systems"
VERSION_CHARS = 12


def _builtin() -> tuple[str, str]:
    text = files("bot.domain").joinpath(f"templates/{BUILTIN}.yml").read_text(encoding="utf-8")
    return text, hashlib.sha256(text.encode()).hexdigest()[:VERSION_CHARS]


def _bind_existing_postmortems(templates: sa.Table) -> None:
    postmortems = sa.table(
        "postmortems", sa.column("template_name", sa.String), sa.column("template_version", sa.String)
    )
    connection = op.get_bind()
    if connection.execute(sa.select(sa.func.count()).select_from(postmortems)).scalar_one() == 0:
        return
    text, version = _builtin()
    op.bulk_insert(templates, [{"name": BUILTIN, "version": version, "text": text}])
    connection.execute(sa.update(postmortems).values(template_name=BUILTIN, template_version=version))


def _move_artifacts(to_extra: bool) -> None:
    actions = sa.table(
        "corrective_actions", sa.column("id", sa.Integer), sa.column("artifact", sa.String), sa.column("extra", sa.JSON)
    )
    connection = op.get_bind()
    if to_extra:
        rows = connection.execute(sa.select(actions.c.id, actions.c.artifact)).all()
        for row in rows:
            extra = {"artifact": row.artifact} if row.artifact else {}
            connection.execute(sa.update(actions).where(actions.c.id == row.id).values(extra=extra))
    else:
        rows = connection.execute(sa.select(actions.c.id, actions.c.extra)).all()
        for row in rows:
            artifact = (row.extra or {}).get("artifact") or ""
            connection.execute(sa.update(actions).where(actions.c.id == row.id).values(artifact=artifact))


def upgrade() -> None:
    templates = op.create_table(
        "templates",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", "version"),
    )
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_name", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("template_version", sa.String(length=16), nullable=True))
    _bind_existing_postmortems(templates)
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.alter_column("template_name", existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column("template_version", existing_type=sa.String(length=16), nullable=False)
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extra", sa.JSON(), nullable=True))
    _move_artifacts(to_extra=True)
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.alter_column("extra", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("artifact")


def downgrade() -> None:
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("artifact", sa.String(length=150), nullable=False, server_default=""))
    _move_artifacts(to_extra=False)
    with op.batch_alter_table("corrective_actions", schema=None) as batch_op:
        batch_op.drop_column("extra")
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.drop_column("template_version")
        batch_op.drop_column("template_name")
    op.drop_table("templates")
