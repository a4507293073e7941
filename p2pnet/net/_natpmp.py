"""A NAT-PMP client (RFC 6886): the router's external address, and TCP port mappings for a lease.

Used by :class:`p2pnet.net._upnp.PortMapper` when no UPnP-IGD gateway answers
or the one that does will not map (docs/nat.md, "NAT-PMP").  Requests go over
UDP to port 5351 of the default gateway; each is sent again after 250 ms,
then 500 ms, ..., ``TRIES`` times in all (the RFC's nine tries over a minute
would hold a silent LAN's answer up for as long).  The socket is connected to
the gateway, so the kernel drops datagrams from anyone else (section 3.1);
a reply that is short, of another version or opcode is logged and ignored.
The epoch field (section 3.6) is not read: the mapper renews at half the
lease anyway, which puts back whatever a rebooted router lost.
"""

from __future__ import annotations

import logging
import socket
import struct
from pathlib import Path

import trio

__all__ = [
    "PORT",
    "RESULTS",
    "NatPmpError",
    "default_gateway",
    "external_address",
    "external_request",
    "map_request",
    "map_tcp",
]

log = logging.getLogger(__name__)

PORT = 5351  # the gateway's NAT-PMP port (section 3)
TRIES = 4  # 250 + 500 + 1000 + 2000 ms
FIRST_WAIT = 0.25
_OP_EXTERNAL, _OP_MAP_TCP, _REPLY = 0, 2, 128
_HEAD = struct.Struct("!BBHI")  # version, opcode, result code, seconds since the router's epoch
_MAPPED = struct.Struct("!HHI")  # internal port, external port, lifetime

RESULTS = {  # section 3.5
    1: "unsupported version",
    2: "not authorized or refused (NAT-PMP may be off on the router)",
    3: "network failure (the router has no external address)",
    4: "out of resources",
    5: "unsupported opcode",
}


class NatPmpError(Exception):
    """The gateway answered with a result code other than success; the message is the RFC's meaning."""

    def __init__(self, code: int) -> None:
        super().__init__(f"NAT-PMP result {code}: {RESULTS.get(code, 'unknown')}")
        self.code = code


def external_request() -> bytes:
    return bytes([0, _OP_EXTERNAL])


def map_request(port: int, external: int, lifetime: int) -> bytes:
    """Map TCP ``port`` here to ``external`` outside for ``lifetime`` seconds; lifetime 0 and external 0 removes it."""
    return struct.pack("!BBHHHI", 0, _OP_MAP_TCP, 0, port, external, lifetime)


def default_gateway(route: Path = Path("/proc/net/route")) -> str | None:
    """The IPv4 default route's gateway in this network namespace, or None."""
    try:
        lines = route.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # Iface Destination Gateway Flags ...; addresses are little-endian hex, flag 0x2 is RTF_GATEWAY.
        if len(fields) > 3 and fields[1] == "00000000" and int(fields[3], 16) & 0x2:
            return socket.inet_ntoa(struct.pack("<I", int(fields[2], 16)))
    return None


async def _ask(gateway: tuple[str, int], request: bytes, size: int) -> bytes | None:
    """The gateway's reply to ``request`` (its header checked), or None when it never answers."""
    opcode = request[1] + _REPLY
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            await sock.connect(gateway)
            for attempt in range(TRIES):
                await sock.send(request)
                with trio.move_on_after(FIRST_WAIT * 2**attempt):
                    while True:
                        reply = await sock.recv(1100)
                        if len(reply) >= _HEAD.size:
                            version, op, result, _ = _HEAD.unpack_from(reply)
                            if (version, op) == (0, opcode) and (result or len(reply) >= size):
                                return reply
                        log.info("NAT-PMP: ignored a malformed reply from %s: %s", gateway[0], reply[:16].hex())
        except OSError as exc:  # nothing listens there (ICMP unreachable), or no route
            log.debug("NAT-PMP: %s does not answer: %s", gateway[0], exc)
    return None


def _result(reply: bytes) -> None:
    result = _HEAD.unpack_from(reply)[2]
    if result:
        raise NatPmpError(result)


async def external_address(gateway: tuple[str, int]) -> str | None:
    """The router's external IPv4 address; None when nothing answers. Raises NatPmpError on a refusal."""
    reply = await _ask(gateway, external_request(), _HEAD.size + 4)
    if reply is None:
        return None
    _result(reply)
    return socket.inet_ntoa(reply[_HEAD.size : _HEAD.size + 4])


async def map_tcp(gateway: tuple[str, int], port: int, lifetime: int) -> tuple[int, int] | None:
    """Ask for TCP ``port`` outside to reach ``port`` here: the (external port, lifetime) granted.

    The router may grant another external port or a shorter lifetime; lifetime 0 removes the
    mapping. None when nothing answers; raises NatPmpError on a refusal.
    """
    reply = await _ask(gateway, map_request(port, port if lifetime else 0, lifetime), _HEAD.size + _MAPPED.size)
    if reply is None:
        return None
    _result(reply)
    _, external, granted = _MAPPED.unpack_from(reply, _HEAD.size)
    return external, granted
