"""The stem's pure logic (protocol/_stem.py): frames, routes, fluff and embargo decisions."""

from __future__ import annotations

import os
import random

import pytest

import protocol
from protocol import Fluff, Forward, StemParams, StemRoutes, StemState

PEERS = ["peer-a", "peer-b", "peer-c", "peer-d", "peer-e"]
WIRE = protocol.make_post(bytes(32), "stem me", now=1_763_700_000).wire


def test_frame_round_trip_and_bounds() -> None:
    frame = protocol.encode_stem(WIRE)
    assert frame[0] == protocol.STEM_VERSION and len(frame) == 1 + len(WIRE)
    assert protocol.decode_stem(frame) == WIRE
    for bad, error in [
        (b"", protocol.DecodeError),
        (bytes([2]) + WIRE, protocol.UnknownVersion),
        (bytes([1]) + WIRE[:-1], protocol.DecodeError),
        (bytes([1]) + os.urandom(300), protocol.DecodeError),
        (bytes([1]) + bytes(protocol.MAX_STEM_FRAME), protocol.ObjectTooLarge),
    ]:
        with pytest.raises(error):
            protocol.decode_stem(bad)
    with pytest.raises(protocol.UsageError):
        protocol.encode_stem(b"not padded")


def test_routes_hold_for_an_epoch_per_inbound_edge() -> None:
    routes = StemRoutes(random.Random(1), StemParams())
    own = routes.route(None, PEERS, 0.0)
    by_edge = {edge: routes.route(edge, PEERS, 0.0) for edge in PEERS}
    for t in range(1, 600, 7):
        assert routes.route(None, PEERS, float(t)) == own
        for edge in PEERS:
            relay = routes.route(edge, PEERS, float(t))
            assert relay == by_edge[edge] and relay != edge
    assert set(by_edge.values()) | {own} <= set(routes.relays) and len(routes.relays) <= 3
    # Later epochs pick afresh.
    owns = {routes.route(None, PEERS, 600.0 * e) for e in range(1, 30)}
    assert len(owns) > 1


def test_a_relay_that_leaves_or_refuses_is_replaced() -> None:
    routes = StemRoutes(random.Random(2), StemParams())
    first = routes.route(None, PEERS, 0.0)
    assert first is not None
    second = routes.route(None, [p for p in PEERS if p != first], 1.0)
    assert second not in (None, first)
    routes.drop(second, refused=True)
    third = routes.route(None, PEERS, 2.0)  # back, but refused for this epoch
    assert third not in (None, second)


def test_no_route_back_to_the_only_peer() -> None:
    routes = StemRoutes(random.Random(3), StemParams())
    assert routes.route(None, [], 0.0) is None
    assert routes.route("peer-a", ["peer-a"], 0.0) is None
    assert routes.route(None, ["peer-a"], 0.0) == "peer-a"


def test_relays_fluff_with_probability_q() -> None:
    params = StemParams(fluff_probability=0.2)
    state = StemState(random.Random(4), params)
    fluffs = 0
    for i in range(5000):
        action = state.receive(i.to_bytes(32, "big"), WIRE, "peer-a", PEERS, 0.0)
        fluffs += isinstance(action, Fluff)
        state.seen(i.to_bytes(32, "big"))
    assert 850 <= fluffs <= 1150


def test_originator_always_stems_and_waits_for_a_peer() -> None:
    state = StemState(random.Random(5), StemParams(fluff_probability=1.0))
    assert state.originate(b"x" * 32, WIRE, [], 0.0) is None
    assert not state.pool  # held by the caller, not armed
    action = state.originate(b"x" * 32, WIRE, PEERS, 0.0)
    assert isinstance(action, Forward) and state.pool[b"x" * 32].own


def test_own_object_that_comes_back_leaves_by_the_own_route_and_is_never_fluffed_by_its_author() -> None:
    # q = 1: any other object is fluffed at once by whoever receives it.
    state = StemState(random.Random(9), StemParams(fluff_probability=1.0))
    out = state.originate(b"o" * 32, WIRE, PEERS, 0.0)
    assert isinstance(out, Forward)
    deadline = state.next_deadline()
    for n, inbound in enumerate(PEERS * 3):
        back = state.receive(b"o" * 32, WIRE, inbound, PEERS, 1.0 + n)
        assert isinstance(back, Forward) and back.peer == out.peer
    assert state.next_deadline() == deadline  # the first embargo still holds
    assert isinstance(state.receive(b"r" * 32, WIRE, "peer-a", PEERS, 9.0), Fluff)  # someone else's
    (fired,) = state.due(deadline)
    assert fired.own and fired.object_id == b"o" * 32


