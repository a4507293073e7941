"""Stock py-libp2p peers for hostile tests: what an attacker holding an invite key runs.

Nothing of p2pnet's own host code runs here (none of its validation, none of
its fixes), so what these peers send is what any libp2p implementation could.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import libp2p.peer.peerdata
import multiaddr
import pytest
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service


class _ShiftedTime:
    """Stands in for the ``time`` module of py-libp2p's peer data: its clock runs ``ahead`` seconds fast."""

    def __init__(self, ahead: float) -> None:
        self.ahead = ahead

    def time(self) -> float:
        return time.time() + self.ahead


def move_peerstore_clock(monkeypatch: pytest.MonkeyPatch, ahead: float) -> None:
    """Run the clock of every py-libp2p peerstore ``ahead`` seconds fast for the rest of the test.

    Its TTLs are wall time; moving the clock expires them without waiting.
    """
    monkeypatch.setattr(libp2p.peer.peerdata, "time", _ShiftedTime(ahead))


def dead_port(ip: str) -> int:
    """A TCP port on ``ip`` that nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((ip, 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def open_stock_peer(
    psk: bytes | None,
    *,
    topic: str,
    ip: str,
    strict_signing: bool = False,
    announce: list[str] | None = None,
    pubsub_cls: type[Pubsub] = Pubsub,
) -> AsyncIterator[tuple[Any, Pubsub]]:
    """A stock py-libp2p host + Pubsub + GossipSub on ``ip``, subscribed to ``topic``.

    Args:
        psk: The swarm key (None: no private network).
        topic: The gossip topic to join.
        ip: Loopback address to listen on.
        strict_signing: Stock pubsub signing (writes `from`, seqno and a signature).
        announce: Multiaddrs to advertise instead of the listen address, in the
            signed peer record every pubsub RPC carries; what a member behind
            NAT advertises when it names its private address.
        pubsub_cls: Pubsub or a subclass, to record or tamper with traffic.
    """
    host = new_host(
        key_pair=create_new_key_pair(os.urandom(32)),
        psk=psk.hex() if psk is not None else None,
        announce_addrs=[multiaddr.Multiaddr(a) for a in announce] if announce else None,
    )
    router = GossipSub([PROTOCOL_ID_V12, PROTOCOL_ID_V11], 6, 5, 12, heartbeat_interval=1)
    pubsub = pubsub_cls(host, router, strict_signing=strict_signing)
    async with (
        host.run([multiaddr.Multiaddr(f"/ip4/{ip}/tcp/0")]),
        background_trio_service(pubsub),
        background_trio_service(router),
    ):
        await pubsub.wait_until_ready()
        await pubsub.subscribe(topic)
        try:
            yield host, pubsub
        finally:
            with trio.CancelScope(shield=True):
                await host.close()  # host.run() alone leaks dialed sockets
