"""Leaving a swarm: what this node held only because of it goes, and comes back with a new join."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from harness.inproc import fake_nodes, join, stored
from harness.polling import until

import protocol
from p2pnet import api
from p2pnet.store import Store

NOW = 1_763_700_000
FRIENDS, WORK = bytes(range(100, 132)), bytes(range(140, 172))
AUTHOR, OTHER = bytes(range(32)), bytes(range(1, 33))


def test_leaving_drops_what_no_other_swarm_holds_and_a_new_join_takes_it_again(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "node.db")
    try:
        friends = store.add_swarm("friends", FRIENDS, 0, NOW).raw_id
        work = store.add_swarm("work", WORK, 0, NOW).raw_id
        only = protocol.make_post(AUTHOR, "whispered among friends only", now=NOW)
        both = protocol.make_post(AUTHOR, "said in both circles", now=NOW)
        answer = protocol.make_reply(OTHER, both, "answered among friends", now=NOW)
        heart = protocol.make_heart(OTHER, both.id, now=NOW)
        gone = protocol.make_post(AUTHOR, "taken back", now=NOW)
        delete = protocol.make_delete(AUTHOR, gone, now=NOW)
        for signed in (only, both, answer, heart, gone, delete):
            store.ingest(signed, friends, NOW)
        store.ingest(both, work, NOW)

        store.remove_swarm("friends")
        assert store.drop_unswarmed() == 3  # the post, the reply and the heart seen only in friends
        assert store.get(only.id.hex()) is None and store.get(answer.id.hex()) is None
        kept = store.feed(now=NOW).rows
        assert [(r.text, r.hearts, r.replies) for r in kept] == [("said in both circles", 0, 0)]
        assert store.search("whispered", now=NOW) == [] and store.search("answered", now=NOW) == []
        assert store.get(delete.id.hex()) is not None, "a delete stays: what it took back must not return"
        assert store.ingest(gone, work, NOW).status == "rejected"
        assert store.drop_unswarmed() == 0

        again = store.add_swarm("friends", FRIENDS, 0, NOW).raw_id
        assert store.ingest(only, again, NOW).status == "new", "dropped, not erased: it may come back"
    finally:
        store.close()


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.mark.trio
async def test_a_swarm_left_takes_its_posts_out_of_the_feed(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 2) as (_, (a, b)):
        await join(a, [b], "friends")
        await b.request(api.SwarmCreate(name="work", difficulty=8))
        post = await a.request(api.Post(text="among friends"))
        await until(lambda: stored(b, post.id), "the post at b")
        events = b.hub.subscribe()
        await b.request(api.SwarmLeave(name="friends"))
        assert (await b.request(api.Feed())).posts == []
        assert not stored(b, post.id)
        with trio.fail_after(5):
            while not isinstance(event := (await events.receive.receive())["data"], api.SwarmLeftEvent):
                pass
        assert event == api.SwarmLeftEvent(left="friends", dropped=1)


@pytest.mark.trio
async def test_creating_a_swarm_is_announced_like_joining_one(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 1) as (_, (a,)):
        events = a.hub.subscribe()
        await a.request(api.SwarmCreate(name="work", difficulty=8))
        assert (await events.receive.receive())["data"] == api.SwarmEvent(joined="work")
