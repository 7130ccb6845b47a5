"""Reading YAML files people write by hand: every value knows its line, and hostile input is refused.

Both kinds of file the app reads from outside go through here, with the same caps: an
imported postmortem (``bot.domain.export.yaml_in``) and a template (``bot.domain.template_file``). Anchors and
aliases are refused outright rather than bounded ("billion laughs": nine lines of nested
aliases expand to gigabytes), nesting is capped because composing is recursive, ``!!binary``
and escapes that produce control characters or lone surrogates are refused, and callers
reading from disk cap the size at ``MAX_FILE_BYTES`` before parsing (``read_capped``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1024 * 1024  # an exported postmortem or a template is a few KiB; this leaves room
MAX_NESTING = 16  # an exported file needs 5 (the root, postmortem, corrective_actions, an action, its owner)


class FileProblems(Exception):
    """A file that cannot be used. ``line`` (1-based) points at the offending key.

    ``problems`` lists every problem found, in file order, so a person can fix them in one
    pass; ``line`` and ``reason`` are the first of them.
    """

    def __init__(self, line: int | None, reason: str, problems: list[tuple[int | None, str]] | None = None) -> None:
        super().__init__(line, reason)
        self.line = line
        self.reason = reason
        self.problems = problems or [(line, reason)]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line is not None else self.reason

    def lines(self, path: str) -> list[str]:
        """One ``FILE:line: reason`` per problem, as compilers print them."""
        return [
            f"{path}:{line}: {reason}" if line is not None else f"{path}: {reason}" for line, reason in self.problems
        ]


@dataclass
class Problems:
    """Problems collected while reading, raised together."""

    found: list[tuple[int | None, str]] = field(default_factory=list)

    def add(self, line: int | None, reason: str) -> None:
        self.found.append((line, reason))

    def raise_if_any(self) -> None:
        if self.found:
            ordered = sorted(self.found, key=lambda p: (p[0] is None, p[0] or 0))
            raise FileProblems(*ordered[0], problems=ordered)


class Mapping(dict[Any, Any]):
    """A loaded YAML mapping that knows the line of each key, so errors can point at it."""

    line: int | None = None
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class Sequence(list[Any]):
    """A loaded YAML list that knows the line of each item."""

    line: int | None = None
    item_lines: list[int]

    def line_of(self, index: int) -> int | None:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def describe(value: Any) -> str:
    """A value's YAML type in the words of a person editing the file."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"yes/no ({str(value).lower()})"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def plain(value: Any) -> Any:
    """The loaded value without the line-tracking containers, as pydantic and equality expect."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class _LineLoader(yaml.SafeLoader):
    """``SafeLoader`` that tracks lines, refuses duplicate keys and keeps impossible dates as text."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise FileProblems(line, "anchors and aliases (&name, *name) are not accepted; write the value out")
        if self._depth >= MAX_NESTING:
            raise FileProblems(line, f"nested more than {MAX_NESTING} levels deep; an exported file needs 5")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_scalar(self, node: yaml.Node) -> Any:
        value = super().construct_scalar(node)
        if isinstance(value, str) and (unprintable := _UNPRINTABLE.search(value)):
            raise FileProblems(
                node.start_mark.line + 1,
                f"character U+{ord(unprintable.group()):04X} is not allowed: an escape may not produce "
                "NUL, other control characters or lone surrogates",
            )
        return value


_UNPRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # what YAML refuses literally, refused as escapes too


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[Mapping]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first at line {seen[key_node.value]})",
                    key_node.start_mark,
                )
            seen[key_node.value] = line
    data = Mapping()
    data.line, data.key_lines = node.start_mark.line + 1, {}
    yield data
    data.update(loader.construct_mapping(node))
    for key_node, _ in node.value:  # flattened by construct_mapping: merged keys included
        data.key_lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[Sequence]:
    data = Sequence()
    data.line, data.item_lines = node.start_mark.line + 1, [n.start_mark.line + 1 for n in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    """``2026-02-30`` looks like a date but is none: keep the text so the field says what is wrong."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


def _refuse_binary(_loader: _LineLoader, node: yaml.Node) -> Any:
    """``!!binary`` decodes to bytes that pydantic would take as text, past the character check."""
    raise FileProblems(node.start_mark.line + 1, "binary values (!!binary) are not accepted; write text")


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_LineLoader.add_constructor("tag:yaml.org,2002:binary", _refuse_binary)


def load(text: str, expected: str) -> Mapping:
    """The file's top-level mapping; ``expected`` says what it should hold, for the messages."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = f"invalid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and mark and exc.context_mark.line != mark.line:
            reason += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise FileProblems(mark.line + 1 if mark else None, reason) from exc
    except yaml.YAMLError as exc:
        raise FileProblems(None, f"invalid YAML: {exc}") from exc
    if data is None:
        raise FileProblems(None, f"the file is empty; expected {expected}")
    if not isinstance(data, Mapping):
        raise FileProblems(getattr(data, "line", None), f"expected {expected}, found {describe(data)}")
    return data


def read_capped(path: Path, which_limit: str) -> str:
    """The file's text, refused unread past ``MAX_FILE_BYTES`` (a FIFO or /dev/zero never ends)."""
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES / 1024 / 1024:g} MiB"
        raise FileProblems(None, f"larger than {limit}, {which_limit}")
    return data.decode("utf-8")
