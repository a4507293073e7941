"""Real nodes (store, pipelines, stem, sync, control API) on the in-memory network and a MockClock.

What these prove takes seconds here and minutes with real daemons: the stem's
embargo, sync after an absence, back-offs.  The real-host and real-daemon
tests prove the same paths over libp2p.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing
from harness.fakenet import FakeHost, FakeNet
from harness.inproc import LOW_DIFFICULTY, fake_nodes, join, make_fake_node, running_nodes, stored
from harness.polling import until

import protocol
from p2pnet import api
from p2pnet.node import ApiError, Node, Source
from p2pnet.store import PeerRow

pytestmark = pytest.mark.trio


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_post_reply_heart_and_delete_reach_every_node(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 3) as (_, (a, b, c)):
        await join(a, [b, c])
        post = await a.request(api.Post(text="said once, seen everywhere"))
        await until(lambda: all(stored(n, post.id) for n in (b, c)), "the post everywhere")
        reply = await b.request(api.Reply(id=post.id, text="and answered"))
        heart = await c.request(api.Heart(id=post.id))
        await until(lambda: all(stored(n, reply.id) and stored(n, heart.id) for n in (a, b, c)), "reply and heart")
        thread = await c.request(api.Thread(id=post.id))
        assert (thread.root.hearts, [r.text for r in thread.replies]) == (1, ["and answered"])
        gone = await a.request(api.Delete(id=post.id))
        await until(lambda: all(stored(n, gone.id) and not stored(n, post.id) for n in (a, b, c)), "the delete")
        for node in (a, b, c):
            assert (await node.request(api.Feed())).posts == []
            assert (await node.request(api.Status())).failures == {}


async def test_own_post_waits_alone_then_spreads_and_is_released(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 3) as (net, (a, b, c)):
        created = await a.request(api.SwarmCreate(name="alone"))
        post = await a.request(api.Post(text="nobody here yet"))
        await trio.sleep(3600)
        assert net.published == [] and net.stems == []  # an hour alone: nothing left the node
        assert a.store.counts()["held"] == 1
        for node in (b, c):
            await node.request(api.SwarmJoin(invite=created.invite))
        await until(lambda: all(stored(n, post.id) for n in (b, c)), "the post at b and c")
        assert net.stems and net.stems[0][0] == a.swarms.running[next(iter(a.swarms.running))].host.peer_id
        await until(lambda: a.store.counts()["held"] == 0, "a's post released once it came back")


async def test_a_node_back_from_an_absence_catches_up_by_sync(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        a, c = make_fake_node(net, tmp_path / "a", 1), make_fake_node(net, tmp_path / "c", 3)
        b = make_fake_node(net, tmp_path / "b", 2)
        async with running_nodes(a, c):
            async with running_nodes(b):
                await join(a, [b, c])
            # b is away; a's posts spread to c.
            missed = [(await a.request(api.Post(text=f"while b was away {i}"))).id for i in range(40)]
            await until(lambda: all(stored(c, i) for i in missed) and a.store.counts()["held"] == 0, "spread to c")
            back = make_fake_node(net, tmp_path / "b", 2)
            async with running_nodes(back):
                await until(lambda: all(stored(back, i) for i in missed), "b to catch up")
                st = await back.request(api.Status())
                assert st.gossip.received == 0  # nobody gossips them again: only sync could bring them
                assert st.swarms[0].sync is not None and st.swarms[0].sync.fetched >= len(missed)
        nursery.cancel_scope.cancel()


async def test_a_failing_loop_is_counted_and_restarted(
    tmp_path: Path, clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with fake_nodes(tmp_path, 2) as (_, (a, b)):
        await join(a, [b])
        real_peers = b.store.peers
        calls = 0

        def flaky(swarm: bytes) -> list[PeerRow]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("a bug in one round of redialling")
            return real_peers(swarm)

        monkeypatch.setattr(b.store, "peers", flaky)
        await until(lambda: calls >= 3, "the redial loop to run again after its failure")
        status = await b.request(api.Status())
        assert status.failures == {"redial_loop": 1}
        post = await a.request(api.Post(text="still connected"))
        await until(lambda: stored(b, post.id), "the post at b")


async def test_object_events_carry_the_post_as_it_stands(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 2) as (_, (a, b)):
        await join(a, [b])
        events = b.hub.subscribe()

        async def next_event(kind: str) -> api.ObjectEvent:
            with trio.fail_after(600):
                while True:
                    event = (await events.receive.receive())["data"]
                    if isinstance(event, api.ObjectEvent) and event.kind == kind:
                        return event

        post = await a.request(api.Post(text="watch this one", bg="teal"))
        seen = await next_event("post")
        assert seen.id == post.id and seen.item is not None
        assert (seen.item.text, seen.item.bg) == ("watch this one", "teal")
        await a.request(api.Reply(id=post.id, text="a reply"))
        replied = await next_event("reply")
        assert replied.root == post.id and replied.item is not None and replied.item.replies == 1
        await a.request(api.Heart(id=post.id))
        hearted = await next_event("heart")
        assert hearted.target == post.id and hearted.item is not None and hearted.item.hearts == 1
        await a.request(api.Delete(id=post.id))
        deleted = await next_event("delete")
        assert deleted.target == post.id and deleted.item is None


async def test_swarm_create_refuses_a_name_no_invite_could_carry(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 1) as (_, (a,)):
        for bad in ("x" * 33, "x" * 70, "a\u202eb", "tab\there"):
            with pytest.raises(ApiError) as refused:
                await a.request(api.SwarmCreate(name=bad))
            assert refused.value.code == "bad_request"
            assert str(refused.value) == "a swarm name is 1 to 32 printable characters"
        assert (await a.request(api.SwarmList())).swarms == []


async def test_a_second_swarm_of_a_taken_name_is_joined_under_a_name_that_fits(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    longest = "x" * protocol.MAX_SWARM_NAME_CHARS
    async with fake_nodes(tmp_path, 3) as (_, (a, b, c)):
        for node in (b, c):
            await node.request(api.SwarmCreate(name=longest))
        created = await a.request(api.SwarmCreate(name=longest))
        sid = protocol.swarm_id(protocol.decode_invite(created.invite, now=a.now()).psk)
        for bad in ("y" * 33, "\u200b", "tab\there"):
            with pytest.raises(ApiError) as refused:
                await b.request(api.SwarmJoin(invite=created.invite, name=bad))
            assert refused.value.code == "bad_request"
            assert str(refused.value) == "a swarm name is 1 to 32 printable characters"
        assert [s.name for s in (await b.request(api.SwarmList())).swarms] == [longest]  # nothing kept

        joined = await b.request(api.SwarmJoin(invite=created.invite))
        assert joined.name == "x" * 27 + "-" + sid.hex()[:4]
        invite = await b.request(api.SwarmInvite(name=joined.name))  # every joined swarm can be invited to
        assert protocol.decode_invite(invite.invite, now=b.now()).name == joined.name
        assert (await c.request(api.SwarmJoin(invite=created.invite, name="theirs"))).name == "theirs"


async def test_a_swarm_left_can_be_joined_again_at_once(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 2) as (_, (a, b)):
        created = await a.request(api.SwarmCreate(name="friends"))
        await b.request(api.SwarmJoin(invite=created.invite))
        await b.request(api.SwarmLeave(name="friends"))
        assert (await b.request(api.SwarmList())).swarms == []
        again = await b.request(api.SwarmJoin(invite=created.invite))  # the old host is gone: nothing in the way
        assert again.connected == 1
        post = await a.request(api.Post(text="welcome back"))
        await until(lambda: stored(b, post.id), "the post at b")


def _minted(signed: protocol.Signed, difficulty: int = LOW_DIFFICULTY) -> protocol.Signed:
    stamp = protocol.mint_stamp(signed.id, difficulty)
    assert stamp is not None
    return signed.with_stamp(stamp)


@asynccontextmanager
async def _swarm_with_an_attacker(tmp_path: Path, count: int = 2) -> AsyncIterator[tuple[list[Node], FakeHost]]:
    """``count`` nodes in one swarm, and a hostile host holding its key, linked to the first; checks nothing it sends.

    The nodes' clocks start a second into a 10-minute step, so a test's few
    minutes never cross into the next one.
    """
    start = protocol.coarsen(int(time.time())) + 1
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        nodes = [
            make_fake_node(net, tmp_path / f"n{i}", i + 1, clock=lambda: start + trio.current_time())
            for i in range(count)
        ]
        async with running_nodes(*nodes):
            sid = await join(nodes[0], nodes[1:])
            attacker = net.host("attacker", psk=nodes[0].store.swarms()[0].psk)
            net.link("attacker", nodes[0].swarms.running[sid].host.peer_id)
            yield nodes, attacker
        nursery.cancel_scope.cancel()


async def test_the_first_page_stays_honest_under_posts_dated_a_step_ahead(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    """200 posts dated one step ahead (the skew every node tolerates) no longer hold page 1 of Latest."""
    async with _swarm_with_an_attacker(tmp_path) as ((a, b), attacker):
        ahead = protocol.coarsen(a.now()) + protocol.TIME_QUANTUM
        flood = [_minted(protocol.make_post(os.urandom(32), f"pinned {i}", now=ahead)) for i in range(200)]
        for signed in flood:
            await attacker.publish(signed.wire)
        await until(lambda: all(stored(n, s.id.hex()) for n in (a, b) for s in flood), "the flood at a and b")
        honest = await b.request(api.Post(text="written after the flood"))
        await until(lambda: stored(a, honest.id), "the honest post at a")
        for node in (a, b):
            page = await node.request(api.Feed(limit=50))
            assert page.posts[0].id == honest.id
            assert {p.created for p in page.posts[1:]} == {ahead}  # shown with the time they claim


async def test_a_flood_beyond_the_quota_keeps_your_own_posts(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with _swarm_with_an_attacker(tmp_path) as ((a, b), attacker):
        mine = [(await a.request(api.Post(text=f"mine {i}"))).id for i in range(5)]
        theirs = [(await b.request(api.Post(text=f"an honest peer's {i}"))).id for i in range(3)]
        await until(lambda: all(stored(a, i) for i in theirs) and a.store.counts()["held"] == 0, "b's posts at a")
        with pytest.raises(ApiError) as refused:
            await a.request(api.SwarmSet(name="friends", quota=64 * 1024 - 1))
        assert refused.value.code == "bad_request" and "quota must be an integer between 65536" in str(refused.value)
        settings = await a.request(api.SwarmSet(name="friends", quota=64 * 1024))
        assert settings.quota == 64 * 1024
        await trio.sleep(3600)  # an hour later the flood comes: everything above is older than it
        flood = [_minted(protocol.make_post(os.urandom(32), f"flood {i}", now=a.now())) for i in range(400)]
        for signed in flood:
            await attacker.publish(signed.wire)
        await until(lambda: a.inbound.counts[Source.GOSSIP]["received"] >= len(flood), "the flood through a's store")
        status = await a.request(api.Status())
        (usage,) = status.usage
        assert usage.swarm == "friends" and usage.bytes <= usage.quota == 64 * 1024 and usage.evicted > 0
        assert all(stored(a, i) for i in mine)  # never the user's own
        assert not any(stored(a, i) for i in theirs)  # the oldest others' went first
        assert all(stored(b, i) for i in theirs)  # b keeps its own default quota
        shown = {p.id for p in (await a.request(api.Feed(limit=500))).posts}
        assert set(mine) <= shown


async def test_nothing_about_a_mute_leaves_the_node(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    """Muting changes what a's user sees, and nothing a peer or the wire could notice."""
    async with fake_nodes(tmp_path, 2) as (net, (a, b)):
        sid = await join(a, [b])
        events = a.hub.subscribe()
        post = await b.request(api.Post(text="spoilers: the butler did it"))
        other = await b.request(api.Post(text="an ordinary day"))
        reply = await b.request(api.Reply(id=other.id, text="a reply to mute"))
        await until(lambda: all(stored(a, i) for i in (post.id, other.id, reply.id)), "b's posts at a")
        await until(lambda: b.store.counts()["held"] == 0, "b's posts spread")
        await trio.sleep(600)  # every stem, embargo and fluff is over
        wire = (len(net.published), len(net.stems))
        served, theirs = a.store.object_ids(sid), b.store.counts()
        while True:  # drain the events so far
            with trio.move_on_after(1):
                await events.receive.receive()
                continue
            break

        await a.request(api.Mute(word="Spoilers"))
        await a.request(api.Mute(author=reply.id))
        await a.request(api.Mute(thread=other.id))
        runtime = a.swarms.running[sid]
        assert await runtime.sync.sync_with(b.swarms.running[sid].host.peer_id)  # a session after muting
        await trio.sleep(600)
        assert (len(net.published), len(net.stems)) == wire  # nothing published, nothing stemmed
        assert runtime.sync.stats.last is not None and runtime.sync.stats.last["sent"] == 0
        assert b.store.counts() == theirs and a.store.object_ids(sid) == served  # still stored, still served
        assert [p.id for p in (await a.request(api.Feed())).posts] == []
        muted = await a.request(api.MuteList())
        assert muted.words == ["spoilers"] and [t.id for t in muted.threads] == [other.id]

        # Events: what the user muted is not announced; the rest is.
        await b.request(api.Post(text="more spoilers coming"))
        await b.request(api.Reply(id=other.id, text="in the hidden thread"))
        shown = await b.request(api.Post(text="nothing to hide"))
        with trio.fail_after(600):
            event = (await events.receive.receive())["data"]
        assert isinstance(event, api.ObjectEvent) and event.id == shown.id


