"""A team's own templates: files checked with their lines, chosen at start, and versions that stay put."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from bot import example
from bot.app import EVENTS_PATH, create_app, create_web_app
from bot.config import Settings
from bot.demo import Walkthrough, section_inputs
from bot.domain.catalog import CatalogProblems, builtin, load_catalog
from bot.domain.export.markdown import to_markdown
from bot.domain.export.yaml_in import from_yaml
from bot.domain.export.yaml_out import to_yaml
from bot.slackdev import SlackDriver, SlackStandin
from handlers.builders.card import CARD_EDIT
from storage.store import Store
from tests.conftest import SIGNING_SECRET
from tests.test_cli import cli

CHANNEL, LATER_CHANNEL = "C0INCIDENT", "C0LATER01"
ALICE = example.OWNER
SHIPPED = Path(__file__).parent.parent / "bot" / "domain" / "templates" / "agent-systems.yml"
ROLLOUT_WAVE = "      - {key: rollout_wave,"
REGION = "      - {key: region, label: Region, kind: short_text, required: true}\n"


def with_line_after(text: str, anchor: str, line: str) -> str:
    """``text`` with ``line`` inserted after the line starting with ``anchor``: a one-line template edit."""
    lines = text.splitlines(keepends=True)
    at = next(i for i, current in enumerate(lines) if current.startswith(anchor))
    return "".join([*lines[: at + 1], line, *lines[at + 1 :]])


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


# --- template check ------------------------------------------------------------------------------


def test_template_check_prints_every_problem_with_its_line(tmp_path: Path) -> None:
    text = SHIPPED.read_text()
    text = text.replace("kind: datetime, required: true}", "kind: date_time, required: true}")
    text = text.replace("{decided: lifecycle.taxonomy_change}", "{decided: lifecycle.taxonomy}")
    text = text.replace("- {field: summary.severity, empty: no severity}", "- {field: summary.sev, empty: none}")
    broken = tmp_path / "broken.yml"
    broken.write_text(text)

    result = cli("template", "check", str(broken))

    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{broken}:{line_of(text, 'date_time')}: section 1 (summary) field 2 (occurred_at).kind 'date_time' is not one"
        " of: short_text, long_text, date, datetime, user, users, choice, multi_choice, yes_no, lines, number, url",
        f"{broken}:{line_of(text, 'summary.sev,')}: header: section 'summary' has no field 'sev'",
        f"{broken}:{line_of(text, 'lifecycle.taxonomy}')}: checklist item 6: "
        "section 'lifecycle' has no field 'taxonomy'",
    ]


@pytest.mark.parametrize("name", ["agent-systems", "sre-review"])
def test_template_check_passes_the_shipped_templates(name: str) -> None:
    result = cli("template", "check", str(SHIPPED.with_name(f"{name}.yml")))
    assert result.returncode == 0 and result.stdout.startswith(f"ok: {name} version ") and result.stderr == ""


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (("vocabularies:", "vocabularies: &lists"), "anchors and aliases (&name, *name) are not accepted"),
        (('title: "Short summary"', 'title: "Short\\x00summary"'), "character U+0000 is not allowed"),
        (("role: owner,", "role: captain,"), "role 'captain' is not one of: incident_id, owner, severity"),
        (
            ("{known: summary.incident_id}", "{known: summary.incident_id, missing: x, answered: summary.owner}"),
            "say exactly one of",
        ),
    ],
    ids=["alias", "control-character", "unknown-role", "two-rules"],
)
def test_a_template_with_an_error_is_refused_with_its_line(edit: tuple[str, str], reason: str, tmp_path: Path) -> None:
    old, new = edit
    text = SHIPPED.read_text().replace(old, new, 1)
    path = tmp_path / "t.yml"
    path.write_text(text)
    result = cli("template", "check", str(path))
    assert result.returncode == 1
    prefix = f"{path}:{line_of(text, new)}: "
    assert any(line.startswith(prefix) and reason in line for line in result.stderr.splitlines()), result.stderr


def test_run_refuses_a_broken_template_folder_one_line_per_problem(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    text = SHIPPED.read_text().replace("name: agent-systems", "name: ours").replace("role: owner,", "role: boss,", 1)
    (folder / "ours.yml").write_text(text)
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "POSTMORTEM_TEMPLATES": str(folder)}

    result = cli("run", env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{folder / 'ours.yml'}:{line_of(text, 'sections:')}: one field must have `role: owner`",
        f"{folder / 'ours.yml'}:{line_of(text, 'role: boss')}: summary.owner: role 'boss' is not one of: "
        "incident_id, owner, severity, trace_id, session_id, change_id, eval_cases",
    ]
    assert "Traceback" not in result.stderr and not (tmp_path / "x.db").exists()


def test_an_unknown_default_template_is_refused_naming_the_variable(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "POSTMORTEM_DEFAULT_TEMPLATE": "nope"}
    result = cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "POSTMORTEM_DEFAULT_TEMPLATE: no template named 'nope' (have: agent-systems, sre-review)\n"
    )


def test_a_folder_template_takes_a_severity_from_a_shipped_one_but_not_from_another_in_the_folder(
    tmp_path: Path,
) -> None:
    text = SHIPPED.with_name("sre-review.yml").read_text().replace("name: sre-review", "name: retro")
    (tmp_path / "retro.yml").write_text(text.replace("use_for_severity: [sev3, sev4]", "use_for_severity: [sev4]"))
    catalog = load_catalog(tmp_path)
    assert catalog.choose("sev4") is catalog.get("retro") and catalog.choose("sev3") is catalog.get("sre-review")

    (tmp_path / "retro-two.yml").write_text(text.replace("name: retro", "name: retro-two"))
    with pytest.raises(CatalogProblems) as refused:
        load_catalog(tmp_path)
    assert refused.value.lines == [
        f"{tmp_path / 'retro.yml'}: use_for_severity sev4 is also claimed by template retro-two",
    ]


# --- choosing a template -------------------------------------------------------------------------


async def test_start_names_a_template_or_a_severity_and_help_lists_them(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    help_text = (await slack.command("help", user=ALICE, channel=CHANNEL)).text
    assert "`agent-systems` (default)" in help_text and "`sre-review` (for sev3, sev4)" in help_text

    unknown = await slack.command("start inc-1 retro", user=ALICE, channel=CHANNEL)
    assert "`retro` is neither a template nor a severity" in unknown.text
    assert "`agent-systems`" in unknown.text and "`sre-review`" in unknown.text
    assert standin.calls_to("views.open") == [] and await store.by_channel(standin.team_id, CHANNEL) is None

    view = await Walkthrough(slack, standin, ALICE, CHANNEL).start("inc-2", "sev4")
    assert view["title"]["text"] == "1/6 Summary"
    severity = next(b for b in view["blocks"] if b.get("block_id", "").startswith("severity"))
    assert severity["element"]["initial_option"]["value"] == "sev4", "the severity given is prefilled"
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.template.name == "sre-review"

    explicit = await Walkthrough(slack, standin, ALICE, LATER_CHANNEL).start("inc-3", "agent-systems")
    assert explicit["title"]["text"] == "1/10 Summary"


# --- a field added to a template file ------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """POSTMORTEM_TEMPLATES: a copy of the built-in template with one line added, a required Region."""
    path = tmp_path / "templates"
    path.mkdir()
    (path / "agent-systems.yml").write_text(with_line_after(SHIPPED.read_text(), ROLLOUT_WAVE, REGION))
    return path


@pytest.fixture
def settings(settings: Settings, folder: Path) -> Settings:
    return settings.model_copy(update={"postmortem_templates": folder})


@pytest.fixture
async def store(store: Store, settings: Settings) -> Store:
    store.catalog = settings.catalog()
    return store


async def test_a_field_added_to_the_template_file_shows_up_everywhere(
    slack: SlackDriver, standin: SlackStandin, store: Store
) -> None:
    walk = Walkthrough(slack, standin, ALICE, CHANNEL, template=store.catalog.get("agent-systems"))
    await walk.start("inc-21")
    await walk.save(example.ANSWERS["summary"] | {"incident_id": "inc-21"})
    await walk.save(example.ANSWERS["what_happened"])
    artifacts = walk.view()
    assert "region" in json.dumps(artifacts["blocks"]), "the modal asks for it"

    await walk.save(example.ANSWERS["artifacts"])  # Region left empty: required, so not saved
    assert walk.view()["id"] == artifacts["id"] and walk.titles[-1] == "3/10 Artifacts"
    result = await walk.save(example.ANSWERS["artifacts"] | {"region": "eu-west-1"})
    assert not result.errors

    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.doc.value("artifacts", "region") == "eu-west-1"
    assert record.doc.state(record.template.section("artifacts")) == "done"
    card = await standin.wait_until(
        lambda: (m := standin.messages(CHANNEL)) and "Sections done: 3/10" in json.dumps(m[0]["blocks"]) and m[0]
    )
    assert card
    exported = yaml.safe_load(to_yaml(record.doc))
    assert exported["postmortem"]["artifacts"]["region"] == "eu-west-1"
    assert exported["template"] == {"name": "agent-systems", "version": record.template.version}
    assert record.template.version != builtin().version
    assert "**Region:** eu-west-1" in to_markdown(record.doc)


# --- versions ------------------------------------------------------------------------------------


@asynccontextmanager
async def restarted(
    settings: Settings, store: Store, standin: SlackStandin, folder: Path
) -> AsyncIterator[tuple[SlackDriver, Store]]:
    """The app started again on the same database after an edit of the template file: a new catalog
    and a new store that know only the new version."""
    text = (folder / "agent-systems.yml").read_text().replace(REGION, "")
    (folder / "agent-systems.yml").write_text(
        with_line_after(
            text,
            "      - {key: summary, label:",
            "      - {key: team, label: Team, kind: short_text, required: true}\n",
        )
    )
    again = Store(store.engine, store.clock, settings.catalog())
    async with aiohttp.ClientSession() as session:
        runner = web.AppRunner(create_web_app(create_app(settings, again, session), again))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        driver = SlackDriver(f"http://127.0.0.1:{port}{EVENTS_PATH}", SIGNING_SECRET, standin)
        yield driver, again
        await driver.close()
        await runner.cleanup()


async def test_an_old_postmortem_keeps_its_template_after_the_file_changes(
    slack: SlackDriver, standin: SlackStandin, store: Store, settings: Settings, folder: Path
) -> None:
    first = store.catalog.get("agent-systems")
    walk = Walkthrough(slack, standin, ALICE, CHANNEL, template=first)
    await walk.start("inc-31")
    await walk.save(example.ANSWERS["summary"] | {"incident_id": "inc-31"})

    async with restarted(settings, store, standin, folder) as (driver, again):
        second = again.catalog.get("agent-systems")
        assert second.version != first.version and again.catalog.known("agent-systems", first.version) is None

        old = await again.by_channel(standin.team_id, CHANNEL)
        assert old is not None and old.template.version == first.version, "read back from the database"
        card = standin.messages(CHANNEL)[0]
        await driver.click(card, CARD_EDIT, user=ALICE, block_id="section-artifacts")
        view = await standin.wait_until(
            lambda: (v := standin.current_view(ALICE)) and "Artifacts" in v["title"]["text"] and v
        )
        assert "region" in json.dumps(view["blocks"]), "the old version's field is still asked"
        answers = section_inputs(
            first.section("artifacts").fields, example.ANSWERS["artifacts"] | {"region": "us-east-2"}
        )
        assert not (await driver.submit(view, answers, user=ALICE)).errors
        old = await again.by_channel(standin.team_id, CHANNEL)
        assert old is not None and old.doc.value("artifacts", "region") == "us-east-2"
        assert old.doc.value("summary", "team") is None and old.doc.state(old.template.sections[0]) == "done"
        assert yaml.safe_load(to_yaml(old.doc))["template"]["version"] == first.version

        new_walk = Walkthrough(driver, standin, ALICE, LATER_CHANNEL, template=second)
        summary = await new_walk.start("inc-32")
        assert "team" in json.dumps(summary["blocks"]) and "region" not in json.dumps(summary["blocks"])
        new = await again.by_channel(standin.team_id, LATER_CHANNEL)
        assert new is not None and new.template.version == second.version


async def test_import_reads_a_file_with_the_version_it_names(store: Store, database_url: str, tmp_path: Path) -> None:
    old = store.catalog.get("agent-systems")
    await store.keep_template(old)  # a postmortem was started with it once
    spec_example = from_yaml((Path(__file__).parent / "data" / "section11_example.yaml").read_text())
    exported = to_yaml(spec_example.model_copy(update={"template": old}))
    source = tmp_path / "old.yaml"
    source.write_text(exported)
    env = {"DATABASE_URL": database_url}  # no POSTMORTEM_TEMPLATES: the file's version is in no file any more

    imported = cli("import", str(source), "--team", "T1", "--channel", "C1", env=env)
    assert imported.returncode == 0, imported.stderr
    record = await Store(store.engine, store.clock).by_channel("T1", "C1")
    assert record is not None and record.template.version == old.version
    assert "region" in [f.key for f in record.template.section("artifacts").fields]

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(exported.replace(old.version, "0123456789ab"))
    refused = cli("import", str(unknown), "--team", "T1", "--channel", "C2", env=env)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"{unknown}:line {line_of(exported, 'template:')}: template agent-systems version 0123456789ab is neither "
        f"on offer nor in the database (its current version is {builtin().version})\n"
    )
