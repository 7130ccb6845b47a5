"""The layers show in the folders, and dependencies run one way (README, Development).

Read from the source with ``ast``, so a failure names the module and the import that breaks
the rule: the domain imports nothing else of the project, storage only the domain, and a
listener module no other listener module (what listeners share lives in ``handlers.support``).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PROJECT = ("bot", "handlers", "storage")
LISTENERS = ("handlers.commands", "handlers.actions", "handlers.views", "handlers.events")
"""One package per surface; ``handlers.shortcuts`` joins them with the first shortcut the app has."""


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        yield _module(path), path


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every project module a file imports (``from a import b`` counts as ``a`` and as ``a.b``)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        yield from ((node.lineno, name) for name in names if name.split(".")[0] in PROJECT)


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _breaches(package: str, allowed: tuple[str, ...]) -> list[str]:
    return [
        f"{module} imports {name} ({path.relative_to(ROOT)}:{line})"
        for module, path in _modules(package)
        for line, name in _imports(path)
        if not _within(name, allowed)
    ]


def test_the_domain_imports_nothing_else_of_the_project() -> None:
    assert _breaches("bot.domain", allowed=("bot.domain",)) == []


def test_storage_imports_only_itself_and_the_domain() -> None:
    assert _breaches("storage", allowed=("storage", "bot.domain")) == []


@pytest.mark.parametrize("package", LISTENERS)
def test_a_listener_module_imports_no_other_listener_module(package: str) -> None:
    """A package's ``__init__`` gathers its own modules for ``register``; no other module reaches across."""
    breaches = [
        f"{module} imports {name} ({path.relative_to(ROOT)}:{line})"
        for module, path in _modules(package)
        if path.name != "__init__.py"
        for line, name in _imports(path)
        if _within(name, LISTENERS) and name != module
    ]
    assert breaches == []


def test_handlers_import_no_composition() -> None:
    assert _breaches("handlers", allowed=("handlers", "storage", "bot.domain")) == []


def test_builders_and_support_import_no_listener_and_builders_register_nothing() -> None:
    below_listeners = ("bot.domain", "storage", "handlers.builders", "handlers.support")
    breaches = _breaches("handlers.builders", below_listeners) + _breaches("handlers.support", below_listeners)
    for module, path in _modules("handlers.builders"):
        tree = ast.parse(path.read_text())
        breaches += [f"{module} defines {node.name}" for node in tree.body if getattr(node, "name", "") == "register"]
    assert breaches == []


@pytest.mark.parametrize("package", LISTENERS)
def test_every_listener_package_has_register(package: str) -> None:
    assert callable(getattr(importlib.import_module(package), "register", None))
