"""``eval-jsonl``: a postmortem's eval cases, one JSON object per case per line, ready for an eval harness.

Each line names the incident and the template version, then the case's fields
(``bot.domain.evals.CASE_FIELDS``) and the ids of the corrective actions it is the regression eval of.
"""

from __future__ import annotations

import json

from bot.domain.document import Postmortem
from bot.domain.evals import ACTIONS_KEY


def to_eval_jsonl(pm: Postmortem) -> str:
    head = {"incident_id": pm.incident_id, "template": {"name": pm.template.name, "version": pm.template.version}}
    lines = [{**head, **case.fields(), ACTIONS_KEY: case.action_ids} for case in pm.evals]
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
