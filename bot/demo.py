"""`postmortem-bot demo`: the worked example through the real app, with no Slack workspace.

The app runs over HTTP on loopback, receives requests signed as Slack signs them, and
calls the local Slack stand-in (the one the tests use). The walkthrough helpers here
are also what the tests use to drive a whole postmortem.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import example
from bot.config import Settings
from bot.domain import template as t
from bot.domain.catalog import builtin
from bot.domain.document import action_defaults
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.modals import ADD_ACTION

DEMO_CHANNEL = "C0INCIDENT"
DEMO_SECRET = "demo-signing-secret"
DEMO_TOKEN = "xoxb-demo"
CARD_METHODS = ("chat.postMessage", "chat.update")
_AFTER_ACK = "run_ack_function_asynchronously"  # Bolt's task for a listener's work after its ack


def section_inputs(fields: Iterable[t.Field], answers: dict[str, Any]) -> dict[str, Any]:
    """Stored-form answers as a person would enter them, keyed by the inputs' action ids."""
    inputs: dict[str, Any] = {}
    for f in fields:
        value = answers.get(f.key)
        if value is None:
            continue
        match f.kind:
            case t.Kind.YES_NO:
                inputs[f.key] = value["answer"]
                inputs[f.key + "__details"] = value.get("details") or ""
            case t.Kind.LINES:
                inputs[f.key] = "\n".join(value)
            case t.Kind.DATETIME:
                inputs[f.key] = int(datetime.fromisoformat(value).timestamp())
            case _:
                inputs[f.key] = value
    return inputs


def metadata(view: dict[str, Any] | None) -> dict[str, Any]:
    """What the app keeps in a modal's ``private_metadata`` (``<seal>.<json>``), as Slack hands it back."""
    sealed = (view or {}).get("private_metadata") or ""
    return json.loads(sealed.partition(".")[2] or "{}")


@dataclass
class Walkthrough:
    """One person filling in the postmortem through Slack's surfaces."""

    driver: SlackDriver
    standin: SlackStandin
    user: str
    channel: str
    titles: list[str] = field(default_factory=list)
    template: t.Template = field(default_factory=builtin)
    """The template of the postmortem walked through; ``start`` picks it by its name."""

    def view(self) -> dict[str, Any]:
        current = self.standin.current_view(self.user)
        assert current is not None, "no modal is open"
        return current

    async def start(self, incident_id: str = "", template: str = "") -> dict[str, Any]:
        """``/postmortem start``; returns the section 1 modal once the start's work is done: the card,
        which comes last, is posted or edited."""
        before = len(self.standin.calls)
        text = " ".join(w for w in ("start", incident_id, template) if w)
        result = await self.driver.command(text, user=self.user, channel=self.channel)
        assert result.status == 200, result.text
        await self.standin.wait_until(lambda: self._card_touched_since(before))
        self.titles.append(self.view()["title"]["text"])
        return self.view()

    def _card_touched_since(self, index: int) -> bool:
        return any(
            call.method in CARD_METHODS and call.params.get("channel") == self.channel
            for call in self.standin.calls[index:]
        )

    async def save(self, answers: dict[str, Any]) -> Any:
        """Fill the open section with stored-form answers and press "Save & next"."""
        section = self.template.section(metadata(self.view())["section"])
        result = await self.driver.submit(self.view(), section_inputs(section.fields, answers), user=self.user)
        if result.view is not None:
            self.titles.append(result.view["title"]["text"])
        return result

    async def add_action(self, action: dict[str, Any]) -> dict[str, Any]:
        """Section 8: push the action form, save it, and wait for the list to show the new row."""
        listed = self.view()
        rows = _action_rows(listed)
        await self.driver.click(listed, ADD_ACTION, user=self.user)
        form = await self.standin.wait_until(lambda: _top_if_other(self.standin, self.user, listed["id"]))
        answers = {k: v for k, v in action.items() if v is not None}
        result = await self.driver.submit(
            form,
            section_inputs(self.template.action_fields, {**action_defaults(self.template), **answers}),
            user=self.user,
        )
        assert not result.errors, result.errors
        return await self.standin.wait_until(
            lambda: (v := self.standin.view(listed["id"])) and _action_rows(v) > rows and v
        )

    async def whole_example(self) -> None:
        await self.whole(example.INCIDENT_ID, example.ANSWERS, example.ACTIONS)

    async def whole(
        self,
        incident_id: str,
        answers: dict[str, dict[str, Any]],
        actions: list[dict[str, Any]],
        template: str = "",
    ) -> None:
        """Every section of ``self.template`` in order, from ``/postmortem start`` to "Save & finish"."""
        await self.start(incident_id, template)
        for section in self.template.sections:
            if section.is_action_list:
                for action in actions:
                    await self.add_action(action)
                await self.save({})
            else:
                result = await self.save(answers.get(section.key, {}))
                assert not result.errors, (section.key, result.errors)


