"""Cutting text to a limit without splitting what a reader sees as one character.

Slack counts a field's limit in code points, but an emoji may be several: a skin tone,
a variation selector or a zero-width joiner ties them into one picture, two regional
indicators make a flag, and ``:fire:`` in a message's text is one emoji too. A cut keeps
such a cluster whole or leaves it out.
"""

from __future__ import annotations

import re
import unicodedata

_SHORTCODE = re.compile(r":[a-z0-9_+'-]+:(?::skin-tone-[2-6]:)?")
_SHORTCODE_MAX = 100
_ZWJ = "\u200d"
_KEYCAP = "\u20e3"


def _regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _continues(char: str) -> bool:
    """A code point that belongs to the cluster before it."""
    return (
        char in (_ZWJ, _KEYCAP)
        or "\ufe00" <= char <= "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
        or "\U000e0020" <= char <= "\U000e007f"
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
    )


def _splits_cluster(text: str, at: int) -> bool:
    if _continues(text[at]) or text[at - 1] == _ZWJ:
        return True
    if not (_regional(text[at]) and _regional(text[at - 1])):
        return False
    before = at
    while before > 0 and _regional(text[before - 1]):
        before -= 1
    return (at - before) % 2 == 1


def _inside_shortcode(text: str, at: int) -> int | None:
    """Where the ``:shortcode:`` that a cut at ``at`` would split starts, if one does."""
    for match in _SHORTCODE.finditer(text, max(0, at - _SHORTCODE_MAX), at + _SHORTCODE_MAX):
        if match.start() < at < match.end():
            return match.start()
    return None


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` code points, between two whole characters."""
    if len(text) <= limit:
        return text
    at = limit
    while at > 0:
        shortcode = _inside_shortcode(text, at)
        if shortcode is not None:
            at = shortcode
        elif _splits_cluster(text, at):
            at -= 1
        else:
            break
    return text[:at]
