"""The modals: one per template section, the conflict view, section 8's list and action form.

A modal carries its context in ``private_metadata`` (which postmortem, which section, the
version it was opened on), so any replica can handle its submission.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import Field

from bot.domain import template as t
from bot.domain.document import CorrectiveAction, action_answers, action_defaults
from bot.domain.evals import ACTIONS_KEY, CASE_FIELDS, EvalCase, case_defaults
from handlers.builders import blocks as kit
from handlers.builders import render
from handlers.builders.fields import input_blocks
from handlers.builders.timeline import MENU_CHOICES, timeline_blocks
from handlers.support.metadata import Sealed
from storage.records import PostmortemRecord, SectionSnapshot

SECTION_CALLBACK = "section"
ACTION_FORM_CALLBACK = "action_form"
CASE_FORM_CALLBACK = "eval_case_form"
ADD_CASE = "eval_case_add"
CASE_MENU = "eval_case_menu"
CASES_SHOWN = 20
ACTIONS_OFFERED = 100  # a multi_static_select holds at most 100 options
USE_THEIRS = "conflict_use_theirs"
ADD_ACTION = "action_add"
EDIT_ACTION = "action_edit"
M = TypeVar("M", bound=Sealed)
PREVIOUS_PAGE = "action_page_previous"
NEXT_PAGE = "action_page_next"
ACTIONS_PER_PAGE = 20


class SectionMeta(Sealed):
    """What a section modal needs to be saved by any replica."""

    team: str
    channel: str
    section: str
    postmortem: int | None = None
    version: int | None = None
    revision: int = 0
    page: int | None = Field(default=None, ge=0)
    """Section 8's page of corrective actions, turned by Previous and Next."""
    template: str | None = None
    template_version: str | None = None
    """Before the postmortem exists (``/postmortem start``): the template version it is to be started with."""


class ActionFormMeta(Sealed):
    """The form's postmortem and action; ``parent_view`` is section 8's list it was pushed from (none when
    *Create corrective action* opened it), ``source`` the permalink of the message it was created from."""

    postmortem: int
    action: int | None = None
    parent_view: str | None = None
    source: str | None = None


class CaseFormMeta(Sealed):
    """The case form's postmortem and case; ``parent`` is the section modal it was pushed from,
    refreshed after a save with the version that modal was opened on (a colleague's save still conflicts)."""

    postmortem: int
    case: int | None = None
    parent_view: str
    parent: SectionMeta


def _context(text: str) -> kit.JSON:
    return kit.context(text[:3000])


def _links(record: PostmortemRecord | None) -> str:
    links = render.links_text(record) if record else ""
    return f"\n{links}" if links else ""


def _last_saved(snapshot: SectionSnapshot | None) -> str:
    if not snapshot or not snapshot.updated_by:
        return ""
    return f"\nLast saved by <@{snapshot.updated_by}> {render.when(snapshot.updated_at)}"


def _modal(section: t.Section, meta: SectionMeta, blocks: list[kit.JSON], submit: str | None) -> kit.JSON:
    return kit.modal(
        section.modal_title,
        blocks,
        callback_id=SECTION_CALLBACK,
        submit=submit,
        close="Close",
        private_metadata=meta.dump(),
    )


def _submit_label(template: t.Template, section: t.Section) -> str:
    return "Save & finish" if template.section_after(section) is None else "Save & next"


def _stored_answers(template: t.Template, section: t.Section, record: PostmortemRecord | None) -> dict[str, Any]:
    """What is stored, and the incident id the postmortem was started with while its field is still empty."""
    snapshot = record.sections.get(section.key) if record else None
    answers = dict(snapshot.data) if snapshot else {}
    incident_id = template.role(t.Role.INCIDENT_ID)
    if record and record.incident_id and incident_id and incident_id.section == section.key:
        answers.setdefault(incident_id.field, record.incident_id)
    return answers


