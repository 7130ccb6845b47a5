"""What every part of the stand-in answers in: Slack's JSON, and Slack's refusal.

Slack refuses a Web API call with HTTP 200 and ``{"ok": false, "error": ...}``; the limit
checks and the methods raise ``ApiError`` and the dispatcher turns it into that body.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """Raised by a method handler; becomes Slack's ``{"ok": false, ...}`` answer."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body: JSON = {"ok": False, "error": error, **extra}


def invalid_arguments(problems: list[str]) -> ApiError:
    """Slack's refusal of arguments it cannot take, each problem a response_metadata message."""
    return ApiError("invalid_arguments", response_metadata={"messages": problems})
