"""Tests for p2pnet.net's swarm hosts: private networks, anonymous gossip, peer exchange.

Every node listens on its own loopback address 127.0.0.N; waits poll with a
generous deadline and never assert on timing.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import libp2p.pubsub.utils
import multiaddr
import pytest
import trio
import trio.lowlevel
from harness.polling import until
from harness.stock_peer import open_stock_peer
from libp2p.network.exceptions import SwarmException
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub

import p2pnet.net._reader
from p2pnet.net import (
    GossipParams,
    Rate,
    StreamError,
    SwarmConnectError,
    SwarmHost,
    message_id,
    open_swarm_host,
    peer_id_from_seed,
)
from p2pnet.net._peer_exchange import MIN_OUTBOUND

pytestmark = pytest.mark.trio

TOPIC = "p2pnet/test/1"
DEADLINE = 30
# No peer exchange dials (target 0) keep hand-built topologies as built.
STATIC = GossipParams(connect_timeout=5.0, target_peers=0)
PX = GossipParams(connect_timeout=5.0, peer_exchange_interval=0.5)
# A dial into another private network never completes; py-libp2p itself only
# gives up after ~20 s of retries, so a short timeout keeps the test quick.
QUICK_FAIL = GossipParams(connect_timeout=2.0, target_peers=0)

_ips = itertools.count(2)


def next_ip() -> str:
    """Return a fresh 127.0.0.N (N in 2..59; test_tui's daemons start at 61) so nodes never share an address."""
    n = next(_ips)
    if n > 59:
        raise RuntimeError("ran out of loopback addresses")
    return f"127.0.0.{n}"


def accept_all(data: bytes) -> bool:
    return True


class Node:
    """A SwarmHost plus everything its on_message received."""

    host: SwarmHost

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def on_message(self, data: bytes) -> None:
        self.received.append(data)

    @property
    def peer_id(self) -> str:
        return self.host.peer_id


@asynccontextmanager
async def open_node(
    *,
    psk: bytes,
    seed: bytes | None = None,
    validator: Callable[[bytes], bool] = accept_all,
    params: GossipParams = STATIC,
    ip: str | None = None,
    port: int = 0,
) -> AsyncIterator[Node]:
    node = Node()
    async with open_swarm_host(
        host_key_seed=seed or os.urandom(32),
        psk=psk,
        topic=TOPIC,
        listen_ip=ip or next_ip(),
        port=port,
        validator=validator,
        on_message=node.on_message,
        params=params,
    ) as host:
        node.host = host
        yield node


async def connect(a: Node, b: Node) -> None:
    """Connect a to b and wait until each has the other in its mesh."""
    await a.host.connect(b.host.listen_addrs[0])
    await until(
        lambda: b.peer_id in a.host.mesh_peers() and a.peer_id in b.host.mesh_peers(), "the hosts", within=DEADLINE
    )


class RecordingPubsub(Pubsub):
    """Stock Pubsub that keeps a copy of every message a peer hands it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wire: list[rpc_pb2.Message] = []

    async def push_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        if msg_forwarder != self.my_id:
            copy = rpc_pb2.Message()
            copy.CopyFrom(msg)
            self.wire.append(copy)
        await super().push_msg(msg_forwarder, msg)


@asynccontextmanager
async def open_plain_peer(
    psk: bytes | None, *, strict_signing: bool, ip: str | None = None
) -> AsyncIterator[tuple[Any, RecordingPubsub]]:
    """A stock py-libp2p host + Pubsub + GossipSub, subscribed to TOPIC."""
    async with open_stock_peer(
        psk, topic=TOPIC, ip=ip or next_ip(), strict_signing=strict_signing, pubsub_cls=RecordingPubsub
    ) as (host, pubsub):
        assert isinstance(pubsub, RecordingPubsub)
        yield host, pubsub


# -- 1. identity and private network ------------------------------------------


async def test_same_seed_gives_same_peer_id_across_restarts() -> None:
    psk, seed = os.urandom(32), os.urandom(32)
    async with open_node(psk=psk, seed=seed) as first:
        first_id = first.peer_id
        assert all(a.endswith(f"/p2p/{first_id}") for a in first.host.listen_addrs)
    async with open_node(psk=psk, seed=seed) as again:
        assert again.peer_id == first_id
    assert peer_id_from_seed(seed) == first_id
    assert peer_id_from_seed(os.urandom(32)) != first_id
    with pytest.raises(ValueError):
        peer_id_from_seed(b"short")


async def test_other_psk_or_no_psk_cannot_connect() -> None:
    psk = os.urandom(32)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_node(psk=psk, params=QUICK_FAIL))
        b = await stack.enter_async_context(open_node(psk=psk))
        outsider = await stack.enter_async_context(open_node(psk=os.urandom(32), params=QUICK_FAIL))
        plain_host, _ = await stack.enter_async_context(open_plain_peer(None, strict_signing=False))
        await connect(b, a)

        # Both directions fail with a clear error.
        with pytest.raises(SwarmConnectError):
            await outsider.host.connect(a.host.listen_addrs[0])
        with pytest.raises(SwarmConnectError):
            await a.host.connect(outsider.host.listen_addrs[0])
        # A stock host without any PSK can neither get in nor be reached.
        with pytest.raises(SwarmConnectError):
            await a.host.connect(str(plain_host.get_addrs()[0]))
        with pytest.raises((SwarmException, trio.TooSlowError)), trio.fail_after(2):
            await plain_host.connect(info_from_p2p_addr(multiaddr.Multiaddr(a.host.listen_addrs[0])))

        await a.host.publish(b"members only")
        await until(lambda: b.received == [b"members only"], "the hosts", within=DEADLINE)
        assert outsider.host.connected_peers() == []
        assert outsider.peer_id not in a.host.connected_peers()
        assert str(plain_host.get_id()) not in a.host.connected_peers()
        assert outsider.received == []


async def test_connect_rejects_bad_multiaddr() -> None:
    async with open_node(psk=os.urandom(32)) as a:
        with pytest.raises(ValueError):
            await a.host.connect("/ip4/127.0.0.1/tcp/1")  # no /p2p/
        with pytest.raises(ValueError):
            await a.host.connect(a.host.listen_addrs[0])  # ourselves


# -- 2. anonymous envelopes on the wire ----------------------------------------


async def test_plain_peer_sees_no_from_signature_or_key() -> None:
    psk = os.urandom(32)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_node(psk=psk))
        plain_host, plain = await stack.enter_async_context(open_plain_peer(psk, strict_signing=False))
        plain_id = str(plain_host.get_id())
        await a.host.connect(str(plain_host.get_addrs()[0]))
        await until(lambda: plain_id in a.host.mesh_peers(), "the hosts", within=DEADLINE)

        payloads = [b"post %d" % i for i in range(100)]
        ids = [await a.host.publish(p) for p in payloads]
        assert ids == [message_id(p) for p in payloads]

        def seen() -> set[bytes]:
            return {m.data for m in plain.wire}

        await until(lambda: seen() == set(payloads), "the hosts", within=DEADLINE)

    for msg in plain.wire:
        assert not msg.HasField("from_id")
        assert not msg.HasField("signature")
        assert not msg.HasField("key")
        assert {f.name for f, _ in msg.ListFields()} == {"data", "seqno", "topicIDs"}
        assert list(msg.topicIDs) == [TOPIC]
        assert len(msg.seqno) == 8
    first = {m.data: m for m in reversed(plain.wire)}
    seqnos = [first[p].seqno for p in payloads]
    assert len(set(seqnos)) == len(seqnos)
    # A counter would show up as small differences between consecutive seqnos.
    numbers = [int.from_bytes(s, "big") for s in seqnos]
    assert not all(0 < y - x < 1000 for x, y in itertools.pairwise(numbers))


async def test_stock_messages_with_from_and_signature_are_rejected() -> None:
    psk = os.urandom(32)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_node(psk=psk))
        plain_host, plain = await stack.enter_async_context(open_plain_peer(psk, strict_signing=True))
        plain_id = str(plain_host.get_id())
        await a.host.connect(str(plain_host.get_addrs()[0]))
        await until(
            lambda: (
                plain_id in a.host.mesh_peers() and a.host.peer_id in {str(p) for p in plain.router.mesh.get(TOPIC, ())}
            ),
            "the hosts",
            within=DEADLINE,
        )
        # Pubsub.publish writes our peer id into `from` and signs.
        await plain.publish(TOPIC, b"signed and attributed")
        await until(lambda: a.host.invalid_message_counts().get(plain_id, 0) >= 1, "the hosts", within=DEADLINE)
        assert a.received == []
        assert a.host.peer_score(plain_id) < 0


# -- 3. validation, invalid counts and scoring ----------------------------------


async def test_invalid_messages_dropped_counted_and_graylisted() -> None:
    psk = os.urandom(32)

    def no_bad(data: bytes) -> bool:
        return not data.startswith(b"bad")

    def raises_on_bad(data: bytes) -> bool:
        if data.startswith(b"bad"):
            raise RuntimeError("validator bug")
        return True

    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_node(psk=psk))  # accepts all
        b = await stack.enter_async_context(open_node(psk=psk, validator=no_bad))
        c = await stack.enter_async_context(open_node(psk=psk, validator=raises_on_bad))
        await connect(a, b)
        await connect(c, b)

        with pytest.raises(ValueError):
            await b.host.publish(b"bad from b")  # our own validator applies too

        for i in range(3):
            await a.host.publish(b"bad %d" % i)
        await a.host.publish(b"good")
        await until(lambda: b"good" in c.received, "the hosts", within=DEADLINE)
        await until(lambda: b.host.invalid_message_counts().get(a.peer_id) == 3, "the hosts", within=DEADLINE)
        # B rejected all three, and C can only hear through B.
        assert a.peer_id not in c.host.connected_peers()
        assert b.received == [b"good"]
        assert c.received == [b"good"]
        assert b.host.invalid_message_counts().get(c.peer_id, 0) == 0
        assert c.host.invalid_message_counts() == {}

        # Keep sending junk: the score sinks below the graylist threshold, and
        # since py-libp2p forgets a score on disconnect, that becomes a ban.
        for i in range(3, 15):
            await a.host.publish(b"bad %d" % i)
        await until(lambda: b.host.guard.banned(a.peer_id), "B to ban A", within=DEADLINE)
        ban = b.host.guard.banned(a.peer_id)
        assert ban is not None and ban.reason.startswith("gossip score -5")
        assert b.host.invalid_message_counts()[a.peer_id] >= 10
        await until(lambda: a.peer_id not in b.host.connected_peers(), "B to drop A", within=DEADLINE)
        assert b.host.guard.banned(c.peer_id) is None and c.peer_id in b.host.connected_peers()


# -- 4/5. gossip settings and no silent drops ----------------------------------


async def test_burst_of_500_reaches_every_node_through_a_chain() -> None:
    """Forwarding keeps up with a burst; the first-delivery limit (200 by default) is raised out of its way."""
    psk = os.urandom(32)
    roomy = dataclasses.replace(STATIC, gossip_limit=Rate(rate=20.0, burst=1000.0))
    async with AsyncExitStack() as stack:
        a, b, c, d = [await stack.enter_async_context(open_node(psk=psk, params=roomy)) for _ in range(4)]
        # Chain A - B - C - D: every message is forwarded at least once.
        await connect(a, b)
        await connect(b, c)
        await connect(c, d)

        payloads = [b"burst %03d" % i for i in range(500)]
        for p in payloads:
            await a.host.publish(p)

        await until(lambda: all(len(n.received) >= len(payloads) for n in (b, c, d)), "the hosts", within=DEADLINE)
        for node in (b, c, d):
            assert sorted(node.received) == payloads
        assert a.received == []  # own posts are not echoed back
        assert a.peer_id not in c.host.connected_peers()
        assert d.peer_id not in b.host.connected_peers()


async def test_received_messages_are_handled_in_the_reader_in_order_not_a_task_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    psk = os.urandom(32)
    roomy = dataclasses.replace(STATIC, gossip_limit=Rate(rate=20.0, burst=1000.0))  # 300 from one peer
    async with AsyncExitStack() as stack:
        a, b = [await stack.enter_async_context(open_node(psk=psk, params=roomy)) for _ in range(2)]
        await connect(a, b)
        consume = libp2p.pubsub.utils.consume_envelope
        checked = [0]

        def counted(*args: Any, **kwargs: Any) -> Any:
            checked[0] += 1
            return consume(*args, **kwargs)

        monkeypatch.setattr(libp2p.pubsub.utils, "consume_envelope", counted)
        manager = b.host._pubsub.manager
        spawned: list[str] = []
        run_task = manager.run_task

        def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
            spawned.append(getattr(fn, "__name__", repr(fn)))
            return run_task(fn, *args, **kwargs)

        manager.run_task = counting  # type: ignore[method-assign]
        payloads = [b"in order %03d" % i for i in range(300)]
        for i, p in enumerate(payloads):
            await a.host.publish(p)
            if i % 10 == 0:
                await trio.sleep(0.01)  # so messages go out in many RPCs, each with a's record
        await until(lambda: len(b.received) >= len(payloads), "the messages at b", within=DEADLINE)
        assert b.received == payloads  # one reader per peer: handled in the order sent
        assert "push_msg" not in spawned  # stock spawns a task per received message
        assert checked[0] <= 4  # the sender's record is verified once, not in every RPC (libp2p_patches)


@pytest.mark.parametrize("coalesce", [True, False])
async def test_what_a_peer_is_forwarded_goes_out_in_few_rpcs(monkeypatch: pytest.MonkeyPatch, coalesce: bool) -> None:
    """a -> b -> c: b forwards a's burst to c, drained into few RPCs (one each when coalescing is off)."""
    psk = os.urandom(32)
    roomy = dataclasses.replace(STATIC, gossip_limit=Rate(rate=20.0, burst=1000.0))
    async with AsyncExitStack() as stack:
        a, b, c = [await stack.enter_async_context(open_node(psk=psk, params=roomy)) for _ in range(3)]
        if not coalesce:
            b.host._pubsub.coalesce_bytes = 0
        from_b: list[int] = []  # messages in each RPC b sent (c reads only b's)
        read = p2pnet.net._reader.read_varint_prefixed_bytes_limited

        async def counted(stream: Any, limit: int) -> bytes:
            data = await read(stream, limit)
            if str(stream.muxed_conn.peer_id) == b.peer_id:
                rpc = rpc_pb2.RPC()
                rpc.ParseFromString(data)
                if rpc.publish:
                    from_b.append(len(rpc.publish))
            return data

        # Before the readers start, so that every RPC b sends is counted.
        monkeypatch.setattr(p2pnet.net._reader, "read_varint_prefixed_bytes_limited", counted)
        await connect(a, b)
        await connect(b, c)
        payloads = [b"burst %03d" % i for i in range(300)]
        for i, p in enumerate(payloads):
            await a.host.publish(p)
            if i % 10 == 0:
                await trio.sleep(0.01)  # a sends in many RPCs too
        await until(lambda: len(c.received) >= len(payloads), "the burst at c", within=DEADLINE)
        assert sorted(c.received) == payloads
        assert sum(from_b) == len(payloads)  # each forwarded once, to c alone
        if coalesce:
            assert len(from_b) <= len(payloads) // 5
        else:
            assert from_b == [1] * len(payloads)


async def test_republishing_same_content_is_one_message() -> None:
    psk = os.urandom(32)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_node(psk=psk))
        b = await stack.enter_async_context(open_node(psk=psk))
        await connect(a, b)
        first = await a.host.publish(b"same")
        second = await b.host.publish(b"same")
        await a.host.publish(b"marker")
        assert first == second == message_id(b"same")
        # Gossip (IHAVE) advertises the same content ids the seen cache uses.
        assert first in a.host._router.mcache.window(TOPIC)
        await until(lambda: b"marker" in b.received, "the hosts", within=DEADLINE)
        assert b.received.count(b"same") <= 1
        assert a.received.count(b"same") <= 1


