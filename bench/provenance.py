"""What the benchmarks print about the code they measured, and which code that is.

Every benchmark imports this module before the project's packages. The project is installed
in the virtualenv as an editable install pointing at the checkout it was installed from, so
a benchmark run from another checkout (a worktree of an older commit, to measure "before")
imported the installed checkout's packages, not its own, and measured the same code twice.
Importing this puts the benchmark's own checkout first.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def code_version() -> str:
    """The commit measured, and product files with uncommitted edits."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown"
    dirty = [
        line[3:]
        for line in status.stdout.splitlines()
        if line[3:].endswith(".py") and not line[3:].startswith("bench/")
    ]
    return head.stdout.strip() + (f" + uncommitted {', '.join(dirty)}" if dirty else "")
