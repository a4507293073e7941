"""The connections of one swarm host: since when, which way, from where; and closing what the guard bans.

The stem picks relays only among peers this host dialled itself, longest
connected first (protocol.md, section 11.3); the guard needs each peer's
address to count bans against it.  py-libp2p knows a connection's direction
and remote address; when a peer connected is ours to remember.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import multiaddr
import trio
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.peer.id import ID
from libp2p.rcmgr import Direction

from ._guard import Ban, Guard
from ._stream import remote_ip

__all__ = ["ConnectionEvents", "Connections"]

logger = logging.getLogger(__name__)


class ConnectionEvents(INotifee):
    """A notifee of connections alone: stream and listen events are ignored."""

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass  # connections only

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass  # connections only

    async def listen(self, network: INetwork, addr: multiaddr.Multiaddr) -> None:
        pass  # connections only

    async def listen_close(self, network: INetwork, addr: multiaddr.Multiaddr) -> None:
        pass  # connections only


class Connections(ConnectionEvents):
    """Connection events of one host, and what they tell.

    Args:
        host: The libp2p host.
        guard: The node's ban list; a new ban closes the connections it names.
        spawn: Starts a task in the host's nursery.
    """

    def __init__(self, host: IHost, guard: Guard, spawn: Callable[[Callable[[], Awaitable[Any]]], None]) -> None:
        self._host = host
        self._guard = guard
        self._spawn = spawn
        self.callbacks: list[Callable[[str], None]] = []
        self._since: dict[str, float] = {}
        self._ips: dict[str, str] = {}

    def outbound(self) -> list[str]:
        """Peers we hold a connection to that we dialled, longest connected first."""
        network = self._host.get_network()
        out = []
        for pid, conns in list(network.connections.items()):
            if any(getattr(c, "direction", None) == Direction.OUTBOUND and not c.is_closed for c in conns):
                out.append(str(pid))
        return sorted(out, key=lambda p: (self._since.get(p, trio.current_time()), p))

    def ip_of(self, peer_id: str) -> str | None:
        """The address a connected (or lately connected) peer talks to us from."""
        return self._ips.get(peer_id)

    def banned(self, ban: Ban) -> None:
        """Close every connection a new ban names."""
        for pid in list(self._since):
            if pid == ban.peer_id or (ban.peer_id is None and self._ips.get(pid) == ban.ip):
                self._spawn(partial(self._close, pid))

    async def _close(self, peer_id: str) -> None:
        with contextlib.suppress(Exception):
            await self._host.get_network().close_peer(ID.from_base58(peer_id))

    # -- INotifee ----------------------------------------------------------------------

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        peer = str(conn.muxed_conn.peer_id)
        ip = remote_ip(conn.muxed_conn)
        if ip is not None:
            self._ips[peer] = ip
        self._since.setdefault(peer, trio.current_time())
        if self._guard.banned(peer, ip) is not None:
            # Admission refuses these at the handshake; one that got in before its ban goes now.
            await self._close(peer)
            return
        for callback in self.callbacks:
            try:
                callback(peer)
            except Exception:
                logger.exception("connect callback failed")

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        peer = conn.muxed_conn.peer_id
        if not network.get_connections(peer):
            self._since.pop(str(peer), None)
            self._ips.pop(str(peer), None)
