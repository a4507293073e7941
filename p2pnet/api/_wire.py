"""The control API's framing: one JSON object per line, and the errors of a conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from ._contract import MAX_LINE
from ._home import Home

__all__ = ["ERROR_CODES", "ControlError", "NodeNotRunning", "decode_line", "encode_line"]

#: error code -> what it means (docs/control-api.md, "Error codes")
ERROR_CODES: dict[str, str] = {
    "bad_json": "the line is not a JSON object",
    "bad_request": "the request or its params are malformed",
    "bad_version": "the request's API version is not one this node speaks",
    "too_large": "the line is over the size limit",
    "unknown_method": "no such method",
    "no_identity": "the node has no identity yet",
    "locked": "the identity is passphrase-protected and not unlocked",
    "bad_passphrase": "wrong passphrase",
    "identity_exists": "create or restore on a node that has an identity",
    "invalid": "the object breaks a protocol rule",
    "bad_invite": "the invite key is malformed, truncated, tampered, expired or from another version",
    "no_swarm": "no such swarm, or no swarm at all",
    "choose_swarm": "several swarms are joined: say which",
    "swarm_exists": "that swarm is already joined",
    "swarm_stopped": "that swarm is not running",
    "listen_failed": "no address to listen on for the swarm",
    "no_address": "no address a friend on another machine could reach can go into an invite",
    "join_failed": "none of the invite's peers answered; nothing was kept",
    "not_found": "the id is unknown here",
    "ambiguous_id": "the id prefix matches several objects",
    "not_yours": "only the author can delete this",
    "blocked": "that conversation is blocked: unblock it to write in it",
    "refused": "the store refused the object",
    "store": "a database problem",
    "internal": "a bug; the node keeps running",
    # said by a client, never by the node
    "not_running": "no node answers on the home's socket",
    "disconnected": "the node closed the connection",
    "bad_reply": "the node's answer does not have the shape this client expects",
    "not_started": "a node was started but did not answer in time",
}

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class ControlError(Exception):
    """The node answered with an error, or the conversation broke.

    ``code`` is a stable machine-readable slug (``p2pnet.api.ERROR_CODES``,
    docs/control-api.md); ``str(err)`` is a sentence for a person.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NodeNotRunning(ControlError):
    """No node answers on this home's socket."""

    def __init__(self, socket_path: Path) -> None:
        home = Home(socket_path.parent)
        super().__init__(
            "not_running",
            f"no p2pnet node is running for {home.root}; start one with: {home.command('daemon')}",
        )


def encode_line(obj: Any) -> bytes:
    """One JSON object (dicts, lists, Structs) as one UTF-8 line."""
    return _encoder.encode(obj) + b"\n"


def decode_line(line: bytes) -> dict[str, Any]:
    """Parse one line into a JSON object.

    Raises:
        ControlError: ``too_large`` or ``bad_json`` (not JSON, not an object, or NaN/Infinity, which JSON lacks).
    """
    if len(line) > MAX_LINE:
        raise ControlError("too_large", f"a control message is limited to {MAX_LINE} bytes")
    try:
        obj = _decoder.decode(line)
    except msgspec.DecodeError:
        raise ControlError("bad_json", "a control message is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ControlError("bad_json", "a control message must be a JSON object")
    return obj