def test_a_refused_relay_that_reconnects_is_used_again() -> None:
    state = StemState(random.Random(7), StemParams())
    first = state.originate(b"1" * 32, WIRE, ["peer-a"], 0.0)
    assert isinstance(first, Forward) and first.peer == "peer-a"
    # Its stream broke (it crashed): no relay left, so the object is fluffed, not stuck.
    retry = state.failed(first, ["peer-a"], 1.0, refused=True)
    assert isinstance(retry, Fluff) and retry.own
    # Still refused in this epoch: a new object is fluffed too rather than held forever.
    assert isinstance(state.originate(b"2" * 32, WIRE, ["peer-a"], 2.0), Fluff)
    state.routes.reconnected("peer-a")  # it restarted and connected again
    again = state.originate(b"3" * 32, WIRE, ["peer-a"], 3.0)
    assert isinstance(again, Forward) and again.peer == "peer-a"


def test_deadlines_stay_ordered_through_a_burst() -> None:
    state = StemState(random.Random(8), StemParams(fluff_probability=0.0))
    ids = [i.to_bytes(32, "big") for i in range(3000)]
    for n, oid in enumerate(ids):
        state.originate(oid, WIRE, PEERS, float(n % 7))
    for oid in ids[::2]:
        state.seen(oid)  # came back by gossip: no embargo left
    deadlines = sorted(e.deadline for e in state.pool.values())
    assert state.next_deadline() == deadlines[0]
    fired = state.due(deadlines[len(deadlines) // 2])
    assert len(fired) == len(deadlines) // 2 + 1 and all(f.own for f in fired)
    assert {f.object_id for f in fired}.isdisjoint(ids[::2])
    assert state.next_deadline() == deadlines[len(deadlines) // 2 + 1]


def test_embargo_fluffs_unless_gossip_brings_it_back() -> None:
    params = StemParams(fluff_probability=0.0)
    state = StemState(random.Random(6), params)
    a, b = b"a" * 32, b"b" * 32
    state.originate(a, WIRE, PEERS, 100.0)
    state.receive(b, WIRE, "peer-a", PEERS, 100.0)
    deadline = state.next_deadline()
    assert deadline is not None and deadline >= 100.0 + params.embargo_min
    assert state.due(100.0 + params.embargo_min - 0.001) == []
    assert state.seen(a) is True  # own, still on its stem: release it
    assert state.seen(b) is False
    assert state.due(1e9) == [] and state.next_deadline() is None
    state.receive(a, WIRE, "peer-b", PEERS, 200.0)  # a late stem copy is ignored
    assert not state.pool
    c = b"c" * 32
    state.originate(c, WIRE, PEERS, 300.0)
    assert state.due(1e9) == [Fluff(c, WIRE, True)]


def test_embargo_distribution() -> None:
    params = StemParams()
    rng = random.Random(7)
    delays = [protocol.embargo_delay(rng, params) for _ in range(20_000)]
    assert min(delays) >= params.embargo_min
    mean = sum(delays) / len(delays)
    assert abs(mean - (params.embargo_min + params.embargo_mean)) < 0.2


def test_full_pool_fluffs_at_once_and_a_failed_forward_reroutes() -> None:
    state = StemState(random.Random(8), StemParams(fluff_probability=0.0, pool_size=2))
    for i in range(2):
        assert isinstance(state.receive(bytes([i]) * 32, WIRE, "peer-a", PEERS, 0.0), Forward)
    assert state.receive(b"z" * 32, WIRE, "peer-a", PEERS, 0.0) == Fluff(b"z" * 32, WIRE, False)
    action = state.originate(b"o" * 32, WIRE, ["peer-b"], 0.0)
    assert isinstance(action, Forward)
    assert state.failed(action, ["peer-b"], 0.0, refused=True) == Fluff(b"o" * 32, WIRE, True)