async def _hearts_at(node: Node, post_id: str) -> int | None:
    """The hearts the node's feed shows on the post; None while it is not in the feed."""
    posts = {item.id: item for item in (await node.request(api.Feed())).posts}
    return posts[post_id].hearts if post_id in posts else None


async def test_a_heart_carries_a_post_with_its_heart_and_the_delete_follows(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    """B posts in friends; A, in friends and work, hearts it into work, where D reads it; B's delete reaches D."""
    async with fake_nodes(tmp_path, 3) as (_, (a, b, d)):
        await join(b, [a], "friends")
        await join(a, [d], "work")
        post = await b.request(api.Post(text="said among friends"))
        await until(lambda: stored(a, post.id), "the post at a")
        await a.request(api.Heart(id=post.id))
        shown: list[int | None] = []

        async def hearts_at_d() -> bool:
            shown[:] = [await _hearts_at(d, post.id)]
            return shown[0] == 1

        with trio.fail_after(600):
            while not await hearts_at_d():
                await trio.sleep(1)
        gone = await b.request(api.Delete(id=post.id))
        await until(lambda: not stored(d, post.id) and stored(d, gone.id), "the delete at d, who is not in friends")
        assert (await d.request(api.Feed())).posts == []


async def test_a_carrier_back_from_an_absence_carries_the_delete_it_caught_up_on(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        a, b, d = (make_fake_node(net, tmp_path / name, n) for n, name in enumerate("abd", 1))
        async with running_nodes(b, d):
            async with running_nodes(a):
                await join(b, [a], "friends")
                work = await join(a, [d], "work")
                post = await b.request(api.Post(text="said among friends"))
                await until(lambda: stored(a, post.id), "the post at a")
                await a.request(api.Heart(id=post.id))
                await until(lambda: stored(d, post.id), "the post carried to d")
            # a is away when b takes the post back: only sync can tell a, and only a can tell d.
            gone = await b.request(api.Delete(id=post.id))
            back = make_fake_node(net, tmp_path / "a", 1)
            async with running_nodes(back):
                await until(lambda: not stored(back, post.id), "a caught up on the delete")
                offered = {oid.hex() for _, oid in back.store.object_ids(work)}
                assert gone.id in offered, "sync in work offers the delete"
                await until(lambda: not stored(d, post.id), "the delete carried to d")
        nursery.cancel_scope.cancel()