# -- 5b. mesh upkeep (docs/gossip-notes.md, pitfall 35) ----------------------------

# Small enough degrees that four leaves overfill one hub: over D_high (3), it prunes back to D (2).
SMALL_MESH = dataclasses.replace(STATIC, d=2, d_low=1, d_high=3)


def count_heartbeats(node: Node) -> list[int]:
    """A counter of ``node``'s gossipsub heartbeats (each shifts the message cache once)."""
    router = node.host._router
    ticks = [0]
    shift = router.mcache.shift

    def counted() -> None:
        ticks[0] += 1
        shift()

    router.mcache.shift = counted  # type: ignore[method-assign]
    return ticks


async def heartbeats_pass(ticks: list[int], n: int) -> None:
    start = ticks[0]
    await until(lambda: ticks[0] >= start + n, f"{n} heartbeats", within=DEADLINE)


async def test_leaves_a_hub_pruned_are_not_grafted_again_and_still_get_every_post() -> None:
    """The bench at 50 nodes: a leaf whose hubs all pruned it got nothing for the 60 s backoff.

    Stock grafted the pruned leaves again a heartbeat later, which they took
    for a GRAFT flood (penalty, PRUNE back), and then left them out of gossip
    (IHAVE) while in backoff: no mesh, no gossip.
    """
    psk = os.urandom(32)
    async with AsyncExitStack() as stack:
        hub = await stack.enter_async_context(open_node(psk=psk, params=SMALL_MESH))
        hub_id = ID.from_base58(hub.peer_id)
        heartbeats = count_heartbeats(hub)
        leaves = [await stack.enter_async_context(open_node(psk=psk, params=SMALL_MESH)) for _ in range(4)]
        for leaf in leaves:
            await leaf.host.connect(hub.host.listen_addrs[0])

        def pruned_leaves() -> list[Node]:
            return [leaf for leaf in leaves if hub_id in leaf.host._router.back_off.get(TOPIC, {})]

        # Each leaf grafts its only peer; the hub's heartbeat prunes two of the four.
        await until(lambda: len(pruned_leaves()) >= 2, "the hub to prune", within=DEADLINE)
        await heartbeats_pass(heartbeats, 3)
        pruned = pruned_leaves()
        assert all(not leaf.host.mesh_peers() for leaf in pruned)  # cut off from the mesh until the backoff ends
        await hub.host.publish(b"to every leaf")
        await until(lambda: all(b"to every leaf" in leaf.received for leaf in leaves), "the post", within=DEADLINE)
        # The leaves it kept go: below D_low, the hub still does not graft those it pruned.
        kept = [leaf for leaf in leaves if leaf not in pruned]
        for leaf in kept:
            await leaf.host._host.disconnect(hub_id)
        await until(lambda: not hub.host.mesh_peers(), "the kept leaves to go", within=DEADLINE)
        await heartbeats_pass(heartbeats, 3)
        for leaf in pruned:
            assert leaf.peer_id not in hub.host.mesh_peers()
            assert leaf.host._router.scorer.graft_flood_penalties.get(hub_id, 0) == 0  # no GRAFT within the backoff


