"""`/postmortem` and its subcommands."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import template as t
from bot.domain.catalog import Catalog
from bot.domain.document import INCIDENT_ID_RULE, incident_id_problem
from handlers.builders import exports, render
from handlers.builders.insights import CHART_TITLE, insights_text
from handlers.builders.modals import SectionMeta, notice_view, section_view
from handlers.support.canvas import refresh_canvas, update_canvas
from handlers.support.context import services
from handlers.support.errors import UNKNOWN_OUTCOME, guarded
from handlers.support.insights import app_redirect, chart, share, upload, workspace_figures
from handlers.support.refresh import CardNotPosted, refresh_card, render_card
from storage.records import IncidentIdTaken

log = logging.getLogger(__name__)

HELP = """*postmortem-bot* runs the postmortem of an incident right here, one section at a time.
\u2022 `/postmortem start [incident_id] [template]` \u2014 start (or reopen) this channel's postmortem; \
`template` is a template's name or a severity, which picks the template meant for it
\u2022 `/postmortem status` \u2014 progress and the checklist, only for you
\u2022 `/postmortem export [yaml|markdown|eval]` \u2014 the postmortem as its template's YAML or a Markdown \
document, or its eval cases as JSON lines
\u2022 `/postmortem help` \u2014 this text"""

NOT_IN_DM = (
    "Run `/postmortem start` in the incident's channel: the postmortem and its card live there, "
    "not in a direct message."
)
NOT_OPENED = (
    ":warning: Slack did not open the postmortem form this time. The postmortem of this channel is saved: "
    "press *Continue* on its card in the channel, or run `/postmortem start` again."
)
MAYBE_OPENED = (
    ":warning: Slack did not confirm that the postmortem form opened. If you see it, fill it in: it saves. "
    "If not, press *Continue* on the postmortem card in the channel, or run `/postmortem start` again; "
    "the postmortem of this channel is saved either way."
)


def templates_text(catalog: Catalog) -> str:
    """The templates on offer, for `/postmortem help` and for a template word that names none of them."""
    lines = ["*Templates*"]
    for name in catalog.names:
        template = catalog.get(name)
        notes = ["default"] if name == catalog.default else []
        if template.use_for_severity:
            notes.append("for " + ", ".join(template.use_for_severity))
        note = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"\u2022 `{name}`{note} \u2014 {render.escape(template.title)}")
    return "\n".join(lines)


def help_text(catalog: Catalog) -> str:
    """The commands, and the templates on offer."""
    return f"{HELP}\n\n{templates_text(catalog)}"


def _start_words(args: list[str]) -> tuple[str | None, str | None]:
    """``[incident_id] [template]``: two words are an incident id and a template; more are one (bad) incident id."""
    if len(args) == 2:
        return args[0], args[1]
    return " ".join(args) or None, None


def _draft(template: t.Template, incident_id: str | None, word: str | None) -> dict[str, Any]:
    """What the first form starts with: the incident id, and the severity when the template word was one."""
    draft: dict[str, Any] = {}
    first = template.sections[0].key
    incident = template.role(t.Role.INCIDENT_ID)
    if incident_id and incident and incident.section == first:
        draft[incident.field] = incident_id
    severity = template.role_field(t.Role.SEVERITY)
    severity_ref = template.role(t.Role.SEVERITY)
    if word and severity and severity_ref and severity_ref.section == first and word in severity.options:
        draft[severity_ref.field] = word
    return draft


def _in_dm(command: dict[str, Any]) -> bool:
    channel = command.get("channel_id") or ""
    return not channel or channel.startswith("D") or command.get("channel_name") in ("directmessage", "mpdm")


async def _open_form(client: AsyncWebClient, trigger_id: str, view: dict[str, Any]) -> tuple[Any, str | None]:
    """The opened modal, or None and what to tell the person when Slack did not say it opened."""
    try:
        return await client.views_open(trigger_id=trigger_id, view=view), None
    except SlackApiError as exc:
        log.warning("views.open failed for /postmortem start: %s", exc.response.get("error"))
        return None, NOT_OPENED
    except UNKNOWN_OUTCOME as exc:
        log.warning("views.open for /postmortem start: outcome unknown (%r)", exc)
        return None, MAYBE_OPENED


async def _replace_form(client: AsyncWebClient, opened: Any, view: dict[str, Any]) -> None:
    """Show ``view`` in the form ``/postmortem start`` just opened. A form the person already closed
    or moved on from (its ``hash`` changed) is left as it is: it still saves by its channel, and
    a refusal is also said in the channel."""
    try:
        await client.views_update(view_id=opened["view"]["id"], hash=opened["view"]["hash"], view=view)
    except (SlackApiError, *UNKNOWN_OUTCOME) as exc:
        log.warning("views.update of the /postmortem start form failed: %r", exc)


async def _start(
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
    respond: AsyncRespond,
    args: list[str],
) -> None:
    if _in_dm(command):
        await ack(text=NOT_IN_DM)
        return
    incident_id, word = _start_words(args)
    problem = incident_id_problem(incident_id) if incident_id else None
    if problem:
        await ack(text=f":warning: That is not an incident id I can use. {problem}\n{INCIDENT_ID_RULE}")
        return
    svc = services(context)
    template = svc.catalog.choose(word)
    if template is None:
        unknown = render.escape(word or "")[:40]
        await ack(text=f":warning: `{unknown}` is neither a template nor a severity.\n{templates_text(svc.catalog)}")
        return
    await ack()
    team, channel, user = command["team_id"], command["channel_id"], command["user_id"]
    first = template.sections[0]
    meta = SectionMeta(
        team=team, channel=channel, section=first.key, template=template.name, template_version=template.version
    ).keyed(svc.metadata_key)
    draft = _draft(template, incident_id, word)
    view = section_view(template, first, None, meta, draft)
    with svc.foreground.owing():
        opened, trouble = await _open_form(client, command["trigger_id"], view)
    await svc.foreground.turn()
    try:
        started = await svc.store.start(team, channel, user, incident_id, template)
    except IncidentIdTaken as exc:
        text = (
            f":warning: {render.escape(exc.incident_id)} already has a postmortem in <#{exc.channel_id}>. "
            "Use another incident id, or run `/postmortem start` in that channel."
        )
        if opened:
            await _replace_form(client, opened, notice_view("Incident id in use", text))
        await respond(text=text, response_type="ephemeral")
        return
    record = started.record
    if started.card is not None:  # created: nothing is stored yet, the open form already shows it all
        await _show_card(render_card(client, svc.store, started.card, record), respond, trouble)
        if svc.canvas:
            await update_canvas(record.id, refresh_canvas(client, svc.store, record.id))
        return
    if opened:
        first = record.template.sections[0]
        meta = meta.model_copy(
            update={"postmortem": record.id, "section": first.key, "version": record.version(first.key)}
        )
        fresh = record.template is template and draft and first.key not in record.sections
        await _replace_form(
            client, opened, section_view(record.template, first, record, meta, draft if fresh else None)
        )
    if incident_id and record.incident_id and incident_id != record.incident_id:
        trouble = "\n".join(filter(None, [trouble, _other_incident(record.incident_id)]))
    await _show_card(refresh_card(client, svc.store, record.id), respond, trouble)


def _other_incident(incident_id: str) -> str:
    return f"This channel already has the postmortem of *{render.escape(incident_id)}*; I opened that one."


async def _show_card(rendering: Awaitable[None], respond: AsyncRespond, notice: str | None) -> None:
    """Tell the person what they should know, and bring the card up: the card even if telling failed."""
    try:
        if notice:
            await respond(text=notice, response_type="ephemeral")
    finally:
        try:
            await rendering
        except CardNotPosted as exc:
            await respond(text=f":warning: {exc}", response_type="ephemeral")


async def _status(command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond) -> None:
    record = await services(context).store.by_channel(command["team_id"], command["channel_id"])
    if record is None:
        await respond(text="No postmortem in this channel yet. Start one with `/postmortem start`.")
        return
    title = render.escape(render.headline(record))
    text = f"*{title}*\n{render.progress_text(record)}\n\n{render.checklist_text(record.doc)}"
    await respond(text=render.truncate(text, 3000), response_type="ephemeral")


async def _export(command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond, args: list[str]) -> None:
    record = await services(context).store.by_channel(command["team_id"], command["channel_id"])
    if record is None:
        await respond(text="No postmortem in this channel yet. Start one with `/postmortem start`.")
        return
    fmt = args[0].lower() if args else "yaml"
    if fmt not in exports.FORMATS:
        await respond(text=f"Unknown export format `{render.escape(fmt[:40])}`: use `yaml`, `markdown` or `eval`.")
        return
    zone = await services(context).store.zone_of(record.owner)
    await respond(**await exports.export_message(record, fmt, zone))


async def _insights(
    command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """The figures, ephemeral; the chart goes to the person's DM with the app and the answer links to it.

    An ephemeral message cannot carry a file, and an image block pointing at a file needs the
    file shared where the viewer can see it (and processed by Slack first): the DM is as
    private as the ephemeral answer and keeps the picture after the answer is gone.
    """
    svc = services(context)
    team, user = command["team_id"], command["user_id"]
    figures = await workspace_figures(client, svc.store, svc.groups, team)
    text = insights_text(figures)
    try:
        png = await chart(figures)
        dm = (await client.conversations_open(users=user))["channel"]["id"]
        file_id = await upload(client, png, "postmortem-insights.png", CHART_TITLE)
        await share(client, file_id, CHART_TITLE, dm, "The 12-week trend you asked for with `/postmortem insights`.")
        text += f"\nThe 12-week chart is in <{app_redirect(team, dm)}|our direct messages>."
    except (SlackApiError, *UNKNOWN_OUTCOME) as exc:
        log.warning("insights chart not delivered to %s: %r", user, exc)
        text += "\n_I couldn't send the chart this time; the figures above are complete._"
    await respond(text=text, response_type="ephemeral")


async def handle_postmortem(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    words = (command.get("text") or "").split()
    sub, args = (words[0].lower(), words[1:]) if words else ("help", [])
    if sub == "start":
        await _start(ack, command, client, context, respond, args)
    elif sub == "status":
        await ack()
        await _status(command, context, respond)
    elif sub == "export":
        await ack()
        await _export(command, context, respond, args)
    elif sub == "insights":
        await ack()
        await _insights(command, client, context, respond)
    elif sub == "help":
        await ack(text=help_text(services(context).catalog))
    else:
        await ack(text=f"I don't know `{render.escape(sub[:40])}`.\n\n{help_text(services(context).catalog)}")


def register(app: AsyncApp) -> None:
    app.command("/postmortem")(guarded(handle_postmortem))
