"""The layers only point down: every import in protocol/, p2pnet/ and tui/ is checked.

Layers, lowest first (docs/architecture.md):

    protocol            sans-IO core: no I/O, no clock, no framework
    p2pnet.api          how front-ends reach a node: home, wire format, typed contract, clients
    p2pnet.store        SQLite store          } siblings: neither imports the other
    p2pnet.net          libp2p hosts and the protocols on them
    p2pnet.node         the node: wires store and net, serves the control API
    p2pnet.demo         a local demo swarm of real daemons
    p2pnet.cli          the command line (p2pnet.__main__ runs it)
    tui                 the Textual app: a client of p2pnet.api only
    tui.launch          the `p2pnet` command: starts a node and the TUI, or runs the CLI

A module may import its own layer and any layer below, and nothing else of the
project; some layers also may not touch certain outside modules (trio in a
front-end, sockets and clocks in the protocol core).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# (layer, rank): a module imports only layers of a lower rank, or its own layer.
LAYERS: list[tuple[str, int]] = [
    ("protocol", 0),
    ("p2pnet", 1),  # the package's own __init__: a version string, nothing else
    ("p2pnet.api", 1),
    ("p2pnet.store", 2),
    ("p2pnet.net", 2),
    ("p2pnet.node", 3),
    ("p2pnet.demo", 4),
    ("p2pnet.cli", 5),
    ("p2pnet.__main__", 6),
    ("tui", 7),
    ("tui.launch", 8),
    ("tui.__main__", 9),
]

# Outside modules a layer must never import (the first dotted part is matched).
FORBIDDEN: dict[str, set[str]] = {
    "protocol": {"trio", "libp2p", "textual", "socket", "sqlite3", "time", "asyncio", "msgspec", "multiaddr"},
    "p2pnet.api": {"trio", "libp2p", "textual", "multiaddr", "sqlite3"},
    "p2pnet.store": {"trio", "libp2p", "textual", "socket", "multiaddr"},
    "p2pnet.net": {"textual", "sqlite3"},
    "p2pnet.node": {"textual"},
    "p2pnet.cli": {"trio", "libp2p", "textual"},  # the node's stack only inside `daemon`, imported lazily
    "tui": {"trio", "libp2p", "sqlite3", "multiaddr"},
}


def layer_of(module: str) -> str:
    """The most specific layer a module belongs to."""
    best = ""
    for name, _ in LAYERS:
        if (module == name or module.startswith(name + ".")) and len(name) > len(best):
            best = name
    assert best, f"{module} belongs to no layer: add it to LAYERS"
    return best


RANK = dict(LAYERS)


def modules() -> list[tuple[str, Path]]:
    out = []
    for package in ("protocol", "p2pnet", "tui"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out.append((".".join(parts), path))
    return out


def imports(module: str, path: Path) -> list[tuple[str, bool]]:
    """``(imported module, at top level)`` for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names] if not node.module or node.level else []
            found += [(name, id(node) in top_level) for name in names or [target]]
    return found


def project_target(name: str) -> str | None:
    first = name.split(".")[0]
    if first not in ("protocol", "p2pnet", "tui"):
        return None
    # `from p2pnet import api` names a module; `from p2pnet.api import Home` names a member.
    return name


ALL = modules()


@pytest.mark.parametrize(("module", "path"), ALL, ids=[m for m, _ in ALL])
def test_imports_point_down(module: str, path: Path) -> None:
    mine = layer_of(module)
    for name, _ in imports(module, path):
        target = project_target(name)
        if target is None:
            continue
        theirs = layer_of(target)
        if theirs == mine:
            continue
        assert RANK[theirs] < RANK[mine], f"{module} ({mine}) imports {target} ({theirs}): an arrow up or sideways"


@pytest.mark.parametrize(("module", "path"), ALL, ids=[m for m, _ in ALL])
def test_forbidden_outside_modules(module: str, path: Path) -> None:
    layer = layer_of(module)
    rules = {k: v for k, v in FORBIDDEN.items() if layer == k or layer.startswith(k + ".")}
    for name, top_level in imports(module, path):
        first = name.split(".")[0]
        for owner, banned in rules.items():
            lazy_ok = owner == "p2pnet.cli" and not top_level
            assert lazy_ok or first not in banned, f"{module} imports {name}, which {owner} must not"


def test_every_layer_is_checked() -> None:
    seen = {layer_of(m) for m, _ in ALL}
    assert seen == {name for name, _ in LAYERS}


def test_a_front_end_imports_neither_trio_nor_libp2p() -> None:
    """What the layers promise holds at run time too: the CLI and the TUI load without the node's stack."""
    import subprocess

    code = (
        "import sys, p2pnet.cli, tui.launch, tui.app, p2pnet.api;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('trio', 'libp2p') or m.startswith('p2pnet.node'));"
        "print(bad); sys.exit(bool(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
