"""Real nodes (store, pipelines, stem, sync, control API) on the in-memory network and a MockClock.

What these prove takes seconds here and minutes with real daemons: the stem's
embargo, sync after an absence, back-offs.  The real-host and real-daemon
tests prove the same paths over libp2p.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from harness.fakenet import FakeNet
from harness.inproc import fake_nodes, join, make_fake_node, running_nodes, stored
from harness.polling import until

import protocol
from p2pnet import api
from p2pnet.node import ApiError, Node
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
