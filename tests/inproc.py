"""In-process nodes for tests: a real :class:`p2pnet.node.Node` (real hosts, real SQLite) in the test's trio run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

import protocol
from p2pnet.api import Home
from p2pnet.net import GossipParams
from p2pnet.node import Node, NodeConfig

# Peer exchange every half second, so nodes find each other quickly.
FAST_PX = GossipParams(connect_timeout=5.0, peer_exchange_interval=0.5)


def make_node(root: Path, ip: str, **config: Any) -> Node:
    """A node with a fresh identity in ``root``, listening on ``ip``; periodic sync off unless asked."""
    home = Home(root)
    home.create()
    home.write_private(home.identity, protocol.encode_identity_file(os.urandom(32), None))
    config.setdefault("gossip", FAST_PX)
    config.setdefault("sync_interval", 0)
    return Node(NodeConfig(home, listen_ip=ip, **config))


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