async def test_a_mesh_within_its_bounds_is_not_grafted_onto_every_heartbeat() -> None:
    """Stock's opportunistic grafting took two more peers each heartbeat when scores are equal.

    So every mesh grew past D_high and was pruned, over and over; go's runs
    once a minute and only takes peers that score above the mesh's median.
    """
    psk = os.urandom(32)
    async with AsyncExitStack() as stack:
        a, b, p, q = [await stack.enter_async_context(open_node(psk=psk, params=SMALL_MESH)) for _ in range(4)]
        await connect(a, b)
        await connect(p, q)
        a_ticks, p_ticks = count_heartbeats(a), count_heartbeats(p)
        # A and P each hold D_low peers already: neither grafts the other when it subscribes.
        await p.host.connect(a.host.listen_addrs[0])

        def subscribed(x: Node, y: Node) -> bool:
            return ID.from_base58(y.peer_id) in x.host._pubsub.peer_topics.get(TOPIC, ())

        await until(lambda: subscribed(a, p) and subscribed(p, a), "the subscriptions", within=DEADLINE)
        await heartbeats_pass(a_ticks, 5)
        await heartbeats_pass(p_ticks, 5)
        assert a.host.mesh_peers() == [b.peer_id]
        assert p.host.mesh_peers() == [q.peer_id]


