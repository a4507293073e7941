"""The stem on trio: embargo, relay replacement and epochs on a MockClock; then real hosts and daemons.

The MockClock tests run :class:`p2pnet.net._stem.StemRelay` over an in-memory
network of fake hosts (same interface as SwarmHost), so ten minutes of epoch
pass in no time.  The real-host tests use 127.0.3.x only.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from harness.daemons import DaemonProcess, start_node
from harness.fakenet import FakeHost, FakeNet
from harness.polling import wait_for
from test_net import TOPIC

import protocol
from p2pnet.net import STEM_PROTOCOL, GossipParams, StemRelay, StreamError, open_swarm_host

pytestmark = pytest.mark.trio

NOW = 1_763_700_000
PARAMS = protocol.StemParams()


def make_wire(i: int, length: int = 10) -> protocol.Signed:
    return protocol.make_post(os.urandom(32), f"{i:04d} " + "x" * length, now=NOW)


def check(wire: bytes) -> protocol.Signed | None:
    return protocol.decode(wire)


# -- on the in-memory network (tests/fakenet.py) ------------------------------------------------


def relay_on(host: FakeHost, seed: int, released: list[bytes] | None = None, **kw: Any) -> StemRelay:
    relay = StemRelay(
        host,  # type: ignore[arg-type]
        check=check,
        released=(released.append if released is not None else lambda oid: None),
        rng=random.Random(seed),
        **kw,
    )
    relay.start()
    host.relay = relay
    return relay


def black_hole(host: FakeHost) -> None:
    """A peer that accepts stem frames and never does anything with them."""

    async def swallow(stream: Any) -> None:
        while True:
            try:
                await stream.receive(protocol.MAX_STEM_FRAME)
            except StreamError:
                return

    host.serve(STEM_PROTOCOL, swallow)


@asynccontextmanager
async def fake_net() -> AsyncIterator[FakeNet]:
    async with trio.open_nursery() as nursery:
        yield FakeNet(nursery)
        nursery.cancel_scope.cancel()


async def settle() -> None:
    await trio.sleep(1.0)  # MockClock jumps; lets every task run to its next sleep


@pytest.fixture
def mock_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.01)


# -- MockClock: embargo, replacement, epochs -------------------------------------------


async def test_black_holed_stem_still_delivers_through_the_embargo(mock_clock: trio.testing.MockClock) -> None:
    async with fake_net() as net:
        released: list[bytes] = []
        a = relay_on(net.host("a"), 1, released)
        black_hole(net.host("hole"))
        net.link("a", "hole")
        post = make_wire(1)
        start = trio.current_time()
        a.originate(post)
        await trio.sleep(PARAMS.embargo_min - 1)
        assert net.published == [] and released == []  # still on its (dead) stem
        await trio.sleep(600)
        assert [(who, wire) for who, wire, _ in net.published] == [("a", post.wire)]
        assert released == [post.id]
        assert net.published[0][2] - start >= PARAMS.embargo_min
        assert a.stats["embargo"] == 1 and not a.pending


async def test_a_stem_relay_that_disconnects_is_replaced(mock_clock: trio.testing.MockClock) -> None:
    async with fake_net() as net:
        a = relay_on(net.host("a"), 2)
        for name in ("b", "c", "d"):
            black_hole(net.host(name))
            net.link("a", name)
        a.originate(make_wire(1))
        await settle()
        first = net.stems[-1][1]
        net.unlink("a", first)
        a.originate(make_wire(2))
        await settle()
        second = net.stems[-1][1]
        assert second != first and first not in a.state.routes.relays
        for i in range(3, 10):  # the replacement holds for the rest of the epoch
            a.originate(make_wire(i))
            await settle()
            assert net.stems[-1][1] == second


async def test_routes_hold_for_an_epoch(mock_clock: trio.testing.MockClock) -> None:
    async with fake_net() as net:
        names = ["a", "b", "c", "d", "e"]
        for name in names:
            black_hole(net.host(name))
        relay = relay_on(net.host("r"), 3, params=protocol.StemParams(fluff_probability=0.0))
        for name in names:
            net.link("r", name)

        async def from_each(i: int) -> dict[str, str]:
            """Send one stem object into r from every peer; return where r sent each."""
            out = {}
            for name in names:
                post = make_wire(i)
                async with net.hosts[name].open_stream("r", STEM_PROTOCOL) as stream:
                    await stream.send(protocol.encode_stem(post.wire))
                await settle()
                out[name] = next(to for frm, to, wire in reversed(net.stems) if frm == "r" and wire == post.wire)
                relay.seen(post.id)
            return out

        epoch_start = trio.current_time()
        first = await from_each(0)
        assert all(to != frm for frm, to in first.items())
        while trio.current_time() < epoch_start + PARAMS.epoch - 60:
            assert await from_each(1) == first
            await trio.sleep(100)
        later = [await from_each(2 + e) for e in range(4) if not await trio.sleep(PARAMS.epoch)]
        assert any(routes != first for routes in later)  # a new epoch picks again


async def test_one_peer_swarm_holds_until_a_peer_connects(mock_clock: trio.testing.MockClock) -> None:
    async with fake_net() as net:
        released: list[bytes] = []
        a = relay_on(net.host("a"), 4, released)
        post = make_wire(1)
        a.originate(post)
        await trio.sleep(3600)
        assert net.stems == [] and net.published == [] and released == [] and a.pending == 1
        relay_on(net.host("b"), 5)
        net.link("a", "b")
        await trio.sleep(5)
        # Two peers: b cannot send it on to anyone but its author, so it fluffs.
        assert [(f, t) for f, t, _ in net.stems] == [("a", "b")]
        assert [who for who, _, _ in net.published] == ["b"]
        assert released == [post.id] and not a.pending


async def test_invalid_stem_frames_close_the_stream_and_count(mock_clock: trio.testing.MockClock) -> None:
    async with fake_net() as net:
        a = relay_on(net.host("a"), 6)
        net.host("evil")
        net.link("a", "evil")
        good = make_wire(1)
        bad_sig = bytearray(good.wire)
        bad_sig[len(good.signed_bytes) + 3] ^= 1
        for frame in (b"", b"\x02" + good.wire, b"\x01garbage", b"\x01" + bytes(bad_sig), b"\x01" * 5000):
            async with net.hosts["evil"].open_stream("a", STEM_PROTOCOL) as stream:
                await stream.send(frame)
                await settle()
                with pytest.raises(StreamError):  # a closed the stream
                    for _ in range(20):
                        await stream.send(frame)
        assert a.invalid["evil"] == 5 and a.pending == 0
        async with net.hosts["evil"].open_stream("a", STEM_PROTOCOL) as stream:
            await stream.send(protocol.encode_stem(good.wire))
        await trio.sleep(100)
        assert [wire for _, wire, _ in net.published] == [good.wire]  # a's only peer is evil: a fluffs


# -- real hosts on 127.0.3.x -----------------------------------------------------------

_ips = itertools.count(10)
FAST = protocol.StemParams(embargo_min=1.0, embargo_mean=1.0)
STATIC = GossipParams(connect_timeout=5.0, target_peers=0)


def next_ip() -> str:
    n = next(_ips)
    assert n < 250
    return f"127.0.3.{n}"


class RecordingRelay(StemRelay):
    """Keeps every valid stem object it is handed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stem_in: list[protocol.Signed] = []

    def on_stem(self, peer: str, signed: protocol.Signed) -> None:
        self.stem_in.append(signed)


