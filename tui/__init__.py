"""The p2pnet terminal UI (Textual).

A client of the node's control API only: it never imports trio or libp2p.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_app"]


def run_app(socket_path: Path, *, started_node: bool = False) -> int:
    """Run the TUI against the node whose control socket is ``socket_path``; returns the exit code."""
    from .app import P2PApp

    app = P2PApp(Path(socket_path), started_node=started_node)
    app.run()
    return app.return_code or 0
