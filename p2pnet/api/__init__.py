"""How a front-end reaches a node: its home, the control API's wire format and clients.

Standard library only (no trio, no libp2p), so the CLI and the TUI can use it
without the node's stack.  docs/control-api.md is the specification.
"""

from ._client import (
    API_VERSION,
    MAX_LINE,
    AsyncControlClient,
    ControlClient,
    ControlError,
    NodeNotRunning,
    decode_line,
    encode_line,
    sync_summary,
)
from ._home import Home, HomeLocked, resolve_home
from ._launch import ensure_node

__all__ = [
    "API_VERSION",
    "MAX_LINE",
    "AsyncControlClient",
    "ControlClient",
    "ControlError",
    "Home",
    "HomeLocked",
    "NodeNotRunning",
    "decode_line",
    "encode_line",
    "ensure_node",
    "resolve_home",
    "sync_summary",
]
