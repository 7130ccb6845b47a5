"""What both benchmarks print about the code they measured."""

from __future__ import annotations

import subprocess
from pathlib import Path


def code_version() -> str:
    """The commit measured, and product files with uncommitted edits."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True)
    except OSError:
        return "unknown"
    dirty = [
        line[3:]
        for line in status.stdout.splitlines()
        if line[3:].endswith(".py") and not line[3:].startswith("bench/")
    ]
    return head.stdout.strip() + (f" + uncommitted {', '.join(dirty)}" if dirty else "")
