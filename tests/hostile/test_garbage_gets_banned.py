"""A peer that sends garbage stem frames, or garbage in sync, is banned, and stays banned.

A few offences are forgiven (a bug, a version skew); the sixth in a burst bans
the peer id (docs/gossip-notes.md, "Defences").  The ban closes its
connection, refuses it when it comes back with the same id, and is stored, so
a restarted node refuses it too.  On the in-memory network and a MockClock
(the same node code as a daemon; the real-host and daemon tests in
test_bans_stick.py show the refusal at the handshake).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path

import pytest
import trio
import trio.testing
from _attacker import fake_attacker
from harness.fakenet import FakeHost, FakeNet
from harness.inproc import join, make_fake_node, running_nodes
from harness.polling import until

import protocol
from p2pnet import api
from p2pnet.net import STEM_PROTOCOL, SYNC_PROTOCOL, StreamError, SwarmConnectError
from p2pnet.node import Node


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def garbage_stem(evil: FakeHost, target: str) -> None:
    async with evil.open_stream(target, STEM_PROTOCOL) as stream:
        await stream.send(b"\x01" + b"\x00" * 256)  # the right size, but no object


async def garbage_sync(evil: FakeHost, target: str) -> None:
    await trio.sleep(16)  # a peer may start 4 sessions, then one per 15 s: the rest get BUSY, unread
    async with evil.open_stream(target, SYNC_PROTOCOL) as stream:
        await stream.send(b"\x01\x09")  # no such frame type
        with suppress(StreamError):
            await stream.receive(1 << 20)


async def oversized_stem(evil: FakeHost, target: str) -> None:
    async with evil.open_stream(target, STEM_PROTOCOL) as stream:
        await stream.send(b"\x01" + bytes(protocol.MAX_STEM_FRAME))


async def oversized_sync(evil: FakeHost, target: str) -> None:
    await trio.sleep(16)
    async with evil.open_stream(target, SYNC_PROTOCOL) as stream:
        await stream.send(bytes(protocol.SyncLimits().max_frame + 1))
        with suppress(StreamError):
            await stream.receive(1 << 20)


# name: (the reason its ban gives, one offence)
ATTACKS: dict[str, tuple[str, Callable[[FakeHost, str], Awaitable[None]]]] = {
    "stem": ("stem", garbage_stem),
    "sync": ("sync", garbage_sync),
    "oversized stem": ("stem", oversized_stem),
    "oversized sync": ("sync", oversized_sync),
}


def banned(node: Node, peer: str) -> bool:
    return any(b.peer_id == peer for b in node.guard.active())


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_garbage_gets_the_peer_banned_across_reconnects_and_restarts(
    tmp_path: Path, clock: trio.testing.MockClock, attack: str
) -> None:
    reason, offend = ATTACKS[attack]
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        a, b = make_fake_node(net, tmp_path / "a", 1), make_fake_node(net, tmp_path / "b", 2)
        async with running_nodes(a, b):
            await join(a, [b])
            target = next(iter(a.swarms.running.values())).host
            evil = fake_attacker(net, a)
            await evil.connect(target.listen_addrs[0])
            offences = a.guard.params.offences
            for _ in range(offences):  # forgiven: a bug, a version skew
                await offend(evil, target.peer_id)
            await trio.sleep(1)
            assert not banned(a, "FakeEvil") and "FakeEvil" in target.connected_peers()
            await offend(evil, target.peer_id)
            await until(lambda: banned(a, "FakeEvil"), "the offender to be banned")
            ban = a.guard.banned("FakeEvil")
            assert ban is not None and ban.reason == reason and ban.ip == "10.6.6.6"
            assert "FakeEvil" not in target.connected_peers()
            # Back with the same id: refused.
            with pytest.raises(SwarmConnectError):
                await evil.connect(target.listen_addrs[0])
            peers = await a.request(api.Peers())
            assert [(x.peer_id, x.reason) for x in peers.bans] == [("FakeEvil", reason)]
            assert (await a.request(api.Status())).bans == 1
            # The honest member is still there.
            assert b.swarms.running[next(iter(b.swarms.running))].host.peer_id in target.connected_peers()
        # The node restarts: the ban comes back from its store.
        again = make_fake_node(net, tmp_path / "a", 1)
        async with running_nodes(again):
            assert banned(again, "FakeEvil")
            host = next(iter(again.swarms.running.values())).host
            with pytest.raises(SwarmConnectError):
                await evil.connect(host.listen_addrs[0])
            assert "FakeEvil" not in host.connected_peers()
        nursery.cancel_scope.cancel()


async def test_an_honest_peer_is_forgiven_over_time(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    """One bad frame every ten minutes (the offence bucket's refill) never adds up to a ban."""
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        a = make_fake_node(net, tmp_path / "a", 1)
        async with running_nodes(a):
            await a.request(api.SwarmCreate(name="friends", difficulty=8))
            target = next(iter(a.swarms.running.values())).host
            evil = fake_attacker(net, a)
            await evil.connect(target.listen_addrs[0])
            for _ in range(3 * a.guard.params.offences):
                await garbage_stem(evil, target.peer_id)
                await trio.sleep(a.guard.params.forgive)
            assert not banned(a, "FakeEvil") and "FakeEvil" in target.connected_peers()
        nursery.cancel_scope.cancel()


def test_the_stem_frame_sent_is_garbage() -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(protocol.decode_stem(b"\x01" + b"\x00" * 256))
