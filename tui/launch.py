"""``p2pnet``: the TUI on a local node (started for you if none runs), or any command of the CLI.

The launcher sits above both the TUI and the node's command line, so the
arrows between the layers keep pointing down: ``p2pnet.cli`` never imports the
TUI.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from p2pnet.api import Home, ensure_node
from p2pnet.cli import main as cli_main

from . import run_app

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``p2pnet`` console script."""
    return cli_main(argv, no_command=_open_tui)


def _open_tui(home: Home) -> int:
    started = ensure_node(home)
    return run_app(home.socket, started_node=started, start=partial(ensure_node, home))
