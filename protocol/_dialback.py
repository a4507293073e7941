"""Dial-back requests and answers: whether a member can be dialled from outside (docs/protocol.md §16).

A member asks a connected member to dial it back at a few of its own TCP
addresses, on a new connection.  The request is the addresses (IPv4 and
port, nothing else); the answer is one status byte.  Only addresses at the
IP the server sees the request come from are dialled, so a request cannot
aim the server at a third host.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from typing import Final

from ._errors import DecodeError, UnknownVersion

__all__ = [
    "DIALBACK_VERSION",
    "MAX_DIALBACK_ADDRS",
    "MAX_DIALBACK_REQUEST",
    "DialBackStatus",
    "decode_dialback_request",
    "decode_dialback_response",
    "encode_dialback_request",
    "encode_dialback_response",
]

DIALBACK_VERSION: Final = 1
MAX_DIALBACK_ADDRS: Final = 4
_ADDR = struct.Struct(">4sH")
MAX_DIALBACK_REQUEST: Final = 2 + MAX_DIALBACK_ADDRS * _ADDR.size


class DialBackStatus(enum.IntEnum):
    """The answer to a dial-back request."""

    OK = 0  # a new connection to one of the addresses completed the handshake as the asker
    FAILED = 1  # addresses dialled, none answered as the asker in time
    REFUSED = 2  # nothing to dial: no address at the asker's IP, or the request came over a relay
    BUSY = 3  # the asker's rate, or the server's dial-backs at once, are over their limit: ask later
    MALFORMED = 4  # the request does not decode


def encode_dialback_request(addrs: list[tuple[str, int]]) -> bytes:
    """The request frame: version, count, then each address as 4 IPv4 bytes and a big-endian port.

    Raises:
        ValueError: No address, more than :data:`MAX_DIALBACK_ADDRS`, or one that is not IPv4 with a port 1..65535.
    """
    if not 1 <= len(addrs) <= MAX_DIALBACK_ADDRS:
        raise ValueError(f"a dial-back request names 1 to {MAX_DIALBACK_ADDRS} addresses, not {len(addrs)}")
    out = bytearray([DIALBACK_VERSION, len(addrs)])
    for ip, port in addrs:
        if not 1 <= port <= 65535:
            raise ValueError(f"port out of range: {port}")
        out += _ADDR.pack(ipaddress.IPv4Address(ip).packed, port)
    return bytes(out)


def decode_dialback_request(frame: bytes) -> list[tuple[str, int]]:
    """The addresses a request names, in its order.

    Raises:
        UnknownVersion: Another version byte.
        DecodeError: Empty, a count of 0 or over :data:`MAX_DIALBACK_ADDRS`, a length
            that is not the count's, or a port of 0.
    """
    if len(frame) < 2:
        raise DecodeError(f"dial-back request too short ({len(frame)} bytes)")
    if frame[0] != DIALBACK_VERSION:
        raise UnknownVersion(f"dial-back version {frame[0]}")
    count = frame[1]
    if not 1 <= count <= MAX_DIALBACK_ADDRS:
        raise DecodeError(f"dial-back request names {count} addresses (1 to {MAX_DIALBACK_ADDRS})")
    if len(frame) != 2 + count * _ADDR.size:
        raise DecodeError(f"dial-back request of {len(frame)} bytes for {count} addresses")
    addrs = []
    for i in range(count):
        packed, port = _ADDR.unpack_from(frame, 2 + i * _ADDR.size)
        if port == 0:
            raise DecodeError("dial-back address with port 0")
        addrs.append((str(ipaddress.IPv4Address(packed)), port))
    return addrs


def encode_dialback_response(status: DialBackStatus) -> bytes:
    """The answer frame: version, status."""
    return bytes([DIALBACK_VERSION, status])


def decode_dialback_response(frame: bytes) -> DialBackStatus:
    """The status an answer gives.

    Raises:
        UnknownVersion: Another version byte.
        DecodeError: Not two bytes, or a status this version does not define.
    """
    if len(frame) != 2:
        raise DecodeError(f"dial-back answer of {len(frame)} bytes (2)")
    if frame[0] != DIALBACK_VERSION:
        raise UnknownVersion(f"dial-back version {frame[0]}")
    try:
        return DialBackStatus(frame[1])
    except ValueError:
        raise DecodeError(f"dial-back status {frame[1]}") from None
