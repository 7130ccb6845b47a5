"""The shipped SRE review template, walked through the real app like the built-in one.

Its sections, fields, action items and checklist are unlike the built-in template's: the
guided modals, the card, the checklist, both exports, the import round trip and the
reminders all follow the template file, with no code of their own.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import yaml

from bot.app import create_sweeper
from bot.config import Settings
from bot.demo import Walkthrough
from bot.domain.catalog import default_catalog
from bot.domain.export.markdown import to_markdown
from bot.domain.export.yaml_in import from_yaml
from bot.domain.export.yaml_out import to_yaml
from bot.slackdev import SlackDriver, SlackStandin
from storage.store import Store

CHANNEL = "C0SREVIEW1"
LEAD, ONCALL, DBA = "U0LEAD0001", "U0ONCALL01", "U0DBA00001"
INCIDENT_ID = "inc-2026-05-04-002"
TEMPLATE = default_catalog().get("sre-review")
ANSWERS = {
    "summary": {
        "incident_id": INCIDENT_ID,
        "severity": "sev3",
        "owner": LEAD,
        "status": "in_review",
        "started_at": "2026-05-04T14:02:00+00:00",
        "summary": "Checkout latency rose to 4 s for 38 minutes after a connection pool was shrunk.",
        "responders": [ONCALL, DBA],
    },
    "impact": {
        "user_impact": "Slow checkouts; 2% of them timed out.",
        "duration_minutes": 38,
        "customers_affected": 1250,
        "dashboard": "https://status.example.com/incidents/42",
    },
    "timeline": {
        "detected_by": "alert",
        "events": ["14:02 latency alert fired", "14:20 pool size rolled back", "14:40 latency normal"],
        "mitigated_at": "2026-05-04T14:40:00+00:00",
    },
    "root_cause": {
        "root_cause": "A config change halved the database connection pool under peak load.",
        "contributing": ["no load test for pool changes", "alert threshold too high"],
    },
    "lessons": {
        "went_well": ["rollback took 2 minutes"],
        "went_wrong": ["the change skipped review"],
    },
}
ACTIONS = [
    {"title": "Load-test every connection pool change", "priority": "p1", "owner": DBA, "due": "2026-05-01"},
    {
        "title": "Lower the latency alert threshold",
        "priority": "p2",
        "owner": ONCALL,
        "due": "2026-06-01",
        "ticket": "https://tickets.example.com/OPS-7",
    },
    {"title": "Review config changes like code", "priority": "p1", "due": "2026-05-20"},
]


async def test_the_sre_review_walks_through_the_real_app(
    slack: SlackDriver, standin: SlackStandin, store: Store, settings: Settings
) -> None:
    walk = Walkthrough(slack, standin, LEAD, CHANNEL, template=TEMPLATE)
    await walk.whole(INCIDENT_ID, ANSWERS, ACTIONS, template="sev3")  # the severity picks the template

    assert walk.titles == [
        "1/6 Summary",
        "2/6 Impact",
        "3/6 Timeline",
        "4/6 Root cause",
        "5/6 Action items",
        "6/6 Lessons learned",
        "Postmortem saved",
    ]
    record = await store.by_channel(standin.team_id, CHANNEL)
    assert record is not None and record.template.name == "sre-review" and record.incident_id == INCIDENT_ID
    assert record.doc.value("impact", "duration_minutes") == 38
    assert record.doc.value("summary", "responders") == [ONCALL, DBA]
    assert [a.action for a in record.doc.actions] == [a["title"] for a in ACTIONS]
    assert record.doc.actions[1].extra == {"ticket": "https://tickets.example.com/OPS-7"}

    # the card: six sections, its own header and checklist; one action item has no owner
    card = await standin.wait_until(
        lambda: (m := standin.messages(CHANNEL)) and "Sections done: 5/6" in json.dumps(m[0]["blocks"]) and m[0]
    )
    text = json.dumps(card["blocks"])
    assert f"Postmortem \\u00b7 {INCIDENT_ID} \\u00b7 sev3 \\u00b7 in_review" in text
    assert "*8. Ready to publish*" in text
    assert (
        ":x: *no* \\u2014 Does every action item have an owner and a due date? "
        "_(missing: owner on 1 action item(s))_" in text
    )
    assert ":white_check_mark: yes \\u2014 Is the impact quantified?" in text
    assert "3 open \\u00b7 1 overdue \\u00b7 1 unowned" in text  # the clock is on Tuesday 2026-05-05

    # both exports follow the template's own layout
    exported = yaml.safe_load(to_yaml(record.doc))
    document = exported["postmortem"]
    assert list(document) == [
        "incident_id",
        "severity",
        "owner",
        "summary",
        "action_items",
        "summary_details",  # the section's key is taken by the exported summary field
        "impact",
        "timeline",
        "root_cause",
        "lessons",
        "checklist",
    ]
    assert document["action_items"][1] == {
        "title": "Lower the latency alert threshold",
        "owner": ONCALL,
        "due": date(2026, 6, 1),
        "priority": "p2",
        "ticket": "https://tickets.example.com/OPS-7",
        "status": "open",
    }
    assert exported["template"] == {"name": "sre-review", "version": TEMPLATE.version}
    markdown = to_markdown(record.doc)
    assert "## 5. Action items\n\n| Action item | Priority | Owner | Due | Ticket | Status |" in markdown
    assert "**Responders:**\n\n- <@U0ONCALL01>\n- <@U0DBA00001>" in markdown
    assert "## 7. YAML" in markdown and "## 8. Ready to publish" in markdown
    replied = await slack.command("export yaml", user=LEAD, channel=CHANNEL)
    (reply,) = await standin.wait_until(lambda: standin.responses(replied.response_url))
    assert "action_items:" in json.dumps(reply["blocks"]) and "name: sre-review" in json.dumps(reply["blocks"])

    # reminders on its action items: the overdue one to its owner, the unowned one to the review's owner
    for user in (LEAD, ONCALL, DBA):
        standin.add_user(user, tz="UTC")
    sweeper = create_sweeper(settings, store)
    store.clock.set(datetime(2026, 5, 12, 10, tzinfo=UTC))
    report = await sweeper.sweep()
    assert report.messages == 2
    dba = json.dumps(standin.messages(standin.dm_channel(DBA))[0]["blocks"])
    assert "Load-test every connection pool change" in dba and "*Overdue*" in dba
    lead = json.dumps(standin.messages(standin.dm_channel(LEAD))[0]["blocks"])
    assert "Review config changes like code" in lead and "*Needs an owner*" in lead

    # the import round trip, into another workspace
    again = from_yaml(to_yaml(record.doc))
    assert again.template is TEMPLATE
    assert again.answers == record.doc.answers
    assert again.actions == [a.model_copy(update={"id": None}) for a in record.doc.actions]
    copied = await store.import_postmortem("T0OTHERTEAM", "C0COPY0001", again, LEAD)
    copy = await store.get(copied)
    assert copy is not None and copy.template is TEMPLATE and to_yaml(copy.doc) == to_yaml(record.doc)
