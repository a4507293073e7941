"""What the hostile tests share: valid stamped objects an attacker can make, and a raw host of its own."""

from __future__ import annotations

import os
import time
from contextlib import AbstractAsyncContextManager

from harness.fakenet import FakeHost, FakeNet

import protocol
from p2pnet.net import GossipParams, SwarmHost, open_swarm_host
from p2pnet.node import Node


def stamped_posts(count: int, difficulty: int, *, size: int = 10, now: int | None = None) -> list[protocol.Signed]:
    """``count`` valid posts, each with a fresh key and a stamp of ``difficulty`` bits: what an attacker pays for."""
    now = int(time.time()) if now is None else now
    out = []
    for i in range(count):
        signed = protocol.make_post(os.urandom(32), f"flood {i} " + "x" * size, now=now)
        stamp = protocol.mint_stamp(signed.id, difficulty)
        assert stamp is not None
        out.append(signed.with_stamp(stamp))
    return out


def raw_host(psk: bytes, ip: str, seed: bytes | None = None) -> AbstractAsyncContextManager[SwarmHost]:
    """A real libp2p host in the swarm of ``psk`` at ``ip`` that forwards anything and dials no one by itself."""
    return open_swarm_host(
        host_key_seed=os.urandom(32) if seed is None else seed,
        psk=psk,
        topic="p2pnet/v1/" + protocol.swarm_id(psk).hex(),
        validator=lambda data: True,
        listen_ip=ip,
        params=GossipParams(connect_timeout=5.0, target_peers=0),
    )


def fake_attacker(net: FakeNet, node: Node) -> FakeHost:
    """A raw host on the in-memory network, in ``node``'s swarm (it holds the key), at its own address."""
    runtime = next(iter(node.swarms.running.values()))
    return net.host("FakeEvil", psk=runtime.psk, addr="/ip4/10.6.6.6/tcp/4001/p2p/FakeEvil")
