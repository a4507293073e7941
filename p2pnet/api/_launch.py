"""Start a node for a home when none answers: what a front-end does before it connects."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

from ._client import ControlClient
from ._home import Home
from ._wire import ControlError, NodeNotRunning

__all__ = ["ensure_node"]


def ensure_node(home: Home, *, timeout: float = 30.0) -> bool:
    """Start ``p2pnet daemon`` for ``home`` in the background if no node answers there.

    The daemon is its own session, so it keeps running after the front-end quits.

    Returns:
        True if a node was started now, False if one was already running.

    Raises:
        ControlError: ``not_started``, the node did not answer within ``timeout`` (its log says why).
    """
    with contextlib.suppress(NodeNotRunning), ControlClient(home.socket, timeout=5):
        return False
    home.create()
    with open(home.log, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "p2pnet", "--home", str(home.root), "daemon"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with ControlClient(home.socket, timeout=5):
                return True
        except NodeNotRunning:
            time.sleep(0.1)
    raise ControlError("not_started", f"the node did not start within {timeout:.0f}s; see {home.log}")