# -- 6. peer exchange -----------------------------------------------------------


async def test_peers_bootstrapped_via_one_node_find_each_other() -> None:
    psk = os.urandom(32)
    async with AsyncExitStack() as stack:
        a, b, c = [await stack.enter_async_context(open_node(psk=psk, params=PX)) for _ in range(3)]
        await b.host.connect(a.host.listen_addrs[0])
        await c.host.connect(a.host.listen_addrs[0])
        await until(
            lambda: c.peer_id in b.host.connected_peers() and b.peer_id in c.host.connected_peers(),
            "the hosts",
            within=DEADLINE,
        )
        # What the caller would persist is dialable and names the right peer
        # (an inbound peer's address arrives with its first pubsub RPC).
        await until(lambda: set(c.host.known_peer_addrs()) >= {a.peer_id, b.peer_id}, "the hosts", within=DEADLINE)
        known = c.host.known_peer_addrs()
        assert c.peer_id not in known
        assert all(addr.endswith(f"/p2p/{b.peer_id}") for addr in known[b.peer_id])
        assert b.host.listen_addrs[0] in known[b.peer_id]


async def test_a_node_that_was_only_dialled_dials_peers_of_its_own() -> None:
    """At its target, with every peer inbound, a node still dials until it has MIN_OUTBOUND: the stem's candidates."""
    psk = os.urandom(32)
    full = GossipParams(connect_timeout=5.0, peer_exchange_interval=0.5, target_peers=1)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_node(psk=psk, params=full))
        b, d, e = [await stack.enter_async_context(open_node(psk=psk, params=STATIC)) for _ in range(3)]
        for other in (d, e):
            await other.host.connect(b.host.listen_addrs[0])
        await b.host.connect(a.host.listen_addrs[0])  # A is at its target now, with no peer of its own
        # B tells A of D and E: A dials them, though it has all the peers it wants.
        await until(lambda: len(a.host.outbound_peers()) >= MIN_OUTBOUND, "A to dial its own", within=DEADLINE)
        assert set(a.host.outbound_peers()) == {d.peer_id, e.peer_id}