class RealNode:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.relay: RecordingRelay | None = None

    async def on_message(self, data: bytes) -> None:
        self.received.append(data)
        if self.relay is not None:
            self.relay.seen(protocol.decode(data).id)


@asynccontextmanager
async def real_node(psk: bytes, *, stem: bool = True, params: protocol.StemParams = FAST) -> AsyncIterator[Any]:
    node = RealNode()
    async with open_swarm_host(
        host_key_seed=os.urandom(32),
        psk=psk,
        topic=TOPIC,
        validator=lambda data: check(data) is not None,
        on_message=node.on_message,
        listen_ip=next_ip(),
        params=STATIC,
    ) as host:
        node.host = host  # type: ignore[attr-defined]
        if stem:
            node.relay = RecordingRelay(host, check=check, params=params)
            node.relay.start()
        yield node


DEADLINE = 60  # generous: the machine may be loaded; waits poll, never assert on time


async def wait_until(predicate: Callable[[], bool]) -> None:
    with trio.fail_after(DEADLINE):
        while not predicate():
            await trio.sleep(0.05)


async def mesh(a: Any, b: Any) -> None:
    await a.host.connect(b.host.listen_addrs[0])
    await wait_until(lambda: b.host.peer_id in a.host.mesh_peers() and a.host.peer_id in b.host.mesh_peers())


