"""LAN beacons: how members of one swarm on one network find each other (docs/protocol.md §15).

A beacon is one UDP datagram: a random nonce and a secretbox under a key
derived from the swarm's PSK.  It holds the sender's TCP port and libp2p
peer id, padded to one size.  Whoever lacks the PSK sees random bytes of one
length: no swarm name, no tag that repeats, no stable id.  A member opens it
and dials the port at the datagram's source address.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from typing import Final

from nacl import bindings
from nacl.exceptions import CryptoError

from ._errors import DecodeError

__all__ = [
    "BEACON_BYTES",
    "BEACON_STEP",
    "BEACON_VERSION",
    "Beacon",
    "beacon_key",
    "open_beacon",
    "seal_beacon",
]

BEACON_VERSION: Final = 1
BEACON_STEP: Final = 600  # seconds; a beacon is fresh within one step either side
_PLAIN_BYTES: Final = 72  # version, step, port, id length, id, zero padding
_NONCE: Final = bindings.crypto_secretbox_NONCEBYTES
BEACON_BYTES: Final = _NONCE + _PLAIN_BYTES + bindings.crypto_secretbox_MACBYTES
_HEAD = struct.Struct(">BIHB")


@dataclass(frozen=True)
class Beacon:
    """What an opened beacon says: where its sender's swarm host listens, and as whom."""

    port: int
    peer_id: bytes  # the libp2p peer id, as bytes (its multihash)


def beacon_key(psk: bytes) -> bytes:
    """The beacon key of a swarm: BLAKE2b-256 keyed by the PSK, personalised, so it is no other key of the swarm."""
    if len(psk) != 32:
        raise ValueError("psk must be 32 bytes")
    return hashlib.blake2b(b"", key=psk, digest_size=32, person=b"p2pnet-lan-v1").digest()


def seal_beacon(key: bytes, beacon: Beacon, *, now: int, nonce: bytes | None = None) -> bytes:
    """The datagram announcing ``beacon`` at Unix time ``now``, ``BEACON_BYTES`` long."""
    if not 0 < beacon.port < 65536:
        raise ValueError("port must be 1..65535")
    if not 0 < len(beacon.peer_id) <= _PLAIN_BYTES - _HEAD.size:
        raise ValueError("peer id too long for a beacon")
    plain = _HEAD.pack(BEACON_VERSION, now // BEACON_STEP, beacon.port, len(beacon.peer_id)) + beacon.peer_id
    nonce = os.urandom(_NONCE) if nonce is None else nonce
    return nonce + bindings.crypto_secretbox(plain.ljust(_PLAIN_BYTES, b"\0"), nonce, key)


def open_beacon(key: bytes, datagram: bytes, *, now: int) -> Beacon:
    """Open a datagram from the LAN.

    Raises:
        DecodeError: Not a beacon of this swarm (wrong length, wrong key,
            tampered), another version, stale or from the future, or malformed inside.
    """
    if len(datagram) != BEACON_BYTES:
        raise DecodeError(f"beacon must be {BEACON_BYTES} bytes, got {len(datagram)}")
    try:
        plain = bindings.crypto_secretbox_open(datagram[_NONCE:], datagram[:_NONCE], key)
    except CryptoError:
        raise DecodeError("not a beacon of this swarm") from None
    version, step, port, length = _HEAD.unpack_from(plain)
    if version != BEACON_VERSION:
        raise DecodeError(f"beacon version {version} is not {BEACON_VERSION}")
    if abs(step - now // BEACON_STEP) > 1:
        raise DecodeError("stale beacon")
    peer_id = plain[_HEAD.size : _HEAD.size + length]
    if port == 0 or length == 0 or len(peer_id) != length or any(plain[_HEAD.size + length :]):
        raise DecodeError("malformed beacon")
    return Beacon(port, peer_id)
