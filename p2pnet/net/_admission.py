"""Who may connect, and how much: py-libp2p's resource manager, told about bans and addresses.

py-libp2p 0.8.1 asks its resource manager (``libp2p.rcmgr``) to admit every
connection twice: before the handshake with only the remote address, and
after it with the peer id too (``network/swarm.py``, ``open_connection``);
and every inbound stream (``acquire_stream``).  Its own checks are global
counts, a per-peer connection rate and a per-peer cap on established
connections, which we keep.  It has no cap per address (its CIDR limiter
counts whole configured networks) and no cap on one peer's inbound streams,
and knows nothing of bans: :class:`Admission` adds those three.
"""

from __future__ import annotations

import collections
import logging
from typing import Any

from libp2p.rcmgr import Direction, ResourceManager
from libp2p.rcmgr.connection_limits import new_connection_limits_with_defaults

from ._guard import Guard
from ._params import GossipParams

__all__ = ["Admission"]

log = logging.getLogger(__name__)


class Admission(ResourceManager):
    """The resource manager of one swarm host.

    Args:
        guard: The node's ban list: a banned address is refused before the
            handshake, a banned peer id right after it.
        params: ``max_inbound_per_ip``, ``max_conns_per_peer`` and
            ``max_inbound_streams_per_peer`` apply.
    """

    def __init__(self, guard: Guard, params: GossipParams) -> None:
        limits = new_connection_limits_with_defaults().with_max_established_per_peer(params.max_conns_per_peer)
        super().__init__(
            connection_limits=limits,
            # Neither is about a peer: a breaker that opens after errors, and
            # "degradation" that lowers global limits, would refuse everyone.
            enable_circuit_breaker=False,
            enable_graceful_degradation=False,
            enable_metrics=False,
        )
        self._guard = guard
        self._params = params
        self.inbound_by_ip: collections.Counter[str] = collections.Counter()
        self._streams: collections.Counter[str] = collections.Counter()
        self.refused: collections.Counter[str] = collections.Counter()  # why, for tests and logs

    def open_connection(
        self, peer_id: Any | None = None, endpoint_ip: str | None = None, direction: str = "inbound"
    ) -> Any:
        # py-libp2p passes an un-awaited coroutine as the outbound pre-handshake
        # address (swarm.py extract_ip_from_multiaddr); only a string is one.
        ip = endpoint_ip if isinstance(endpoint_ip, str) else None
        pid = str(peer_id) if peer_id is not None else None
        if self._guard.banned(pid, ip) is not None:
            self.refused["banned"] += 1
            log.debug("refused %s from %s: banned", pid, ip)
            return None
        if direction == "inbound" and ip is not None and self.inbound_by_ip[ip] >= self._params.max_inbound_per_ip:
            self.refused["ip"] += 1
            log.info("refused a connection from %s: %d inbound already", ip, self.inbound_by_ip[ip])
            return None
        scope = super().open_connection(peer_id, endpoint_ip=ip, direction=direction)
        if scope is None or direction != "inbound" or ip is None or pid is None:
            return scope  # the address counts once the handshake names the peer, not during it
        self.inbound_by_ip[ip] += 1
        close = scope.close

        def release(ip: str = ip) -> None:
            if not scope.closed:
                self.inbound_by_ip[ip] -= 1
                if self.inbound_by_ip[ip] <= 0:
                    del self.inbound_by_ip[ip]
            close()

        scope.close = release  # type: ignore[method-assign]
        return scope

    def acquire_stream(self, peer_id: str, direction: Direction) -> bool:
        if direction == Direction.INBOUND:
            if self._streams[peer_id] >= self._params.max_inbound_streams_per_peer:
                self.refused["streams"] += 1
                return False
            if not super().acquire_stream(peer_id, direction):
                return False
            self._streams[peer_id] += 1
            return True
        return super().acquire_stream(peer_id, direction)

    def release_stream(self, peer_id: str, direction: Direction) -> None:
        if direction == Direction.INBOUND and self._streams[peer_id] > 0:
            self._streams[peer_id] -= 1
            if not self._streams[peer_id]:
                del self._streams[peer_id]
        super().release_stream(peer_id, direction)
