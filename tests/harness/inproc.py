"""In-process nodes for tests: a real :class:`p2pnet.node.Node` (real hosts, real SQLite) in the test's trio run."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import trio

import protocol
from p2pnet import api
from p2pnet.api import Home
from p2pnet.net import GossipParams, SwarmHost, open_swarm_host
from p2pnet.node import Node, NodeConfig

from .fakenet import FakeNet

# Peer exchange every half second, so nodes find each other quickly.
FAST_PX = GossipParams(connect_timeout=5.0, peer_exchange_interval=0.5)


def make_node(root: Path, ip: str, **config: Any) -> Node:
    """A node in ``root``, listening on ``ip``; periodic sync off unless asked.

    Its identity is fresh, or the one ``root`` has already: a node made again
    in the same root is the same node, restarted.
    """
    home = Home(root)
    home.create()
    if not home.identity.exists():
        home.write_private(home.identity, protocol.encode_identity_file(os.urandom(32), None))
    config.setdefault("gossip", FAST_PX)
    config.setdefault("sync_interval", 0)
    config.setdefault("lan", False)  # no beacons from a test onto the machine's own network
    config.setdefault("upnp", False)  # nor port mapping requests to the machine's router
    return Node.open(NodeConfig(home, listen_ip=ip, **config))


@asynccontextmanager
async def swarm_hosts(
    *ips: str,
    topic: str,
    params: GossipParams,
    psk: bytes | None = None,
    on_message: Mapping[str, Callable[[bytes], Awaitable[None]]] | None = None,
) -> AsyncIterator[list[SwarmHost]]:
    """A swarm host listening on each of ``ips`` (fresh keys, one PSK), taking every payload; closed after.

    ``on_message`` names the hosts, by IP, that pass on what they receive.
    """
    psk = psk or os.urandom(32)
    async with AsyncExitStack() as stack:
        hosts = []
        for ip in ips:
            host = open_swarm_host(
                host_key_seed=os.urandom(32),
                psk=psk,
                topic=topic,
                validator=lambda data: True,
                on_message=(on_message or {}).get(ip),
                listen_ip=ip,
                params=params,
            )
            hosts.append(await stack.enter_async_context(host))
        yield hosts


@asynccontextmanager
async def running_nodes(*nodes: Node) -> AsyncIterator[tuple[Node, ...]]:
    """Run ``nodes`` for the block; shut them down after."""
    async with trio.open_nursery() as nursery:
        for node in nodes:
            await nursery.start(node.run)
        try:
            yield nodes
        finally:
            for node in nodes:
                node.shutdown()


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking work right here: on a MockClock no worker thread may race the jumping clock."""
    return fn(*args)


def make_fake_node(net: FakeNet, root: Path, n: int, **config: Any) -> Node:
    """A node on the in-memory network ``net``, at 10.0.0.``n`` (or ``listen_ip``), its wall clock tied to trio's."""
    base = int(time.time())
    config.setdefault("clock", lambda: base + trio.current_time())
    ip = config.pop("listen_ip", f"10.0.0.{n}")
    return make_node(root, ip, open_host=net.open_host, offload=inline, **config)


# Stamps of 8 bits take a few hundred hashes: tests stay fast and still prove every stamp is minted and checked.
LOW_DIFFICULTY = 8


async def join(first: Node, others: Sequence[Node], name: str = "friends", difficulty: int = LOW_DIFFICULTY) -> bytes:
    """``first`` creates a swarm and every node of ``others`` joins it by invite; returns the swarm id."""
    created = await first.request(api.SwarmCreate(name=name, difficulty=difficulty))
    for node in others:
        await node.request(api.SwarmJoin(invite=created.invite))
    return protocol.swarm_id(protocol.decode_invite(created.invite, now=first.now()).psk)


@asynccontextmanager
async def fake_nodes(tmp_path: Path, count: int) -> AsyncIterator[tuple[FakeNet, list[Node]]]:
    """``count`` running nodes on a fresh in-memory network, in ``tmp_path``/n0, n1, …"""
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        nodes = [make_fake_node(net, tmp_path / f"n{i}", i + 1) for i in range(count)]
        async with running_nodes(*nodes):
            yield net, nodes
        nursery.cancel_scope.cancel()


def stored(node: Node, ident: str) -> bool:
    """The node's store holds the object with this id (or unique prefix)."""
    return node.store.get(ident) is not None
