"""Every outside package the code imports is declared (and pinned) in pyproject.toml.

A package that only arrives as another package's dependency can vanish or
change under us in a fresh environment; CI installs from pyproject.toml alone.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"protocol", "p2pnet", "tui"}


def imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for package in OURS:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found - OURS - set(sys.stdlib_module_names) - {"__future__"}


def declared() -> dict[str, str]:
    """Distribution name (normalised) -> its requirement string, from [project] dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {}
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]
        out[_normal(name)] = requirement
    return out


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_a_declared_dependency() -> None:
    dists = packages_distributions()
    deps = declared()
    missing = {}
    for module in sorted(imported_top_level_modules()):
        names = {_normal(d) for d in dists.get(module, [])}
        assert names, f"{module} is imported but no installed distribution provides it"
        if not names & set(deps):
            missing[module] = sorted(names)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_dependency_is_pinned_to_a_range() -> None:
    for name, requirement in declared().items():
        assert re.search(r"(==|<)", requirement), f"{name} has no upper bound: {requirement!r}"
