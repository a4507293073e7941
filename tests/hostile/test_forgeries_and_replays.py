"""Forged duplicates of others' posts, and replays: the honest object is the one stored, once, and a delete sticks.

An attacker who sees a post first (as its stem relay, say) can send bytes with
the same id before the post spreads: a broken signature, a weak stamp, a
malleated signature, non-zero padding.  None is stored, and none stops the
real post from being stored after it.  It can also copy the text under a key
of its own (a new object; it cannot delete or replace the original), and
replay what it saw by gossip and stem, before and after the author deleted
it.  On the in-memory network and a MockClock; the attacker is a raw host
holding the swarm key at its own address.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from _attacker import fake_attacker
from harness.fakenet import FakeHost
from harness.inproc import LOW_DIFFICULTY, fake_nodes, join
from harness.polling import until
from nacl.signing import SigningKey

import protocol
from p2pnet import api
from p2pnet.net import STEM_PROTOCOL
from p2pnet.node import Node

# The order of the Ed25519 group: S + L verifies under a lax verifier, never under ours.
ED25519_L = 2**252 + 27742317777372353535851937790883648493


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@asynccontextmanager
async def two_nodes_and_an_attacker(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, Any, FakeHost]]:
    """Members a and b in one swarm, and the attacker connected to a (with a's swarm host)."""
    async with fake_nodes(tmp_path, 2) as (net, [a, b]):
        await join(a, [b])
        host = next(iter(a.swarms.running.values())).host
        evil = fake_attacker(net, a)
        await evil.connect(host.listen_addrs[0])
        yield a, b, host, evil


def restamped(signed: protocol.Signed) -> protocol.Signed:
    """The same object (same id) with the next valid stamp: other bytes, a fresh gossip message id."""
    assert signed.stamp is not None
    start = int.from_bytes(signed.stamp, "big") + 1
    stamp = protocol.mint_stamp(signed.id, LOW_DIFFICULTY, start=start)
    assert stamp is not None and stamp != signed.stamp
    return signed.with_stamp(stamp)


def forgeries(signed: protocol.Signed) -> dict[str, bytes]:
    """Bytes with ``signed``'s id that no honest peer sends."""
    wire = signed.wire
    sig_at = len(signed.signed_bytes)
    flipped = bytearray(wire)
    flipped[sig_at] ^= 1
    s = int.from_bytes(signed.signature[32:], "little") + ED25519_L
    malleated = bytearray(wire)
    malleated[sig_at + 32 : sig_at + 64] = s.to_bytes(32, "little")
    weak = next(
        s for n in range(1 << 16) if protocol.stamp_bits(signed.id, (s := n.to_bytes(8, "big"))) < LOW_DIFFICULTY
    )
    padded = bytearray(wire)
    padded[-1] = 1
    return {
        "bad signature": bytes(flipped),
        "malleated signature": bytes(malleated),
        "weak stamp": signed.with_stamp(weak).wire,
        "non-zero padding": bytes(padded),
    }


async def stem_send(evil: FakeHost, target: str, wire: bytes) -> None:
    async with evil.open_stream(target, STEM_PROTOCOL) as stream:
        await stream.send(protocol.encode_stem(wire))
        await trio.sleep(1)


async def test_forged_duplicates_sent_first_are_refused_and_the_real_post_still_lands(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    author = os.urandom(32)  # a member whose post the attacker saw first
    async with two_nodes_and_an_attacker(tmp_path) as (a, b, host, evil):
        post = protocol.make_post(author, "the real words", now=a.now())
        stamp = protocol.mint_stamp(post.id, LOW_DIFFICULTY)
        assert stamp is not None
        post = post.with_stamp(stamp)
        forged = forgeries(post)
        for wire in forged.values():
            with pytest.raises(protocol.ProtocolError):
                protocol.decode(wire, difficulty=LOW_DIFFICULTY)
            await evil.publish(wire)
        await trio.sleep(5)
        assert host.invalid["FakeEvil"] == len(forged)
        assert a.store.get(post.id) is None
        # The real post, after all that, from the attacker itself or anyone.
        await evil.publish(post.wire)
        await until(lambda: b.store.get(post.id) is not None, "the real post on both nodes")
        for node in (a, b):
            got = node.store.get(post.id)
            assert got is not None and got.obj.text == "the real words" and got.wire == post.wire  # type: ignore[union-attr]
        # A copy under the attacker's own key is another object; it cannot delete the original.
        key = SigningKey(os.urandom(32))
        copy = protocol.sign(
            protocol.Post(
                bytes(key.verify_key), os.urandom(16), post.obj.created, "the real words", "slate", None, None
            ),
            key,
        )
        kill = protocol.sign(protocol.Delete(bytes(key.verify_key), post.id, post.obj.created), key)
        for signed in (copy, kill):
            s = protocol.mint_stamp(signed.id, LOW_DIFFICULTY)
            assert s is not None
            await evil.publish(signed.with_stamp(s).wire)
        await until(lambda: b.store.get(copy.id) is not None, "the copy, as an object of its own")
        await trio.sleep(5)
        for node in (a, b):
            assert node.store.get(post.id) is not None
            assert node.store.get(copy.id).obj.pubkey != post.obj.pubkey  # type: ignore[union-attr]
            assert node.store.counts()["tombstones"] == 0


async def test_replays_are_stored_once_and_never_bring_back_a_deleted_post(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with two_nodes_and_an_attacker(tmp_path) as (a, b, host, evil):
        posted = await b.request(api.Post(text="said once"))
        await until(lambda: a.store.get(posted.id) is not None, "the post at a")
        seen = a.store.get(posted.id)
        assert seen is not None
        before = {k: v for k, v in a.store.counts().items() if k != "peers"}
        again = restamped(seen)
        for _ in range(5):  # the same bytes, the same object with other bytes, by gossip and by stem
            await evil.publish(seen.wire)
            await evil.publish(again.wire)
            await stem_send(evil, host.peer_id, seen.wire)
            await stem_send(evil, host.peer_id, again.wire)
        await trio.sleep(60)  # past every embargo
        assert {k: v for k, v in a.store.counts().items() if k != "peers"} == before
        feed = await a.request(api.Feed())
        assert [item.id for item in feed.posts] == [posted.id]
        # The author deletes it; the attacker replays what it kept.
        await b.request(api.Delete(id=posted.id))
        await until(lambda: a.store.get(posted.id) is None, "the delete at a")
        third = restamped(again)
        for wire in (seen.wire, again.wire, third.wire):
            await evil.publish(wire)
            await stem_send(evil, host.peer_id, wire)
        await trio.sleep(60)
        for node in (a, b):
            assert node.store.get(posted.id) is None
            assert (await node.request(api.Feed())).posts == []
        # A post past its self-destruct time, replayed, is refused too.
        doomed = await b.request(api.Post(text="gone in ten minutes", expires=600))
        await until(lambda: a.store.get(doomed.id) is not None, "the short-lived post at a")
        wire = a.store.get(doomed.id).wire  # type: ignore[union-attr]
        await trio.sleep(1800)
        await until(lambda: a.store.get(doomed.id) is None, "the post to expire at a")
        await evil.publish(wire)
        await stem_send(evil, host.peer_id, wire)
        await trio.sleep(60)
        assert a.store.get(doomed.id) is None
