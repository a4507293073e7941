"""A swarm split in two halves that post apart, then heal by one link.

The scenario the partition test checks and ``bench/partition.py`` times, on
four real daemons: the halves {0, 1} and {2, 3} know only each other's
addresses, and the first node of each half posts.  Then node 1 learns one
address of node 2 and restarts (a laptop reopened on another network), and
the halves meet through that one link: sync on connect, periodic sync and
peer exchange must bring every post to every node.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from p2pnet.store import Store

from .daemons import DaemonProcess, join_swarm, post_in_thread, running
from .polling import wait_for


@dataclass
class Healing:
    """The swarm just after the halves met.

    Attributes:
        nodes: The four daemons, all running.
        everything: Every post id either half was told was posted.
        since: ``time.monotonic()`` when node 1 came back with the link.
    """

    nodes: list[DaemonProcess]
    everything: set[str]
    since: float

    def healed(self) -> bool:
        """Every node holds every post."""
        return all(self.everything <= node.stored_ids() for node in self.nodes)


@contextmanager
def partition(nodes: list[DaemonProcess], posts: int, *, settle: bool = True) -> Iterator[Healing]:
    """Run ``nodes`` (four, with identities, stopped) apart, then heal them; stop them all after.

    Args:
        nodes: Four daemons.
        posts: Posts each half makes while apart.
        settle: Heal only once both authors hold nothing back (every post has
            left its stem).  Without it node 1 restarts while it is still
            relaying some of node 0's posts; those are lost with it and come
            back only when node 0's embargo fluffs them, so the heal time then
            includes the stem's embargo.
    """
    assert len(nodes) == 4
    halves = (nodes[:2], nodes[2:])
    with running(*nodes):
        for node in nodes:
            node.start()
        join_swarm(nodes[0], nodes[1:])
        rows = {node.home.name: _peer_row(node) for node in nodes}
        for node in nodes:
            node.stop()
        for half in halves:
            for node in half:
                _forget_peers(node)
                for mate in half:
                    if mate is not node:
                        _add_peer(node, rows[mate.home.name])
        for node in nodes:
            node.start()
        for half in halves:
            for node in half:
                wait_for(lambda node=node: node.call("status")["swarms"][0]["peers"] >= 1, what="a half to connect")
        acked: list[list[str]] = [[], []]
        threads = [post_in_thread(half[0], f"half {h}", posts, acked[h]) for h, half in enumerate(halves)]
        for thread in threads:
            thread.join()
        if settle:
            for half in halves:
                wait_for(lambda a=half[0]: a.call("status")["counts"]["held"] == 0, what="every post off its stem")
        # apart: neither half has the other's posts
        assert not set(acked[1]) & nodes[0].stored_ids() and not set(acked[0]) & nodes[2].stored_ids()
        nodes[1].stop()
        _add_peer(nodes[1], rows[nodes[2].home.name])
        nodes[1].start()
        yield Healing(nodes, set(acked[0]) | set(acked[1]), time.monotonic())


def _peer_row(node: DaemonProcess) -> tuple[str, list[str]]:
    swarm = node.call("swarm.list")["swarms"][0]
    return swarm["peer_id"], swarm["addrs"]


def _forget_peers(node: DaemonProcess) -> None:
    """Drop every remembered peer (the node is stopped)."""
    with sqlite3.connect(node.home / "node.sqlite3") as db:
        db.execute("DELETE FROM peers")


def _add_peer(node: DaemonProcess, peer: tuple[str, list[str]]) -> None:
    with Store.open(node.home / "node.sqlite3") as store:
        store.save_peer(store.swarms()[0].raw_id, peer[0], peer[1], int(time.time()))
