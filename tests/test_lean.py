"""Tests for the cheap per-message work of gossip: seen filter, cached scores, message ids, coalescing."""

from __future__ import annotations

import math
import os

import trio
import trio.lowlevel
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.rpc_queue import RpcQueue
from libp2p.pubsub.score import PeerScorer, ScoreParams, TopicScoreParams

from p2pnet.net import GossipParams, message_id
from p2pnet.net._lean import CachedScorer, MessageIdMemo, SeenCache
from p2pnet.net._pubsub import _drain, _score_params, deliver_loop

TOPIC = "t"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_seen_cache_forgets_an_id_ttl_after_it_was_last_seen() -> None:
    clock = FakeClock()
    seen = SeenCache(10, clock)
    assert seen.add(b"a") is True
    assert seen.add(b"a") is False
    clock.now += 6
    seen.add(b"b")
    assert seen.has(b"a")  # renewed: now remembered until 1016
    clock.now += 9  # 1015
    seen.add(b"c")
    assert seen.has(b"a") and seen.has(b"b") and seen.has(b"c")
    clock.now += 30
    assert not seen.has(b"a")  # expired, though not yet dropped
    assert seen.length() == 2
    seen.add(b"d")  # drops what expired
    assert seen.length() == 1
    assert [k for k in (b"a", b"b", b"c", b"d") if seen.has(k)] == [b"d"]


def test_seen_cache_drops_expired_ids_from_the_front_only() -> None:
    clock = FakeClock()
    seen = SeenCache(10, clock)
    for i in range(1000):
        seen.add(b"%d" % i)
        clock.now += 0.02  # over 20 s: the first half is older than 10 s at the end
    seen.add(b"late")
    assert 499 <= seen.length() <= 502  # only what expired is gone
    assert not seen.has(b"0") and seen.has(b"600") and seen.has(b"999")


def _peer() -> ID:
    return ID(os.urandom(34))


def _both(params: ScoreParams) -> tuple[PeerScorer, CachedScorer]:
    return PeerScorer(params), CachedScorer(params)


def _same(stock: PeerScorer, cached: CachedScorer, peers: list[ID]) -> None:
    for p in peers:
        assert cached.topic_score(p, TOPIC) == stock.topic_score(p, TOPIC)
        assert cached.score(p, [TOPIC]) == stock.score(p, [TOPIC])
        assert cached.allow_publish(p, [TOPIC]) == stock.allow_publish(p, [TOPIC])
        assert cached.is_graylisted(p, [TOPIC]) == stock.is_graylisted(p, [TOPIC])


def test_cached_scores_follow_every_penalty_decay_and_address() -> None:
    stock, cached = _both(_score_params(GossipParams()))
    a, b, c = _peer(), _peer(), _peer()
    peers = [a, b, c]
    _same(stock, cached, peers)  # all cached now
    for s in (stock, cached):
        s.on_invalid_message(a, TOPIC)
        s.penalize_behavior(b, 30.0)
        s.penalize_iwant_spam(c, 20.0)
    _same(stock, cached, peers)
    for s in (stock, cached):
        s.on_heartbeat()
    _same(stock, cached, peers)
    for s in (stock, cached):
        s.penalize_graft_flood(a, 50.0)
        s.penalize_equivocation(b)
        s.penalize_ihave_spam(c)
    _same(stock, cached, peers)
    for s in (stock, cached):
        s.remove_peer(a)
    _same(stock, cached, peers)


def test_deliveries_are_counted_in_a_cached_score_only_when_they_weigh() -> None:
    a = _peer()
    weighted = ScoreParams(p2_first_message_deliveries=TopicScoreParams(weight=1.0, cap=100.0, decay=0.9))
    stock, cached = _both(weighted)
    _same(stock, cached, [a])
    for s in (stock, cached):
        s.on_first_delivery(a, TOPIC)
        s.on_mesh_delivery(a, TOPIC)
    _same(stock, cached, [a])
    assert cached.topic_score(a, TOPIC) == 1.0

    unweighted = CachedScorer(_score_params(GossipParams()))
    before = unweighted.topic_score(a, TOPIC)
    unweighted.on_first_delivery(a, TOPIC)
    assert (a, TOPIC) in unweighted._topic_scores  # kept: P2 weighs nothing here
    assert unweighted.topic_score(a, TOPIC) == before


