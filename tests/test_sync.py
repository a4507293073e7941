"""Catch-up sync: the sans-IO reconciliation, then real daemons catching up.

The daemon tests use only 127.0.4.1 .. 127.0.4.254.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from _vectors import sync_transcript
from harness.daemons import DaemonProcess, join_swarm, post_in_thread, running
from harness.partition import partition
from harness.polling import DEADLINE, wait_for
from hypothesis import given
from hypothesis import strategies as st

import protocol
from p2pnet.store import Store

# -- the state machine, in memory ------------------------------------------------------


Items = list[tuple[int, bytes]]


def reconcile(a: Items, b: Items, limits: protocol.SyncLimits | None = None) -> dict[str, Any]:
    """Run a session between two in-memory sets, a initiating.

    Returns:
        ``held``: what each side holds after; ``pushed``: how many objects each sent;
        ``sessions``: both sessions.
    """
    turns, sides = sync_transcript(a, b, limits)
    held = {"a": {oid for _, oid in a}, "b": {oid for _, oid in b}}
    pushed = {"a": 0, "b": 0}
    for turn in turns:
        assert all(len(f) <= sides["a"].limits.max_frame * 2 for f in turn["frames"])  # hex
        held["b" if turn["from"] == "a" else "a"].update(bytes.fromhex(i) for i in turn["push"])
        pushed[turn["from"]] += len(turn["push"])
    assert sides["a"].finished and sides["b"].finished
    return {"held": held, "pushed": pushed, "sessions": sides}


def _objects_bytes(count: int) -> int:
    """Bytes of OBJECTS frames carrying ``count`` objects of the smallest size."""
    return sum(len(f) for f in protocol.SyncSession([]).objects_frames([bytes(256)] * count))


def _item(time: int, n: int) -> tuple[int, bytes]:
    return (time, hashlib.sha256(n.to_bytes(8, "big")).digest())


items = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 3000)), max_size=400, unique_by=lambda x: x[1])


@given(items, st.data())
def test_two_random_sets_reconcile_to_the_union(pool: list[tuple[int, int]], data: st.DataObject) -> None:
    everything = sorted(_item(t, n) for t, n in pool)
    in_a = data.draw(st.lists(st.booleans(), min_size=len(everything), max_size=len(everything)))
    in_b = data.draw(st.lists(st.booleans(), min_size=len(everything), max_size=len(everything)))
    a = [x for x, keep in zip(everything, in_a, strict=True) if keep]
    b = [x for x, keep in zip(everything, in_b, strict=True) if keep]
    small = protocol.SyncLimits(first_branch=4, branch=3, id_list_max=4)
    for limits in (None, small):
        run = reconcile(a, b, limits)
        ids_a, ids_b = {oid for _, oid in a}, {oid for _, oid in b}
        assert run["held"]["a"] == run["held"]["b"] == ids_a | ids_b
        # nothing is sent that the other side already had
        assert run["pushed"] == {"a": len(ids_a - ids_b), "b": len(ids_b - ids_a)}


def test_equal_sets_take_one_round_trip() -> None:
    same = sorted(_item(i // 7, i) for i in range(5000))
    run = reconcile(same, same)
    sa, sb = run["sessions"]["a"], run["sessions"]["b"]
    assert sa.round_trips == 1 and run["pushed"] == {"a": 0, "b": 0}
    assert sa.bytes_out + sb.bytes_out < 4096


def test_recent_gap_is_cheap() -> None:
    """The bench's shape in memory: few round trips, bytes close to the objects' own size."""
    common = [_item(1_000_000 + i // 50 * 600, i) for i in range(20_000)]
    recent = [_item(2_000_000 + i // 50 * 600, 10**6 + i) for i in range(4000)]
    full, behind = sorted(common + recent), sorted(common)
    for a, b in ((full, behind), (behind, full)):
        run = reconcile(a, b)
        sa, sb = run["sessions"]["a"], run["sessions"]["b"]
        assert run["held"]["a"] == run["held"]["b"]
        assert sa.round_trips <= 4
        assert sa.bytes_out + sb.bytes_out + _objects_bytes(4000) <= 1.3 * 4000 * 256


def test_limits_cap_a_turn_and_still_converge() -> None:
    limits = protocol.SyncLimits(max_ranges=8, max_ids=40, first_branch=16, branch=4, id_list_max=8, max_turns=400)
    a = sorted(_item(i % 97, i) for i in range(0, 3000, 2))
    b = sorted(_item(i % 97, i) for i in range(0, 3000, 3))
    run = reconcile(a, b, limits)
    assert run["held"]["a"] == run["held"]["b"] == {oid for _, oid in a + b}


def test_objects_go_in_bounded_frames() -> None:
    session = protocol.SyncSession([], protocol.SyncLimits(max_session_bytes=8 << 20))
    frames = session.objects_frames([os.urandom(4352)] * 1000)
    assert len(frames) > 1 and all(len(f) <= session.limits.max_frame for f in frames)
    peer = protocol.SyncSession([], protocol.SyncLimits(max_session_bytes=8 << 20))
    assert sum(len(peer.receive(f).objects) for f in frames) == 1000


def _serve_empty_request(store: Items, wire_size: int, budget: int | None = None) -> tuple[list[bytes], int]:
    """A responder holding ``store`` answers the 9-byte "I have nothing" request; the ids it pushes, and its bytes."""
    request = protocol.SyncSession([]).start()
    assert sum(len(f) for f in request.frames) == 9
    responder = protocol.SyncSession(store, budget=budget)
    reply = None
    for frame in request.frames:
        reply = responder.receive(frame).reply or reply
    assert reply is not None and reply.done
    sent = responder.objects_frames([bytes(wire_size)] * len(reply.push))
    return list(reply.push[: responder.objects_pushed]), sum(len(f) for f in sent) + sum(len(f) for f in reply.frames)


def test_an_empty_request_gets_a_bounded_answer_newest_first() -> None:
    store = sorted(_item(i // 10, i) for i in range(20_000))
    pushed, size = _serve_empty_request(store, 1024)
    limit = protocol.SyncLimits().max_session_bytes
    assert size <= limit and len(pushed) < len(store)
    # newest first: what waits for the next session is the oldest
    assert set(pushed) == {oid for _, oid in store[-len(pushed) :]}
    # a caller may give a peer less
    fewer, small = _serve_empty_request(store, 1024, budget=64 * 1024)
    assert small <= 64 * 1024 and 0 < len(fewer) < len(pushed)


def test_an_empty_peer_catches_up_over_several_sessions() -> None:
    full = sorted(_item(i // 10, i) for i in range(6000))
    behind: Items = []
    sessions = 0
    while len(behind) < len(full) and sessions < 20:
        sessions += 1
        turns, _ = sync_transcript(behind, full)
        got = set()
        for turn in turns:
            if turn["from"] == "b":
                cut = protocol.SyncSession(full)  # what the budget lets through, newest first
                frames = cut.objects_frames([bytes(1024)] * len(turn["push"]))
                got.update(bytes.fromhex(i) for i in turn["push"][: cut.objects_pushed])
                assert sum(len(f) for f in frames) <= cut.limits.max_session_bytes
        behind = sorted(set(behind) | {x for x in full if x[1] in got})
    assert behind == full and sessions > 1


def _one_session(a: Items, b: Items) -> tuple[Items, Items, int]:
    """A session, ``a`` initiating, with pushes cut by each side's budget (256-byte objects); the sets after, bytes."""
    turns, sides = sync_transcript(a, b)
    held = {"a": set(a), "b": set(b)}
    for turn in turns:
        sender = sides[turn["from"]]
        sender.push_cut = 0
        sender.objects_frames([bytes(256)] * len(turn["push"]))
        sent = {bytes.fromhex(i) for i in turn["push"][: len(turn["push"]) - sender.push_cut]}
        source = held[turn["from"]]
        held["b" if turn["from"] == "a" else "a"].update(x for x in source if x[1] in sent)
    assert all(side.bytes_out <= side.budget for side in sides.values())
    return sorted(held["a"]), sorted(held["b"]), max(side.bytes_out for side in sides.values())


