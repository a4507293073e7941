"""Proof-of-work stamps in the node (docs/protocol.md, section 13): every object out is minted, every one in checked.

In process, on the in-memory network and a MockClock, swarms ask 8 bits
(``inproc.LOW_DIFFICULTY``: a few hundred hashes) unless a test says
otherwise; one test mints at the default, 18.  The last test runs real
daemons on 127.0.12.N with a hostile libp2p peer.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
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
from p2pnet.net import STEM_PROTOCOL, SwarmSync
from p2pnet.node import ApiError, Node
from p2pnet.node._mint import MINT_SLICE
from p2pnet.store import Store

pytestmark = pytest.mark.trio

D = LOW_DIFFICULTY


def bits(signed: protocol.Signed) -> int:
    """The leading zero bits of a version 2 object's stamp."""
    assert signed.stamp is not None
    return protocol.stamp_bits(signed.id, signed.stamp)


def minted(signed: protocol.Signed, difficulty: int) -> protocol.Signed:
    stamp = protocol.mint_stamp(signed.id, difficulty)
    assert stamp is not None
    return signed.with_stamp(stamp)


def refused_posts(now: int, difficulty: int = D) -> list[protocol.Signed]:
    """Well-formed, well-signed posts a swarm of ``difficulty`` must refuse for their stamp alone.

    One unminted (an all-zero stamp), one minted for a lower difficulty, one
    of version 1 (no stamp at all).
    """
    seed = os.urandom(32)
    candidates = (protocol.make_post(seed, f"spam {i}", now=now) for i in range(1000))
    unminted = (p for p in candidates if bits(p) < difficulty)  # all but 1 in 2**difficulty
    zero = next(unminted)
    weak = next(w for w in (minted(p, difficulty // 2) for p in unminted) if bits(w) < difficulty)
    base = protocol.make_post(seed, "spam of version 1", now=now)
    key = protocol.own_key(seed, base)
    assert key is not None
    old = protocol.sign(base.obj, key, version=1)
    for signed in (zero, weak, old):
        assert protocol.decode(signed.wire) == signed  # the signature is good
        with pytest.raises(protocol.BadStamp):
            protocol.decode(signed.wire, difficulty=difficulty)
    return [zero, weak, old]


def stored_wire(node: Node, object_id: str) -> protocol.Signed:
    signed = node.store.get(object_id)
    assert signed is not None
    return signed


def runtime_of(node: Node, swarm_id: bytes) -> tuple[str, str]:
    """The node's peer id and address in a swarm."""
    host = node.swarms.running[swarm_id].host
    return host.peer_id, host.listen_addrs[0]


@asynccontextmanager
async def hostile(net: FakeNet, node: Node, swarm_id: bytes, n: int) -> AsyncIterator[FakeHost]:
    """A host that holds the swarm key but checks nothing, connected to ``node``."""
    runtime = node.swarms.running[swarm_id]
    async with net.open_host(
        host_key_seed=os.urandom(32),
        psk=runtime.psk,
        topic="p2pnet/v1/" + swarm_id.hex(),
        validator=lambda data: True,  # it forwards anything
        listen_ip=f"10.0.0.{n}",
    ) as host:
        await host.connect(runtime.host.listen_addrs[0])
        yield host


async def peers_of(node: Node) -> api.SwarmPeers:
    (swarm,) = (await node.request(api.Peers())).swarms
    return swarm


# -- what comes in --------------------------------------------------------------------------


async def test_gossip_refuses_weak_stamps_and_counts_them_against_the_sender(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with fake_nodes(tmp_path, 2) as (net, (a, b)):
        sid = await join(a, [b])
        async with hostile(net, a, sid, 66) as evil:
            bad = refused_posts(a.now())
            for signed in bad:
                await evil.publish(signed.wire)
            good = minted(protocol.make_post(os.urandom(32), "minted, so welcome", now=a.now()), D)
            await evil.publish(good.wire)
            await until(lambda: stored(b, good.id.hex()), "the minted post at b")
            assert (await peers_of(a)).invalid == {evil.peer_id: len(bad)}
            assert (await a.request(api.Status())).gossip.invalid == len(bad)
            for node in (a, b):
                assert not any(stored(node, s.id.hex()) for s in bad)
                assert (await node.request(api.Status())).counts.posts == 1


async def test_the_stem_refuses_weak_stamps_and_counts_them_against_the_sender(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with fake_nodes(tmp_path, 2) as (net, (a, b)):
        sid = await join(a, [b])
        a_peer, _ = runtime_of(a, sid)
        async with hostile(net, a, sid, 66) as evil:
            bad = refused_posts(a.now())
            for i, signed in enumerate(bad, 1):
                # The relay closes the stream at the first refusal: one stream each.
                async with evil.open_stream(a_peer, STEM_PROTOCOL) as stream:
                    await stream.send(protocol.encode_stem(signed.wire))
                    await until(lambda i=i: a.swarms.running[sid].stem.invalid[evil.peer_id] == i, f"refusal {i}")
            good = minted(protocol.make_post(os.urandom(32), "minted, so relayed", now=a.now()), D)
            async with evil.open_stream(a_peer, STEM_PROTOCOL) as stream:
                await stream.send(protocol.encode_stem(good.wire))
                await until(lambda: stored(b, good.id.hex()), "the minted post at b, by stem then gossip")
            assert (await peers_of(a)).stem_invalid == {evil.peer_id: len(bad)}
            for node in (a, b):
                assert not any(stored(node, s.id.hex()) for s in bad)


async def test_sync_refuses_weak_stamps_and_ends_the_session(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with fake_nodes(tmp_path, 1) as (net, (a,)):
        sid = await join(a, [])
        a_peer, _ = runtime_of(a, sid)
        offered: list[protocol.Signed] = []

        async def accept(wires: Sequence[bytes]) -> int:
            return 0

        async with hostile(net, a, sid, 66) as evil:
            sync = SwarmSync(
                evil,
                items=lambda: sorted((s.obj.created, s.id) for s in offered),
                wires=lambda ids: [s.wire for s in offered if s.id in ids],
                accept=accept,
                interval=0,
            )
            stats = a.swarms.running[sid].sync.stats
            for signed in refused_posts(a.now()):
                offered[:] = [signed]
                failed = stats.sessions_failed
                await sync.sync_with(a_peer)  # done on its side once it has pushed
                await until(lambda failed=failed: stats.sessions_failed > failed, "a to end the session")
                assert not stored(a, signed.id.hex())
            assert stats.fetched == 0
            good = minted(protocol.make_post(os.urandom(32), "minted, so taken", now=a.now()), D)
            offered[:] = [good]
            assert await sync.sync_with(a_peer)
            await until(lambda: stored(a, good.id.hex()), "the minted post at a")
            assert stats.fetched == 1


# -- what goes out -------------------------------------------------------------------------------


async def test_an_own_post_is_acknowledged_before_its_stamp_and_goes_out_minted(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """At the default difficulty, 18 bits."""
    async with fake_nodes(tmp_path, 2) as (net, (a, b)):
        await join(a, [b], difficulty=protocol.DEFAULT_DIFFICULTY)
        assert a.store.swarms()[0].difficulty == b.store.swarms()[0].difficulty == 18
        sent = len(net.stems), len(net.published)
        post = await a.request(api.Post(text="said at once, sent once minted"))
        # The id is back and the post is on disk, held; its stamp is still to be found.
        assert post.published_to == 1
        assert bits(stored_wire(a, post.id)) < 18 and a.store.counts()["held"] == 1
        assert (await a.request(api.Status())).minting == 1
        assert (len(net.stems), len(net.published)) == sent  # nothing has left
        await until(lambda: stored(b, post.id), "the post at b")
        assert bits(stored_wire(b, post.id)) >= 18 and bits(stored_wire(a, post.id)) >= 18
        assert (await a.request(api.Status())).minting == 0
        out = [protocol.decode(frame, verify=False) for _, _, frame in net.stems]
        out += [protocol.decode(payload, verify=False) for _, payload, _ in net.published]
        copies = [signed for signed in out if signed.id.hex() == post.id]
        assert copies and all(bits(c) >= 18 for c in copies)  # never sent unminted


async def test_own_objects_are_minted_one_at_a_time_oldest_first(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with fake_nodes(tmp_path, 2) as (net, (a, b)):
        sid = await join(a, [b])
        ids = [(await a.request(api.Post(text=f"in order {i}"))).id for i in range(5)]
        assert (await a.request(api.Status())).minting == 5
        await until(lambda: all(stored(b, i) for i in ids), "every post at b")
        a_peer, _ = runtime_of(a, sid)
        sent = [protocol.decode(frame, verify=False).id.hex() for sender, _, frame in net.stems if sender == a_peer]
        assert [i for i in dict.fromkeys(sent) if i in ids] == ids  # first stem frames in the order posted


async def test_a_restart_mints_held_objects_again_before_they_are_sent(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        a, b = make_fake_node(net, tmp_path / "a", 1), make_fake_node(net, tmp_path / "b", 2)
        async with running_nodes(b):
            async with running_nodes(a):
                sid = await join(a, [b])
                seed = a.identity.require()
            # a stopped after it stored its post and before the stamp was found (or was killed then).
            candidates = (protocol.make_post(seed, f"stored, never minted {i}", now=a.now()) for i in range(99))
            unminted = next(p for p in candidates if bits(p) < D)
            with Store.open(a.home.database) as store:
                assert store.ingest_own(unminted, [sid], a.now()).is_new and store.minting() == 1
            again = make_fake_node(net, tmp_path / "a", 1)  # the same node: its home, its identity
            async with running_nodes(again):
                await until(lambda: stored(b, unminted.id.hex()), "the held post at b")
                assert bits(stored_wire(b, unminted.id.hex())) >= D
                assert bits(stored_wire(again, unminted.id.hex())) >= D
                await until(lambda: again.store.counts()["held"] == 0, "the hold released")
                assert (await again.request(api.Status())).minting == 0
                assert b.swarms.running[sid].stem.invalid == {}  # nothing unminted was ever sent to b
        nursery.cancel_scope.cancel()


async def test_shutdown_stops_minting_between_slices(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 32-bit stamp takes billions of hashes: the node still stops after the slice it is in."""
    slices: list[int | None] = []
    real_mint = protocol.mint_stamp
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        a = make_fake_node(net, tmp_path / "a", 1)

        def counted(object_id: bytes, difficulty: int, *, start: int = 0, attempts: int | None = None) -> bytes | None:
            slices.append(attempts)
            if len(slices) == 3:
                a.shutdown()
            return real_mint(object_id, difficulty, start=start, attempts=attempts)

        monkeypatch.setattr(protocol, "mint_stamp", counted)
        async with running_nodes(a):
            await a.request(api.SwarmCreate(name="costly", difficulty=protocol.MAX_DIFFICULTY))
            post = await a.request(api.Post(text="worth four billion hashes"))
            with trio.fail_after(600):
                await a.stopped.wait()
        # Asked to stop in the third slice, it stopped before a fifth (with a worker thread, before a fourth).
        assert 3 <= len(slices) <= 4 and all(attempts == MINT_SLICE for attempts in slices)
        with Store.open(a.home.database) as store:  # still there, still waiting: a restart mints it
            assert store.minting() == 1 and [protocol.decode(w).id.hex() for w, _ in store.held()] == [post.id]
        nursery.cancel_scope.cancel()


async def test_sync_never_offers_an_object_below_the_swarm_difficulty(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """Objects stored before stamps (or weaker than the swarm asks) stay home; a peer would have to refuse them."""
    async with fake_nodes(tmp_path, 2) as (_, (a, b)):
        sid = await join(a, [])
        now = a.now()
        weak = refused_posts(now)  # as a store migrated from before stamps holds them
        fine = minted(protocol.make_post(os.urandom(32), "minted", now=now), D)
        a.store.ingest_many([(s, sid) for s in [*weak, fine]], now)
        invite = (await a.request(api.SwarmInvite(name="friends"))).invite
        await b.request(api.SwarmJoin(invite=invite))
        await until(lambda: stored(b, fine.id.hex()), "the minted post at b, by sync")
        stats = [node.swarms.running[sid].sync.stats for node in (a, b)]
        assert sum(s.sessions_ok for s in stats) >= 1 and sum(s.sessions_failed for s in stats) == 0
        assert not any(stored(b, s.id.hex()) for s in weak)


async def test_a_heart_carries_a_post_into_a_harder_swarm_minted_again(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with fake_nodes(tmp_path, 3) as (_, (a, b, c)):
        easy = await join(b, [a], name="easy", difficulty=D)
        hard = await join(a, [c], name="hard", difficulty=D + 4)
        for _ in range(50):  # a post whose 8-bit stamp happens to be worth 12 would prove nothing
            post = (await b.request(api.Post(text="from the easy swarm", swarm="easy"))).id
            await until(lambda post=post: stored(a, post), "the post at a")
            if bits(stored_wire(a, post)) < D + 4:
                break
        assert bits(stored_wire(a, post)) < D + 4
        await a.request(api.Heart(id=post))
        await until(lambda: stored(c, post), "the post at c, in the hard swarm")
        assert bits(stored_wire(c, post)) >= D + 4 and bits(stored_wire(a, post)) >= D + 4
        assert sorted(a.store.object_swarms(bytes.fromhex(post))) == sorted([easy, hard])
        assert (await peers_of(c)).stem_invalid == {} and (await peers_of(c)).invalid == {}


async def test_the_invite_carries_the_swarm_difficulty(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 2) as (_, (a, b)):
        for bad in (-1, protocol.MAX_DIFFICULTY + 1, "18", None):
            with pytest.raises(ApiError) as refused:
                await a.dispatch("swarm.create", {"name": "x", "difficulty": bad})
            assert refused.value.code == "bad_request" and "difficulty" in str(refused.value)
        created = await a.request(api.SwarmCreate(name="light", difficulty=5))
        assert protocol.decode_invite(created.invite, now=a.now()).difficulty == 5
        await b.request(api.SwarmJoin(invite=created.invite))
        assert [s.difficulty for s in b.store.swarms()] == [5]
        again = await b.request(api.SwarmInvite(name="light"))  # handed on with the same difficulty
        assert protocol.decode_invite(again.invite, now=b.now()).difficulty == 5
        default = await a.dispatch("swarm.create", {"name": "plain"})
        assert isinstance(default, api.SwarmCreated)
        assert protocol.decode_invite(default.invite, now=a.now()).difficulty == protocol.DEFAULT_DIFFICULTY


# -- real daemons ---------------------------------------------------------------------------------


@pytest.mark.integration
async def test_daemons_exchange_stamped_posts_and_refuse_a_hostile_peers_unstamped_ones(tmp_path: Path) -> None:
    from harness.daemons import daemons, hostile_peer
    from harness.polling import wait_for

    with daemons(tmp_path, 2, first_ip=1, ip_prefix="127.0.12") as (a, b):
        invite_text = a.cli("swarm", "create", "stamped").stdout.strip().splitlines()[-1]
        invite = protocol.decode_invite(invite_text, now=int(time.time()))
        assert invite.difficulty == protocol.DEFAULT_DIFFICULTY
        b.cli("swarm", "join", invite_text)
        ids = [a.call("post", text=f"from a {i}")["id"] for i in range(2)]
        ids += [b.call("post", text=f"from b {i}")["id"] for i in range(2)]

        def everywhere() -> bool:
            return all(set(ids) <= node.stored_ids() for node in (a, b))

        await trio.to_thread.run_sync(lambda: wait_for(everywhere, what="every post on both daemons"))
        for node in (a, b):
            with sqlite3.connect(f"file:{node.home / 'node.sqlite3'}?mode=ro", uri=True) as db:
                for (wire,) in db.execute("SELECT wire FROM objects"):
                    protocol.decode(bytes(wire), difficulty=protocol.DEFAULT_DIFFICULTY)  # every one stamped
            assert node.call("status")["minting"] == 0
        async with hostile_peer(invite, "127.0.12.3") as evil:
            bad: list[protocol.Signed] = []

            async def counted() -> int:
                peers = [await trio.to_thread.run_sync(node.call, "peers") for node in (a, b)]
                return sum(p["swarms"][0]["invalid"].get(evil.peer_id, 0) for p in peers)

            with trio.fail_after(60):  # a generous deadline: the mesh may still be settling
                while await counted() < 3:
                    for signed in refused_posts(int(time.time()), protocol.DEFAULT_DIFFICULTY):
                        bad.append(signed)
                        await evil.publish(signed.wire)
                    await trio.sleep(0.5)
            after = await trio.to_thread.run_sync(lambda: b.call("post", text="after the attack")["id"])
            await trio.to_thread.run_sync(lambda: wait_for(lambda: after in a.stored_ids(), what="b's last post"))
            for node in (a, b):
                assert not {s.id.hex() for s in bad} & node.stored_ids()
                assert node.proc is not None and node.proc.poll() is None