def section_view(
    template: t.Template,
    section: t.Section,
    record: PostmortemRecord | None,
    meta: SectionMeta,
    answers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A section's modal, prefilled with ``answers`` or, by default, what is stored."""
    if section.is_action_list:
        return actions_view(template, record, meta)
    snapshot = record.sections.get(section.key) if record else None
    if answers is None:
        answers = _stored_answers(template, section, record)
    heading = f"*{section.number}. {section.title}*  {section.guidance}{_last_saved(snapshot)}{_links(record)}"
    blocks = [_context(heading)]
    if record is not None and section.role == t.SectionRole.TIMELINE:
        blocks += timeline_blocks(record.doc.timeline)
    blocks += input_blocks(section.fields, answers, meta.revision)
    if (cases := template.role(t.Role.EVAL_CASES)) and cases.section == section.key:
        blocks += _case_list(record.doc.evals if record else [], record is not None)
    return _modal(section, meta, blocks, _submit_label(template, section))


def _case_line(case: EvalCase) -> str:
    facts = [f"{len(case.user_inputs)} input(s)", f"{len(case.expected_outcomes)} expected outcome(s)"]
    if case.risk_class:
        facts.append(f"risk {render.escape(case.risk_class)}")
    if case.action_ids:
        facts.append("regression eval of " + ", ".join(f"#{a}" for a in case.action_ids))
    return render.truncate(f"*{render.escape(case.scenario_id)}*\n" + " \u00b7 ".join(facts), 3000)


def _case_list(cases: list[EvalCase], stored: bool) -> list[kit.JSON]:
    """The eval cases under the section's inputs, the newest last, each with a menu to edit or remove it;
    a button pushes the case form."""
    blocks = [kit.divider(), kit.section(f"*Eval cases* ({len(cases)})")]
    for case in cases[-CASES_SHOWN:]:
        menu = kit.overflow(CASE_MENU, [kit.option(f"{c}:{case.id}", label) for c, label in MENU_CHOICES])
        blocks.append(kit.section(_case_line(case), block_id=f"eval-case-{case.id}", accessory=menu))
    if len(cases) > CASES_SHOWN:
        blocks.append(_context(f"The last {CASES_SHOWN} of {len(cases)}; `/postmortem export eval` lists them all."))
    if stored:
        blocks.append(kit.actions(kit.button("Add eval case", ADD_CASE, style="primary")))
    else:
        blocks.append(_context("Save this section once to add structured eval cases."))
    return blocks


def _action_choices(actions: list[CorrectiveAction], linked: list[int]) -> kit.JSON:
    options = [kit.option(str(a.id), render.truncate(f"#{a.id} {a.action}", 75)) for a in actions[:ACTIONS_OFFERED]]
    chosen = [o for o in options if int(o["value"]) in linked]
    return kit.input_block(
        "Corrective actions this case is the regression eval of",
        kit.multi_static_select(ACTIONS_KEY, options, initial=chosen),
        block_id=ACTIONS_KEY,
        optional=True,
        hint="Link the actions of kind add_regression_eval that this case checks.",
    )


def case_form(meta: CaseFormMeta, case: EvalCase | None, record: PostmortemRecord) -> dict[str, Any]:
    """The eval case form; a new case starts with the incident's trace id as its source."""
    answers = case.fields() if case else case_defaults(record.doc.role(t.Role.TRACE_ID))
    blocks = input_blocks(CASE_FIELDS, answers)
    if record.doc.actions:
        blocks.append(_action_choices(record.doc.actions, case.action_ids if case else []))
    return kit.modal(
        "Eval case" if case is None else "Edit eval case",
        blocks,
        callback_id=CASE_FORM_CALLBACK,
        submit="Save",
        close="Back",
        private_metadata=meta.dump(),
    )


def conflict_view(
    template: t.Template, section: t.Section, meta: SectionMeta, mine: dict[str, Any], theirs: SectionSnapshot
) -> dict[str, Any]:
    """Shown instead of silently overwriting a colleague: both versions, the user decides."""
    who = f"<@{theirs.updated_by}>" if theirs.updated_by else "Someone"
    blocks = [
        kit.section(
            f":warning: {who} saved this section {render.when(theirs.updated_at)}, after you opened it. "
            "Their answers are below; yours are still in the form. *Save mine* replaces theirs with yours, "
            "*Use theirs* loads their answers into the form."
        ),
        kit.section(render.truncate("*Their answers*\n" + render.answers_text(section, theirs.data), 3000)),
        kit.actions(kit.button("Use theirs", USE_THEIRS, value=section.key)),
        kit.divider(),
        *input_blocks(section.fields, mine, meta.revision),
    ]
    return _modal(section, meta, blocks, "Save mine")


def _action_line(action: CorrectiveAction, template: t.Template) -> str:
    return f"*{render.action_title(action)}*\n{render.action_facts(action, template)}"


def _page_controls(page: int, pages: int) -> list[kit.JSON]:
    buttons = []
    if page > 0:
        buttons.append(kit.button("\u25c0 Previous", PREVIOUS_PAGE))
    if page < pages - 1:
        buttons.append(kit.button("Next \u25b6", NEXT_PAGE))
    return buttons


def _page(actions: list[CorrectiveAction], requested: int, focus: int | None) -> tuple[int, int]:
    """(page, pages): the page showing action ``focus`` if there is one, else ``requested`` or the last."""
    pages = max(1, -(-len(actions) // ACTIONS_PER_PAGE))
    ids = [a.id for a in actions]
    if focus is not None and focus in ids:
        return ids.index(focus) // ACTIONS_PER_PAGE, pages
    return min(requested, pages - 1), pages


def actions_view(
    template: t.Template, record: PostmortemRecord | None, meta: SectionMeta, focus: int | None = None
) -> dict[str, Any]:
    """Section 8: a page of corrective actions, each with Edit, Previous/Next, and a button that
    pushes the action form; ``focus`` (an action id) picks the page that shows it."""
    section = template.actions_section
    actions = record.doc.actions if record else []
    page, pages = _page(actions, meta.page or 0, focus)
    first = page * ACTIONS_PER_PAGE
    blocks = [_context(f"*{section.number}. {section.title}*  {section.guidance}{_links(record)}")]
    for action in actions[first : first + ACTIONS_PER_PAGE]:
        blocks.append(
            kit.section(
                _action_line(action, template),
                block_id=f"action-{action.id}",
                accessory=kit.button("Edit", EDIT_ACTION, value=str(action.id)),
            )
        )
    if not actions:
        blocks.append(kit.section("_No corrective actions yet._"))
    if pages > 1:
        blocks.append(_context(f"Page {page + 1} of {pages} \u00b7 {len(actions)} corrective actions"))
    add = kit.button("Add corrective action", ADD_ACTION, style="primary")
    blocks.append(kit.actions(*_page_controls(page, pages), add))
    return _modal(section, meta.model_copy(update={"page": page}), blocks, _submit_label(template, section))


def action_form(
    meta: ActionFormMeta, action: CorrectiveAction | None, template: t.Template, prefill: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A new action's form (its defaults, then ``prefill``) or an existing one's; an action from a
    message links to it above the inputs."""
    answers = action_answers(template, action) if action else {**action_defaults(template), **(prefill or {})}
    source = action.source if action else meta.source
    return kit.modal(
        "Corrective action" if action is None else "Edit action",
        ([_context(f"Created {render.message_link(source)} in the channel")] if source else [])
        + input_blocks(template.action_fields, answers),
        callback_id=ACTION_FORM_CALLBACK,
        submit="Save",
        close="Back",
        private_metadata=meta.dump(),
    )


def finished_view(record: PostmortemRecord) -> dict[str, Any]:
    """Where "Save & finish" lands: the whole postmortem at a glance."""
    blocks = [
        kit.section(
            f":white_check_mark: *Postmortem {render.escape(record.incident_id or '')} saved.* "
            "The channel card is up to date."
        ),
        kit.section(render.progress_text(record)),
        kit.divider(),
        kit.section(render.checklist_text(record.doc)),
        _context("Reopen any section from the card's Edit buttons; `/postmortem export` gives YAML or Markdown."),
    ]
    return kit.modal("Postmortem saved", blocks, close="Done")


def notice_view(title: str, text: str) -> kit.JSON:
    return kit.modal(title[:24], [kit.section(text)], close="Close")


def parse_meta(raw: str, model: type[M], key: bytes) -> M:
    """The metadata the app sealed into a view; a changed one is ``Refused``."""
    return model.load(raw, key)
