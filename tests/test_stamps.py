"""Proof-of-work stamps in the node (docs/protocol.md, section 13): every object out is minted.

In process, on the in-memory network and a MockClock, swarms ask 8 bits
(``inproc.LOW_DIFFICULTY``: a few hundred hashes) unless a test says
otherwise; one test mints at the default, 18.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from fakenet import FakeNet
from inproc import LOW_DIFFICULTY, fake_nodes, join, make_fake_node, running_nodes, stored, until

import protocol
from p2pnet import api
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


def stored_wire(node: Node, object_id: str) -> protocol.Signed:
    signed = node.store.get(object_id)
    assert signed is not None
    return signed


def runtime_of(node: Node, swarm_id: bytes) -> tuple[str, str]:
    """The node's peer id and address in a swarm."""
    host = node.swarms.running[swarm_id].host
    return host.peer_id, host.listen_addrs[0]


async def peers_of(node: Node) -> api.SwarmPeers:
    (swarm,) = (await node.request(api.Peers())).swarms
    return swarm


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
