"""Finding members of a swarm on the same network, by encrypted multicast beacons (docs/nat.md, "LAN").

Each running swarm host sends a beacon (``protocol.seal_beacon``) to a
link-local multicast group now and then, and listens for its swarm's beacons
from others; one that opens under its swarm's key names a member's port and
peer id, dialled at the datagram's source address.  A stranger on the LAN
sees a fixed-size datagram of random bytes each minute or so: that some
program runs here, not which swarm, nor that two beacons come from one node.

A node that listens only on loopback has no LAN and sends nothing.  Nothing
here can take the host down: a socket that cannot be opened turns LAN
discovery off for this run, with one log line; a bad datagram is ignored.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
from collections.abc import Callable

import trio
from libp2p.peer.id import ID

import protocol

from ._bucket import Rate, TokenBucket
from ._host import SwarmHost
from ._stream import SwarmConnectError

__all__ = ["LAN_GROUP", "LAN_PORT", "LanFinder"]

log = logging.getLogger(__name__)

LAN_GROUP = "239.192.80.78"  # organisation-local scope (RFC 2365); sent with TTL 1, so it stays on the link
LAN_PORT = 41787
INTERVAL = 60.0  # seconds between beacons, jittered by a fifth either way
REDIAL_AFTER = 30.0  # seconds before a peer heard again is dialled again
HEARD = Rate(rate=20.0, burst=50.0)  # datagrams tried per second: a flood of them costs one key try each


class LanFinder:
    """The LAN beacons of one swarm host.

    Args:
        host: The swarm's running host.
        psk: The swarm's key; the beacon key is derived from it.
        port: The TCP port the host listens on (what the beacon names).
        listen_ip: Where the host listens: the interface beacons go out of,
            or every interface for ``0.0.0.0``.
        now: The current Unix time (beacons carry a coarse step of it).
    """

    def __init__(self, host: SwarmHost, psk: bytes, port: int, listen_ip: str, now: Callable[[], int]) -> None:
        self._host = host
        self._key = protocol.beacon_key(psk)
        self._port = port
        self._iface = listen_ip
        self._now = now
        self._peer = b""
        self._dialled: dict[str, float] = {}
        self._heard = TokenBucket(HEARD)
        self.found = 0  # members dialled because a beacon named them

    @staticmethod
    def wanted(listen_ip: str) -> bool:
        """Whether a host listening on ``listen_ip`` has a LAN to look on."""
        return not ipaddress.IPv4Address(listen_ip).is_loopback

    async def run(self) -> None:
        """Send and hear beacons until cancelled."""
        try:
            self._peer = ID.from_base58(self._host.peer_id).to_bytes()
            sock = await self._open()
        except (OSError, ValueError) as exc:
            log.info("LAN discovery off for this swarm: no multicast on %s (%s)", self._iface, exc)
            return
        with sock:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._send_loop, sock)
                await self._hear_loop(sock)

    async def _open(self) -> trio.socket.SocketType:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # Every swarm host of every node on this machine hears the group's port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            await sock.bind(("", LAN_PORT))
            iface = socket.inet_aton(self._iface)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(LAN_GROUP) + iface)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, iface)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        except OSError:
            sock.close()
            raise
        return sock

    async def _send_loop(self, sock: trio.socket.SocketType) -> None:
        beacon = protocol.Beacon(self._port, self._peer)
        while True:
            try:
                await sock.sendto(protocol.seal_beacon(self._key, beacon, now=self._now()), (LAN_GROUP, LAN_PORT))
            except OSError as exc:  # the interface went away for a while: try again next time
                log.debug("LAN beacon not sent: %s", exc)
            await trio.sleep(INTERVAL * random.uniform(0.8, 1.2))

    async def _hear_loop(self, sock: trio.socket.SocketType) -> None:
        while True:
            data, (ip, _) = await sock.recvfrom(2048)
            if len(data) != protocol.BEACON_BYTES or not self._heard.take():
                continue
            try:
                beacon = protocol.open_beacon(self._key, data, now=self._now())
                peer = ID(beacon.peer_id).to_base58()
            except (protocol.DecodeError, ValueError):
                continue  # another swarm's, a stale one, or noise
            if beacon.peer_id == self._peer or peer in self._host.connected_peers():
                continue
            if trio.current_time() < self._dialled.get(peer, -REDIAL_AFTER) + REDIAL_AFTER:
                continue
            self._dialled[peer] = trio.current_time()
            try:
                await self._host.connect(f"/ip4/{ip}/tcp/{beacon.port}/p2p/{peer}")
            except (SwarmConnectError, ValueError) as exc:
                log.info("LAN member %s at %s did not answer: %s", peer, ip, exc)
                continue
            self.found += 1
            log.info("found a member on the LAN at %s", ip)
