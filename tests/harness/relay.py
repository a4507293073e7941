"""Circuit relay v2 between stock py-libp2p hosts in one private network, with p2pnet's fixes (docs/nat.md).

The fixes live in p2pnet (``p2pnet.net._relay``): :class:`LabelledPskConn`
puts the dialler's relayed connection in the PSK and keeps its label, and
``protect`` puts the PSK on once per connection (installed process-wide by
``p2pnet.net.libp2p_patches.install``).  Here they are applied to stock hosts,
for tests/test_libp2p_relay.py and the network lab.
"""

from __future__ import annotations

from typing import Any

from libp2p.abc import IHost
from libp2p.peer.peerinfo import PeerInfo
from libp2p.relay.circuit_v2 import CircuitV2Protocol, CircuitV2Transport
from libp2p.relay.circuit_v2.config import RelayConfig, RelayRole

from p2pnet.net import libp2p_patches
from p2pnet.net._relay import LabelledPskConn

__all__ = ["LabelledPskConn", "psk_once_per_connection", "psk_relay_transport"]


def psk_relay_transport(host: IHost, protocol: CircuitV2Protocol, psk: str | None) -> CircuitV2Transport:
    """A relay client transport for ``host``; with ``psk`` None, stock py-libp2p."""
    transport = CircuitV2Transport(host, protocol, RelayConfig(roles=RelayRole.STOP | RelayRole.CLIENT))
    if psk is not None:
        stock = transport.dial_peer_info

        async def dial_peer_info(dest_info: PeerInfo, *, relay_info: PeerInfo | None = None) -> Any:
            return LabelledPskConn(await stock(dest_info, relay_info=relay_info), psk)

        transport.dial_peer_info = dial_peer_info  # type: ignore[method-assign]
    return transport


def psk_once_per_connection() -> None:
    """Install p2pnet's py-libp2p patches in this process, the PSK once per connection among them."""
    libp2p_patches.install()
