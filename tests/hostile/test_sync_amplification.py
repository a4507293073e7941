"""A looped "I have nothing" sync request gets a bounded answer, not the store again and again.

The 9-byte first turn of a peer that holds nothing (one empty id list up to
infinity) made a node push its whole store, as often as it was asked.  Now
an answer is at most ``max_session_bytes``, newest first; a peer may start 8
sessions, then 4 a minute, and is sent at most 8 MiB, then 4 MiB a minute;
past that it gets BUSY (docs/sync.md).  The limits are those of its address,
so four keys there pull no more than one.  A real node on the in-memory network
and a MockClock, asked by a raw host once a second for ten minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import trio
import trio.testing
from _attacker import stamped_posts
from harness.fakenet import FakeNet
from harness.inproc import LOW_DIFFICULTY, inline, make_fake_node, running_nodes
from harness.polling import until

import protocol
from p2pnet import api
from p2pnet.net import SYNC_PROTOCOL, StreamError, SwarmSync
from p2pnet.net._sync import BYTES_LIMIT, SESSION_LIMIT

MINUTES = 10


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def ask_for_everything(evil: object, target: str) -> tuple[int, int, int]:
    """One session from a peer that holds nothing: (bytes answered, objects pushed, BUSY's wait or 0)."""
    request = protocol.SyncSession([])
    answered = pushed = 0
    async with evil.open_stream(target, SYNC_PROTOCOL) as stream:  # type: ignore[attr-defined]
        for frame in request.start().frames:
            await stream.send(frame)
        while not request.finished:
            try:
                frame = await stream.receive(1 << 20)
            except StreamError:
                break
            answered += len(frame)
            got = request.receive(frame)
            pushed += len(got.objects)
            if got.retry_after:
                return answered, pushed, got.retry_after
    return answered, pushed, 0


@pytest.mark.parametrize("keys", [1, 4])
async def test_a_looped_empty_request_gets_bounded_answers(
    tmp_path: Path, clock: trio.testing.MockClock, keys: int
) -> None:
    """Four keys at one address share its limits: a new key is free, an address is not."""
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        node = make_fake_node(net, tmp_path / "a", 1)
        async with running_nodes(node):
            await node.request(api.SwarmCreate(name="friends", difficulty=LOW_DIFFICULTY))
            runtime = next(iter(node.swarms.running.values()))
            # 1,200 posts of the 1 KiB size bucket: more than one answer may carry.
            posts = stamped_posts(1200, LOW_DIFFICULTY, size=400, now=node.now())
            node.store.ingest_many([(p, runtime.id) for p in posts], node.now())
            store_bytes = sum(len(p.wire) for p in posts)
            limit = protocol.SyncLimits().max_session_bytes
            assert store_bytes > limit
            evils = [
                net.host(f"FakeEvil{k}", psk=runtime.psk, addr=f"/ip4/10.6.6.6/tcp/{4001 + k}/p2p/FakeEvil{k}")
                for k in range(keys)
            ]
            for evil in evils:
                await evil.connect(runtime.host.listen_addrs[0])

            total = answers = busy = 0
            started = trio.current_time()
            while trio.current_time() - started < MINUTES * 60:
                for evil in evils:
                    size, pushed, wait = await ask_for_everything(evil, runtime.host.peer_id)
                    total += size
                    assert size <= limit  # one answer is bounded
                    if wait:
                        busy += 1
                    elif pushed:
                        answers += 1
                        assert pushed < len(posts)  # never the whole store
                await trio.sleep(1)  # and it asks again, whatever BUSY said
            elapsed = trio.current_time() - started
            assert total <= BYTES_LIMIT.burst + BYTES_LIMIT.rate * elapsed
            assert answers <= SESSION_LIMIT.burst + SESSION_LIMIT.rate * elapsed
            assert busy > 0  # past its limits it was told to wait
            status = (await node.request(api.Status())).swarms[0].sync
            assert status is not None and status.refused == busy
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("full_starts", [True, False])
async def test_an_empty_honest_peer_still_catches_up_whoever_starts(
    clock: trio.testing.MockClock, full_starts: bool
) -> None:
    """Answers are bounded, so catching up takes several sessions, one after the other, with no periodic sync."""
    posts = stamped_posts(3000, 0, size=400)  # about 3.2 MB: more than three answers
    # The side whose peer id sorts first starts the session on connect.
    full, empty = ("A", "B") if full_starts else ("B", "A")
    stored: dict[str, dict[bytes, protocol.Signed]] = {full: {p.id: p for p in posts}, empty: {}}

    def side(name: str) -> SwarmSync:
        objects = stored[name]

        async def accept(wires: Sequence[bytes]) -> int:
            for wire in wires:
                signed = protocol.decode(wire)
                objects[signed.id] = signed
            return len(wires)

        return SwarmSync(
            net.hosts[name],  # type: ignore[arg-type]
            items=lambda: sorted((s.obj.created, s.id) for s in objects.values()),
            wires=lambda ids: [objects[i].wire for i in ids],
            accept=accept,
            interval=0,
            offload=inline,
        )

    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        for name in ("A", "B"):
            net.host(name)
        syncs = {name: side(name) for name in ("A", "B")}
        for sync in syncs.values():
            sync.start()
        net.link("A", "B")
        await until(lambda: len(stored[empty]) == len(posts), "the empty side to catch up")
        await until(lambda: not syncs["A"].stats.active and not syncs["B"].stats.active, "the sessions to end")
        starter = syncs["A"].stats
        assert starter.sessions_ok >= 3 and starter.last is not None and starter.last["initiator"]
        assert syncs["B"].stats.sessions_ok == starter.sessions_ok  # every session was A's
        nursery.cancel_scope.cancel()