def test_a_large_scattered_difference_settles_over_several_sessions() -> None:
    """Descriptions too long for one session are cut at the end of a turn; later sessions take up the rest."""
    full = sorted(_item(i // 20, i) for i in range(30_000))
    sparse = [x for n, x in enumerate(full) if n % 3]  # 10,000 missing, spread over the whole history
    a, b = full, sparse
    sessions = 0
    while a != b:
        sessions += 1
        assert sessions <= 12, f"not settled: {len(a)} and {len(b)}"
        b, a, size = _one_session(b, a)
        assert size <= protocol.SyncLimits().max_session_bytes
    assert sessions > 1 and a == full


def test_busy_ends_a_session_before_it_starts_and_only_then() -> None:
    initiator = protocol.SyncSession([_item(1, 1)])
    initiator.start()
    got = initiator.receive(protocol.busy_frame(45))
    assert got.finished and got.retry_after == 45
    with pytest.raises(protocol.SyncError):  # the responder never receives BUSY
        protocol.SyncSession([]).receive(protocol.busy_frame(1))
    late = protocol.SyncSession([])
    late.start()
    late.receive(b"\x01\x03\x00")  # a NEED frame of its first turn
    with pytest.raises(protocol.SyncError):
        late.receive(protocol.busy_frame(1))
    for bad in (0, protocol.MAX_RETRY_AFTER + 1):
        with pytest.raises(protocol.UsageError):
            protocol.busy_frame(bad)


def test_more_than_a_session_may_carry_is_refused() -> None:
    limits = protocol.SyncLimits(max_session_bytes=4096)
    sender = protocol.SyncSession([], protocol.SyncLimits(max_session_bytes=1 << 20))
    frames = sender.objects_frames([bytes(256)] * 40)
    receiver = protocol.SyncSession([], limits)
    with pytest.raises(protocol.SyncError, match="more than 4096 bytes"):
        for frame in frames:
            receiver.receive(frame)


def test_unsorted_items_are_refused() -> None:
    with pytest.raises(protocol.UsageError):
        protocol.SyncSession([_item(2, 1), _item(1, 2)])
    with pytest.raises(protocol.UsageError):
        protocol.SyncSession([(1, b"short")])


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"", protocol.SyncError),
        (b"\x02\x01", protocol.UnknownVersion),
        (b"\x01\x09", protocol.SyncError),  # unknown frame type
        (b"\x01\x04\x02", protocol.SyncError),  # END flag out of range
        (b"\x01\x04\x00\x00", protocol.SyncError),  # trailing byte
        (b"\x01\x03\x01" + bytes(31), protocol.SyncError),  # NEED: truncated id
        (b"\x01\x02\x01\x80\x80\x01", protocol.SyncError),  # OBJECTS: object larger than any wire object
        (b"\x01\x01\x05\x00\x00\x01\x00\x00", protocol.SyncError),  # bounds do not increase
        (b"\x01\x01\x00\x00\x00\x00\x00\x00", protocol.SyncError),  # range after the open end
        (b"\x01\x01\x00\x01\x00\x00", protocol.SyncError),  # open end with a prefix
        (b"\x01\x01\x05\x21" + bytes(33), protocol.SyncError),  # prefix longer than an id
        (b"\x01\x01\x00\x00\x07", protocol.SyncError),  # unknown range mode
        (b"\x01\x01\x00\x00\x01\x05" + bytes(15), protocol.SyncError),  # short fingerprint
        (b"\x01\x04\x80\x00", protocol.SyncError),  # non-minimal varint
        (b"\x01\x04" + b"\xff" * 11, protocol.SyncError),  # endless varint
    ],
)
def test_malformed_frames_raise_protocol_errors(frame: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        protocol.SyncSession([]).receive(frame)


@given(st.binary(max_size=300))
def test_any_bytes_fail_only_with_protocol_errors(frame: bytes) -> None:
    session = protocol.SyncSession([_item(1, 1), _item(2, 2)])
    with suppress(protocol.ProtocolError):
        session.receive(bytes([1]) + frame)


def test_oversized_and_endless_input_is_refused() -> None:
    limits = protocol.SyncLimits(max_ids=10, max_turns=3)
    session = protocol.SyncSession([], limits)
    with pytest.raises(protocol.SyncError):
        session.receive(b"\x01\x03\x0b" + bytes(32 * 11))  # more ids than allowed
    with pytest.raises(protocol.SyncError):
        session.receive(bytes(limits.max_frame + 1))
    chatty = protocol.SyncSession([], limits)
    with pytest.raises(protocol.SyncError):
        for _ in range(5):  # a peer that never ends the session
            chatty.receive(b"\x01\x04\x00")
    done = protocol.SyncSession([])
    assert done.receive(b"\x01\x04\x01").finished
    with pytest.raises(protocol.SyncError):
        done.receive(b"\x01\x04\x00")


@pytest.mark.integration
def test_held_erased_and_weakly_stamped_objects_are_never_offered(tmp_path: Path) -> None:
    """Sync serves only what the store lists: own posts still on the stem, erased ones, and ones whose
    stamp is below the swarm's difficulty (a peer would refuse them) stay home."""
    seed, now = os.urandom(32), int(time.time())
    with Store.open(tmp_path / "node.sqlite3") as store:
        swarm = store.add_swarm("friends", os.urandom(32), 0, now, difficulty=8).raw_id

        def minted(text: str) -> protocol.Signed:
            signed = protocol.make_post(seed, text, now=now)
            return signed.with_stamp(protocol.mint_stamp(signed.id, 8) or b"")

        shared, held, gone = minted("shared"), minted("still on the stem"), minted("deleted")
        # Unminted: its all-zero stamp, unless it is worth 8 bits by chance (1 in 256).
        unminted = (protocol.make_post(seed, f"never minted {i}", now=now) for i in range(100))
        weak = next(p for p in unminted if protocol.stamp_bits(p.id, p.stamp or b"") < 8)
        for post in (shared, gone, weak):
            store.ingest(post, swarm, now)
        store.ingest_own(held, [swarm], now)
        store.ingest(protocol.make_delete(seed, gone, now=now), swarm, now)
        run = reconcile(store.object_ids(swarm), [])
        offered = run["held"]["b"]
        assert shared.id in offered
        assert not {held.id, gone.id, weak.id} & offered
        assert store.wires([held.id, gone.id]) == []


# -- real daemons ------------------------------------------------------------------------

FAST = {"P2PNET_SYNC_INTERVAL": "5"}


def _ip(n: int) -> str:
    return f"127.0.4.{n}"


def _node(base: Path, name: str, ip: int, **env: str) -> DaemonProcess:
    node = DaemonProcess(base / name, _ip(ip), env={**FAST, **env})
    node.home.mkdir(parents=True, exist_ok=True)
    node.cli("init")
    return node


def _sync(node: DaemonProcess) -> dict:
    return node.call("status")["swarms"][0]["sync"]


@pytest.mark.integration
def test_restarted_node_catches_up_by_sync(tmp_path: Path) -> None:
    # c is up while a posts: a's posts need another node to spread through (a
    # node alone holds its own posts, and a held post is never offered by sync).
    a, b, c = _node(tmp_path, "a", 1), _node(tmp_path, "b", 2), _node(tmp_path, "c", 6)
    with running(a, b, c):
        a.start(), b.start(), c.start()
        join_swarm(a, [b, c])
        early = a.call("post", text="before the laptop closed")["id"]
        wait_for(lambda: early in b.stored_ids(), what="the first post on b")
        deleted = a.call("post", text="I will take this back")["id"]
        wait_for(lambda: deleted in b.stored_ids(), what="the doomed post on b")
        b.stop()
        missed = [a.call("post", text=f"while you were away {i}")["id"] for i in range(60)]
        a.call("delete", id=deleted)
        wait_for(lambda: a.call("status")["counts"]["held"] == 0, what="a's posts to spread through c")
        # Then c goes, and a restarts with an empty gossip cache: nothing can
        # hand b what it missed by gossip, only by sync.
        c.stop()
        # A self-destructed post that a still holds (until its purge) must not travel.
        a.stop()
        old = int(time.time()) - 7200
        expired = protocol.make_post(os.urandom(32), "gone already", now=old, expires_in=600)
        with Store.open(a.home / "node.sqlite3") as store:
            assert store.ingest(expired, store.swarms()[0].raw_id, old).is_new
        a.start()
        b.start()
        wait_for(lambda: set(missed) <= b.stored_ids(), what="b to catch up")
        wait_for(lambda: deleted not in b.stored_ids(), what="the delete to reach b")
        wait_for(lambda: _sync(b)["fetched"] + _sync(a)["fetched"] >= 60, what="sync counters")
        # b (restarted: counters from zero) got them by sync, so none counts as gossip
        assert b.call("status")["gossip"].get("stored", 0) == 0
        # Several sessions later, the deleted and the expired posts have not come back.
        wait_for(lambda: _sync(b)["sessions_ok"] + _sync(a)["sessions_ok"] >= 3, what="more sessions")
        assert deleted not in a.stored_ids() | b.stored_ids()
        assert expired.id.hex() not in b.stored_ids()
        last = _sync(b)["last"] or _sync(a)["last"]
        assert last["round_trips"] <= 4
        assert "sync" in b.cli("status").stdout


@pytest.mark.integration
def test_garbage_and_slow_peers_stall_no_one(tmp_path: Path) -> None:
    """A peer speaking garbage is cut off; a peer trickling frames holds only its own session."""
    import trio

    from p2pnet.net import SYNC_PROTOCOL, open_swarm_host

    a, b = _node(tmp_path, "a", 3), _node(tmp_path, "b", 5)
    with running(a, b):
        a.start()
        invite_text = a.cli("swarm", "create", "friends").stdout.strip().splitlines()[-1]
        invite = protocol.decode_invite(invite_text, now=int(time.time()))
        post = a.call("post", text="still here")["id"]
        garbage: list[str] = []  # how the garbage stream ended
        attacker_id: list[str] = []
        slow, release = threading.Event(), threading.Event()

        async def attack() -> None:
            async with open_swarm_host(
                host_key_seed=os.urandom(32), psk=invite.psk, topic="x", validator=lambda d: True, listen_ip=_ip(4)
            ) as host:
                await host.connect(invite.bootstrap[0])
                peer = invite.bootstrap[0].rsplit("/", 1)[1]
                attacker_id.append(host.peer_id)
                async with host.open_stream(peer, SYNC_PROTOCOL) as stream:
                    await stream.send(b"\x01\x01\xff\xff\xff")  # a range frame cut short
                    try:
                        with trio.fail_after(20):
                            await stream.receive(1 << 20)
                    except Exception as exc:
                        garbage.append(type(exc).__name__)
                async with host.open_stream(peer, SYNC_PROTOCOL) as stream:
                    # Valid frames, one every second: each resets a's read deadline.
                    for n in range(1, 120):
                        await stream.send(bytes([1, 1, n + 1, 0, 0]))  # one SKIP range up to time n
                        slow.set()
                        if release.is_set():
                            return
                        await trio.sleep(1)

        attacker = threading.Thread(target=trio.run, args=(attack,))
        attacker.start()
        try:
            assert slow.wait(60)
            assert garbage == ["StreamError"]  # closed on it
            b.start()
            b.cli_json("swarm", "join", invite_text)
            wait_for(lambda: post in b.stored_ids(), what="b to get the post by sync")
            assert attacker_id[0] in _sync(a)["peers"]  # while the slow peer still holds its session
        finally:
            release.set()
            attacker.join()
        assert _sync(a)["sessions_failed"] >= 1 and a.call("status")["identity"] == "ready"


@pytest.mark.integration
def test_partition_heals(tmp_path: Path) -> None:
    """Two halves post 200 each while apart; after they meet, every node holds the same set.

    The issue's "within 60 s of healing" is a timing target: ``bench/partition.py``
    measures it.  Here the wait is only a generous deadline.
    """
    nodes = [_node(tmp_path, f"n{i}", 10 + i) for i in range(4)]
    with partition(nodes, 200) as run:
        wait_for(run.healed, timeout=3 * DEADLINE, what="every post on every node")
        sets = [node.stored_ids() for node in nodes]
        assert all(s == sets[0] for s in sets)


@pytest.mark.integration
def test_churn_every_post_reaches_every_node_up(tmp_path: Path) -> None:
    """Five nodes, one (20 %) killed and restarted again and again while the others post."""
    nodes = [_node(tmp_path, f"c{i}", 20 + i) for i in range(5)]
    with running(*nodes):
        for node in nodes:
            node.start()
        join_swarm(nodes[0], nodes[1:])
        churner = nodes[4]
        acked: list[list[str]] = [[] for _ in range(3)]
        stop = threading.Event()
        threads = [post_in_thread(nodes[i], f"churn {i}", 10_000, acked[i], stop) for i in range(3)]
        for kill in range(4):
            churner.stop(signal.SIGKILL if kill % 2 else signal.SIGTERM)
            time.sleep(0.5)  # posts made now reach it only by sync
            churner.start()
            time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()
        everything = {i for a in acked for i in a}
        # Stem objects the churner was relaying died with it; they come back by
        # their authors' embargoes (10 s and more), then gossip or sync.
        for node in nodes:
            wait_for(
                lambda node=node: everything <= node.stored_ids(),
                timeout=2 * DEADLINE,
                what=f"every post on {node.home.name}",
            )
