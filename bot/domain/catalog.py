"""Which templates the app offers, and every version of them it has met.

The templates shipped in ``bot/domain/templates/`` are always offered; ``POSTMORTEM_TEMPLATES`` adds
a folder of ``*.yml`` files, whose template replaces a shipped one of the same name. A new
postmortem uses the one named in ``/postmortem start``, else the one whose
``use_for_severity`` lists the severity given there, else the default. A postmortem keeps
the version it was started with: versions no file holds any more come back from the
database (``storage``), through ``remember``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from bot.domain import template as t
from bot.domain.template_file import parse
from bot.domain.yamlfile import FileProblems, read_capped

DEFAULT_TEMPLATE = "agent-systems"
SUFFIX = ".yml"
SHIPPED = "bot/domain/templates/"
TEMPLATE_LIMIT = "the limit for a template file"


class CatalogProblems(Exception):
    """Templates that cannot be used, one ``FILE:line: reason`` per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _shipped() -> list[tuple[str, str]]:
    folder = resources.files("bot.domain") / "templates"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(SUFFIX)), key=lambda f: f.name)
    return [(f"{SHIPPED}{f.name}", f.read_text(encoding="utf-8")) for f in files]


def read_template(path: Path) -> t.Template:
    """One template file, checked; ``FileProblems`` for a file that is not one."""
    try:
        text = read_capped(path, TEMPLATE_LIMIT)
    except (OSError, UnicodeDecodeError) as exc:
        raise FileProblems(None, f"cannot read: {exc}") from None
    return parse(text)


@cache
def builtin() -> t.Template:
    """The agent-systems template as shipped: what a postmortem without another one uses."""
    return default_catalog().get(DEFAULT_TEMPLATE)


@cache
def default_catalog() -> Catalog:
    return load_catalog(None)


@dataclass
class Catalog:
    """The current template of each name, and each version met, by (name, version)."""

    current: dict[str, t.Template]
    default: str = DEFAULT_TEMPLATE
    overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    versions: dict[tuple[str, str], t.Template] = field(default_factory=dict)
    severities: dict[str, str] = field(default_factory=dict)
    """Severity -> the name of the template ``use_for_severity`` gives it."""

    def get(self, name: str) -> t.Template:
        return self.current[name]

    @property
    def names(self) -> list[str]:
        return sorted(self.current)

    @property
    def default_template(self) -> t.Template:
        return self.current[self.default]

    def known(self, name: str, version: str) -> t.Template | None:
        return self.versions.get((name, version))

    def remember(self, text: str) -> t.Template:
        """A version read back from the database, parsed once per process."""
        template = parse(text)
        return self.versions.setdefault((template.name, template.version), template.with_vocabularies(self.overrides))

    def for_severity(self, severity: str) -> t.Template | None:
        name = self.severities.get(severity)
        return self.current[name] if name else None

    def choose(self, word: str | None) -> t.Template | None:
        """``/postmortem start``'s template word: a template's name or a severity; None when it is neither."""
        if not word:
            return self.default_template
        return self.current.get(word) or self.for_severity(word)


def _add(found: dict[str, tuple[str, t.Template]], path: str, template: t.Template, problems: list[str]) -> None:
    if template.name in found and not found[template.name][0].startswith(SHIPPED):
        problems.append(f"{path}: template name {template.name!r} is also used by {found[template.name][0]}")
    found[template.name] = (path, template)


def _severity_rules(found: Mapping[str, tuple[str, t.Template]], problems: list[str]) -> dict[str, str]:
    """Severity -> template name. A folder's template takes a severity from a shipped one; two of
    the folder's claiming one severity are a problem."""
    claimed: dict[str, tuple[str, str]] = {}
    for path, template in found.values():
        for severity in template.use_for_severity:
            before = claimed.get(severity)
            if before and not before[0].startswith(SHIPPED):
                problems.append(f"{path}: use_for_severity {severity} is also claimed by template {before[1]}")
            claimed[severity] = (path, template.name)
    return {severity: name for severity, (_, name) in claimed.items()}


def load_catalog(
    folder: Path | None, default: str = DEFAULT_TEMPLATE, overrides: Mapping[str, tuple[str, ...]] | None = None
) -> Catalog:
    """The shipped templates and ``folder``'s; ``CatalogProblems`` lists every problem of every file."""
    problems: list[str] = []
    found: dict[str, tuple[str, t.Template]] = {}
    sources: Iterable[tuple[str, Path | str]] = list(_shipped())
    if folder is not None:
        if not folder.is_dir():
            raise CatalogProblems([f"{folder}: not a folder (POSTMORTEM_TEMPLATES)"])
        sources = [*sources, *((str(p), p) for p in sorted(folder.glob(f"*{SUFFIX}")))]
    for path, source in sources:
        try:
            template = read_template(source) if isinstance(source, Path) else parse(source)
        except FileProblems as exc:
            problems += exc.lines(path)
            continue
        _add(found, path, template, problems)
    severities = _severity_rules(found, problems)
    if default not in found:
        problems.append(
            f"POSTMORTEM_DEFAULT_TEMPLATE: no template named {default!r} (have: {', '.join(sorted(found))})"
        )
    if problems:
        raise CatalogProblems(problems)
    current = {name: template.with_vocabularies(overrides or {}) for name, (_, template) in found.items()}
    versions = {(tpl.name, tpl.version): tpl for tpl in current.values()}
    return Catalog(current, default, dict(overrides or {}), versions, severities)