async def bulk_echo(stream: Any) -> None:
    for _ in range(4):
        await stream.send(await stream.receive(1 << 20))


async def test_extra_stream_protocol_frames_and_connect_callback() -> None:
    psk = os.urandom(32)
    async with AsyncExitStack() as stack:
        a, b = [await stack.enter_async_context(open_node(psk=psk)) for _ in range(2)]
        seen: list[str] = []
        b.host.on_connect(seen.append)

        async def echo(stream: Any) -> None:
            frame = await stream.receive(16)
            await stream.send(frame[::-1] + stream.peer_id.encode())

        b.host.serve("/p2pnet/test-echo/1", echo)
        await a.host.connect(b.host.listen_addrs[0])
        await until(lambda: a.peer_id in seen, "the hosts", within=DEADLINE)
        async with a.host.open_stream(b.peer_id, "/p2pnet/test-echo/1") as stream:
            await stream.send(b"hello")
            assert await stream.receive(1000) == b"olleh" + a.peer_id.encode()
        # Megabytes flow both ways: the receive window is reopened as it is read.
        b.host.serve("/p2pnet/test-bulk/1", bulk_echo)
        async with a.host.open_stream(b.peer_id, "/p2pnet/test-bulk/1") as stream:
            for _ in range(4):
                blob = os.urandom(700_000)  # well over one receive window
                await stream.send(blob)
                assert await stream.receive(1 << 20) == blob
        # An oversized frame is refused by the reader, not buffered.
        async with a.host.open_stream(b.peer_id, "/p2pnet/test-echo/1") as stream:
            await stream.send(b"x" * 17)
            with pytest.raises(StreamError):
                await stream.receive(1000)
        with pytest.raises(StreamError):
            async with a.host.open_stream(b.peer_id, "/p2pnet/unknown/1"):
                pass