async def test_real_hosts_black_holed_stem_delivers() -> None:
    psk = os.urandom(32)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(real_node(psk))
        hole = await stack.enter_async_context(real_node(psk, stem=False))
        c = await stack.enter_async_context(real_node(psk))
        swallowed: list[bytes] = []

        async def swallow(stream: Any) -> None:
            swallowed.append(await stream.receive(protocol.MAX_STEM_FRAME))

        hole.host.serve(STEM_PROTOCOL, swallow)
        await mesh(a, hole)
        await mesh(hole, c)
        post = make_wire(1)
        a.relay.originate(post)
        await wait_until(lambda: post.wire in c.received)
        assert swallowed == [protocol.encode_stem(post.wire)]
        assert a.relay.stats["embargo"] == 1 and a.relay.stats["fluffed"] == 1


# -- real daemons ------------------------------------------------------------------------


@pytest.mark.integration
async def test_daemons_with_the_stem_deliver_every_post_everywhere(tmp_path: Path) -> None:
    await trio.to_thread.run_sync(_four_daemons_post, tmp_path)


def _four_daemons_post(tmp_path: Path) -> None:
    nodes: list[DaemonProcess] = []
    try:
        for i in range(4):
            nodes.append(start_node(tmp_path / f"node{i}", f"127.0.3.{200 + i}"))
        invite = nodes[0].cli("swarm", "create", "stemmed").stdout.strip().splitlines()[-1]
        for node in nodes[1:]:
            node.cli("swarm", "join", invite)
        ids = {node.call("post", text=f"from {node.home.name}")["id"] for node in nodes}
        for node in nodes:
            wait_for(lambda node=node: ids <= {p["id"] for p in node.call("feed", limit=50)["posts"]})
        # Every post came back by gossip to its author, which released it (nothing held).
        for node in nodes:
            wait_for(lambda node=node: node.call("status")["counts"].get("held", 0) == 0, what="hold released")
    finally:
        for node in nodes:
            node.stop()


@pytest.mark.integration
async def test_own_post_is_held_alone_and_released_once_it_comes_back(tmp_path: Path) -> None:
    await trio.to_thread.run_sync(_one_then_two_daemons, tmp_path)


def _held(node: DaemonProcess) -> int:
    return int(node.call("status")["counts"]["held"])


def _one_then_two_daemons(tmp_path: Path) -> None:
    """A swarm of one holds its post (sync would not serve it); a second node gets it by stem, fluffs it, and
    gossip brings it back, which releases it."""
    nodes: list[DaemonProcess] = []
    try:
        nodes.append(start_node(tmp_path / "a", "127.0.3.210"))
        a = nodes[0]
        invite = a.cli("swarm", "create", "pair").stdout.strip().splitlines()[-1]
        post = a.call("post", text="alone for now")["id"]
        time.sleep(2)
        assert _held(a) == 1
        nodes.append(start_node(tmp_path / "b", "127.0.3.211"))
        b = nodes[1]
        b.cli("swarm", "join", invite)
        wait_for(lambda: _held(a) == 0, what="a's post released")
        wait_for(lambda: post in {p["id"] for p in b.call("feed")["posts"]}, what="a's post at b")
        back = b.call("post", text="hello back")["id"]
        wait_for(lambda: _held(b) == 0 and back in {p["id"] for p in a.call("feed")["posts"]}, what="b's post")
    finally:
        for node in nodes:
            node.stop()
