"""What the server imports, it declares: every module that app/, workers/ and algorithms/ import
comes from the standard library, from this project, or from a distribution that `pip install .`
installs (its requirements, followed through theirs; extras such as `test` left out).

A module that only the tests' environment has (requests, say) would pass every other test and
fail on a user's machine, as `dev`'s readiness check once did.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("app", "workers", "algorithms")
OURS = {"app", "workers", "algorithms", "functionalscaffold_client"}


def _imported_top_level_names() -> dict[str, set[str]]:
    """Top-level module name → the files importing it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for package in SHIPPED:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _installed_by(distribution: str) -> set[str]:
    """``distribution`` and every distribution its requirements bring here (with the extras they name,
    such as dramatiq[redis]; without our own extras such as ``test``)."""
    seen: set[str] = set()
    visited: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [(distribution, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if (key, extras) in visited:
            continue
        visited.add((key, extras))
        try:
            requires = metadata.requires(key) or []
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform, not installed here
        seen.add(key)
        for line in requires:
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras)
            )
            if wanted:
                todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def test_every_module_the_server_imports_is_installed_by_pip_install_dot() -> None:
    installed = _installed_by("functionalscaffold")
    providers = metadata.packages_distributions()
    undeclared = {}
    for name, files in _imported_top_level_names().items():
        if name in OURS or name in sys.stdlib_module_names:
            continue
        distributions = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(name, [])}
        if not distributions & installed:
            undeclared[name] = sorted(files)
    assert undeclared == {}, f"imported but not required by the server's pyproject: {undeclared}"
