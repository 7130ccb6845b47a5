"""The store: one object with every query, made of the repository's parts (postmortems,
action commands, action reads, people), which share the engine, the clock and the catalog."""

from __future__ import annotations

from storage.actions import ActionCommands
from storage.evals import EvalCommands
from storage.insights import InsightsReads
from storage.people import People
from storage.postmortems import Postmortems
from storage.read_models import ActionReads
from storage.timeline import Timeline


class Store(Postmortems, ActionCommands, EvalCommands, ActionReads, People, Timeline, InsightsReads):
    """Every timestamp it writes comes from ``clock``, the app's one source of "now".

    ``catalog`` holds the templates on offer; a postmortem whose version no file holds any
    more gets it back from the ``templates`` table, where every version used is kept.
    """
