"""The p2pnet terminal UI (Textual).

A client of the node's control API only: it never imports trio or libp2p.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["run_app"]


def run_app(socket_path: Path, *, started_node: bool = False, start: Callable[[], object] | None = None) -> int:
    """Run the TUI against the node whose control socket is ``socket_path``; returns the exit code.

    ``start`` starts that node if it goes away (``started_node``: the
    launcher started it, so the TUI starts it again on its own).
    """
    from .app import P2PApp

    app = P2PApp(Path(socket_path), started_node=started_node, start=start)
    app.run()
    return app.return_code or 0
