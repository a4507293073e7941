"""Circuit relay v2 between members of one private network, as p2pnet will run it (docs/nat.md).

Stock py-libp2p 0.8.1 puts the swarm's PSK on the listener's side of a
relayed connection and not on the dialler's, so the two never agree; and its
``PskConn`` forgets what it wraps (no transport addresses, no connection
type), so the swarm then labels the connection with the peer's stored
addresses and DCUtR takes a relayed connection for a direct one.  The
transport here wraps the dialler's relayed connection in the PSK and keeps
its label; :func:`psk_once_per_connection` fixes the hole-punched side.
Used by tests/test_libp2p_relay.py and the network lab.
"""

from __future__ import annotations

from typing import Any

import libp2p.network.swarm
from libp2p.abc import IHost
from libp2p.connection_types import ConnectionType
from libp2p.peer.peerinfo import PeerInfo
from libp2p.relay.circuit_v2 import CircuitV2Protocol, CircuitV2Transport
from libp2p.relay.circuit_v2.config import RelayConfig, RelayRole
from libp2p.security.pnet.psk_conn import PskConn

__all__ = ["RelayedPskConn", "psk_once_per_connection", "psk_relay_transport"]


class RelayedPskConn(PskConn):
    """A relayed connection in the swarm's PSK that still says it is relayed, and through which circuit."""

    def get_transport_addresses(self) -> list[Any]:
        return list(self._conn.get_transport_addresses())

    def get_connection_type(self) -> ConnectionType:
        return ConnectionType.RELAYED


def psk_relay_transport(host: IHost, protocol: CircuitV2Protocol, psk: str | None) -> CircuitV2Transport:
    """A relay client transport for ``host``; with ``psk`` None, stock py-libp2p."""
    transport = CircuitV2Transport(host, protocol, RelayConfig(roles=RelayRole.STOP | RelayRole.CLIENT))
    if psk is not None:
        stock = transport.dial_peer_info

        async def dial_peer_info(dest_info: PeerInfo, *, relay_info: PeerInfo | None = None) -> Any:
            return RelayedPskConn(await stock(dest_info, relay_info=relay_info), psk)

        transport.dial_peer_info = dial_peer_info  # type: ignore[method-assign]
    return transport


def psk_once_per_connection() -> None:
    """Patch this process's py-libp2p so a hole-punched connection is not put in the PSK twice.

    ``Swarm.dial_addr_as_responder`` (the side DCUtR makes the responder of a
    TCP simultaneous open) wraps its raw connection in the PSK and then hands
    it to ``upgrade_inbound_raw_conn``, which wraps it again; the two sides
    then never agree and the punched connection dies in the security upgrade.
    """
    stock = libp2p.network.swarm.new_protected_conn

    def once(conn: Any, psk: str) -> Any:
        return conn if isinstance(conn, PskConn) else stock(conn, psk)

    libp2p.network.swarm.new_protected_conn = once  # type: ignore[assignment]