# -- 7. clean shutdown ------------------------------------------------------------


async def test_shutdown_releases_the_listen_address() -> None:
    psk, ip = os.urandom(32), next_ip()
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_node(psk=psk, ip=ip))
        b = await stack.enter_async_context(open_node(psk=psk))
        await connect(a, b)
        await a.host.publish(b"bye")
        await until(lambda: b.received == [b"bye"], "the hosts", within=DEADLINE)
        port = int(multiaddr.Multiaddr(a.host.listen_addrs[0]).value_for_protocol("tcp"))
    # Every task and socket is gone: the same address can be bound again.
    async with open_node(psk=psk, ip=ip, port=port) as again:
        assert f"/tcp/{port}/" in again.host.listen_addrs[0]
        # ...but only once, despite py-libp2p's SO_REUSEPORT listeners.
        with pytest.raises(OSError):
            async with open_node(psk=psk, ip=ip, port=port):
                pass


async def test_tasks_asked_for_while_or_after_the_host_closes_are_dropped_not_raised() -> None:
    # Until the swarm stops, inbound streams and connect callbacks still run,
    # and a caller may still be in connect() or hold the host after it closed.
    # None of them asking for a task may hit a closed nursery ("Nursery is
    # closed to new arrivals").
    psk = os.urandom(32)
    raised: list[BaseException] = []
    closing, asking = trio.Event(), trio.Event()

    async def until_closing() -> None:
        try:
            await trio.sleep_forever()
        finally:
            closing.set()  # cancelled: the host has begun to close

    # a closes first, while b and b's stream into a's handler are still open.
    async with open_node(psk=psk) as b, AsyncExitStack() as streams, open_node(psk=psk) as a:

        async def ask_once_tasks_ended(stream: Any) -> None:
            asking.set()
            await closing.wait()
            # Every task of a's has ended: its nursery closes as soon as its body does.
            while a.host._nursery.child_tasks:
                await trio.lowlevel.checkpoint()
            try:
                a.host.start_soon(trio.sleep, 0)
            except Exception as exc:
                raised.append(exc)
            try:
                await a.host.connect(b.host.listen_addrs[0])  # already connected: only the follow-up
            except Exception as exc:
                raised.append(exc)

        a.host.serve("/p2pnet/test-closing/1", ask_once_tasks_ended)
        a.host.start_soon(until_closing)
        await b.host.connect(a.host.listen_addrs[0])
        await streams.enter_async_context(b.host.open_stream(a.peer_id, "/p2pnet/test-closing/1"))
        await asking.wait()
    a.host.start_soon(trio.sleep, 0)  # a stem relay, say, handed an object after its swarm closed
    assert raised == []


async def test_the_network_closes_before_the_services_it_feeds() -> None:
    # py-libp2p's pubsub still reports itself running for a moment after its
    # task nursery has closed; an RPC arriving then on a connection still open
    # made it start a task there, and "Nursery is closed to new arrivals" went
    # up through the connection into the host's teardown.
    psk = os.urandom(32)
    open_when_pubsub_stopped: list[int] = []
    async with open_node(psk=psk) as b, trio.open_nursery() as watchers, open_node(psk=psk) as a:
        await connect(a, b)
        network = a.host._host.get_network()

        async def watch(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            await a.host._pubsub.manager.wait_finished()
            open_when_pubsub_stopped.append(len(network.connections) + len(network.listeners))

        await watchers.start(watch)
    assert open_when_pubsub_stopped == [0]