def test_message_id_memo_hashes_each_message_object_once() -> None:
    hashed: list[bytes] = []

    def counting(data: bytes) -> bytes:
        hashed.append(data)
        return message_id(data)

    memo = MessageIdMemo(counting)
    one = rpc_pb2.Message(data=b"one")
    two = rpc_pb2.Message(data=b"two")
    assert memo(one) == memo(one) == message_id(b"one")
    assert memo(two) == message_id(b"two")
    assert memo(one) == message_id(b"one")  # another object came between: hashed again
    assert hashed == [b"one", b"two", b"one"]


def _rpc(*, data: bytes = b"", graft: str = "", prune: str = "") -> rpc_pb2.RPC:
    rpc = rpc_pb2.RPC(senderRecord=b"record")
    if data:
        rpc.publish.append(rpc_pb2.Message(data=data, topicIDs=[TOPIC]))
    if graft:
        rpc.control.graft.append(rpc_pb2.ControlGraft(topicID=graft))
    if prune:
        rpc.control.prune.append(rpc_pb2.ControlPrune(topicID=prune))
    return rpc


def test_a_drain_merges_what_waits_but_never_two_mesh_changes() -> None:
    queue = RpcQueue()
    for rpc, control in [
        (_rpc(data=b"1"), False),
        (_rpc(prune=TOPIC), True),
        (_rpc(graft=TOPIC), True),  # must reach the peer after the PRUNE, not with it
        (_rpc(data=b"2"), False),
        (_rpc(data=b"3"), False),
    ]:
        queue.push(rpc, priority=control)
    first = queue._queue.pop()  # control goes first
    assert first is not None
    sent = _drain(first, queue, 64 * 1024)
    assert list(sent.control.prune) == [rpc_pb2.ControlPrune(topicID=TOPIC)]
    assert not sent.control.graft and not sent.publish
    second = queue._queue.pop()
    assert second is not None
    sent = _drain(second, queue, 64 * 1024)
    assert list(sent.control.graft) == [rpc_pb2.ControlGraft(topicID=TOPIC)]
    assert [m.data for m in sent.publish] == [b"1", b"2", b"3"] and sent.senderRecord == b"record"
    assert len(queue) == 0


def test_a_drain_stops_at_the_size_limit_and_leaves_the_queued_rpcs_as_they_were() -> None:
    queue = RpcQueue()
    queued = [_rpc(data=bytes([i]) * 100) for i in range(10)]
    for rpc in queued:
        queue.push(rpc)
    first = queue._queue.pop()
    assert first is not None
    sent = _drain(first, queue, 350)
    assert len(sent.publish) == 4 and len(queue) == 6  # 3 x ~110 bytes < 350, the 4th passes it
    assert all(len(rpc.publish) == 1 for rpc in queued)  # merged into a copy: shared RPCs untouched
    assert _drain(queued[9], RpcQueue(), 0) is queued[9]  # nothing to add: the RPC itself


async def test_delivery_takes_everything_waiting_in_one_turn_and_survives_a_failing_handler() -> None:
    send, receive = trio.open_memory_channel[bytes](math.inf)
    for i in range(100):
        send.send_nowait(b"%d" % i)
    got: list[bytes] = []
    turns = [0]

    async def on_message(data: bytes) -> None:
        if data == b"13":
            raise ValueError("a bad payload")
        got.append(data)

    async def count_turns() -> None:
        while True:
            turns[0] += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(count_turns)
        nursery.start_soon(deliver_loop, receive, on_message)
        while len(got) < 99:
            await trio.lowlevel.checkpoint()
        assert turns[0] <= 5  # one payload per turn would take 100
        send.close()
        nursery.cancel_scope.cancel()
    assert got == [b"%d" % i for i in range(100) if i != 13]