def _action_rows(view: dict[str, Any]) -> int:
    return sum(1 for b in view["blocks"] if b.get("block_id", "").startswith("action-"))


def _top_if_other(standin: SlackStandin, user: str, view_id: str) -> dict[str, Any] | None:
    top = standin.current_view(user)
    return top if top and top["id"] != view_id else None


def blocks_as_text(blocks: Iterable[dict[str, Any]]) -> str:
    """Roughly what a person reads in Slack's client."""
    lines: list[str] = []
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        if block["type"] == "header":
            lines.append(f"== {text} ==")
        elif block["type"] == "section":
            button = (block.get("accessory") or {}).get("text", {}).get("text")
            lines.append(text + (f"   [{button}]" if button else ""))
        elif block["type"] == "context":
            lines.append("  " + " ".join(e.get("text", "") for e in block["elements"]))
        elif block["type"] == "actions":
            lines.append(
                "   ".join(
                    f"[{e.get('text', {}).get('text') or e.get('placeholder', {}).get('text')}]"
                    for e in block["elements"]
                )
            )
        elif block["type"] == "divider":
            lines.append("-" * 60)
    return _plain(html.unescape("\n".join(lines)))


def _plain(text: str) -> str:
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<#(\w+)>", r"#\1", text)
    return re.sub(r"<@(\w+)>", r"@\1", text)


def _export_text(response: dict[str, Any]) -> str:
    chunks = [b["text"]["text"] for b in response["blocks"][1:] if b["type"] == "section"]
    return html.unescape("".join(c.removeprefix("```").removesuffix("```") for c in chunks))


async def listeners_finished(timeout: float = 10.0) -> None:
    """Wait (at most ``timeout`` seconds each round) for the work Bolt runs after each ack, the
    card's refresh among it.

    A save is answered before the card is edited, so without this the card printed could
    be the one from a save or two earlier.
    """
    while running := [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__name__", "") == _AFTER_ACK]:
        _, pending = await asyncio.wait(running, timeout=timeout)
        if pending:
            return


async def run_demo() -> int:
    from bot.app import create_app, create_web_app
    from storage.db import create_engine, upgrade
    from storage.store import Store

    logging.getLogger().setLevel(logging.WARNING)  # the access log would drown what users see
    with tempfile.TemporaryDirectory() as workdir:
        async with SlackStandin(bot_token=DEMO_TOKEN) as standin:
            settings = Settings(
                slack_bot_token=DEMO_TOKEN,
                slack_signing_secret=DEMO_SECRET,
                slack_api_url=standin.api_url,
                database_url=f"sqlite:///{Path(workdir) / 'demo.db'}",
                _env_file=None,  # type: ignore[call-arg]
            )
            engine = create_engine(settings.database_url)
            await upgrade(engine)
            store = Store(engine)
            runner = web.AppRunner(create_web_app(create_app(settings, store), store))
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            async with SlackDriver(f"http://127.0.0.1:{port}/slack/events", DEMO_SECRET, standin) as driver:
                walk = Walkthrough(driver, standin, example.OWNER, DEMO_CHANNEL)
                await walk.whole_example()
                exported = await driver.command("export yaml", user=example.OWNER, channel=DEMO_CHANNEL)
                replies = await standin.wait_until(lambda: standin.responses(exported.response_url or ""))
                yaml_text = _export_text(replies[0])
                await listeners_finished()
            await runner.cleanup()
            await engine.dispose()
            card = standin.messages(DEMO_CHANNEL)[0]
    print("The modals, in the order they were shown:")
    print("\n".join(f"  {title}" for title in walk.titles))
    print(f"\nThe card in #{DEMO_CHANNEL}, edited in place {len(standin.calls_to('chat.update'))} times:\n")
    print(blocks_as_text(card["blocks"]))
    print("\n/postmortem export yaml:\n")
    print(yaml_text)
    return 0
