"""Private messages between real nodes (store, pipelines, stem, sync, control API) on the in-memory network.

A posts; B writes to the author of A's post; A answers; C, in the same swarm,
stores and forwards both messages and opens neither.  A blocked conversation
stays silent; a message sent while its recipient is away arrives by sync.
"""

from __future__ import annotations

import os
import sqlite3
import time
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

pytestmark = pytest.mark.trio


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def _mine_in(node: Node, conversation: str) -> bytes:
    """This node's conversation key in a conversation (from its store)."""
    cid = node.store.resolve_conversation(conversation)
    assert cid is not None
    return node.store.conversation_lines(cid, mark_read=False)[0].mine


def _signers(node: Node) -> set[bytes]:
    """The key of every object in the node's database file."""
    with sqlite3.connect(f"file:{node.home.database}?mode=ro", uri=True) as db:
        return {bytes(k) for (k,) in db.execute("SELECT pubkey FROM objects")}


async def _inbox(node: Node) -> api.InboxResult:
    result: api.InboxResult = await node.request(api.Inbox())
    return result


async def test_b_writes_to_the_author_of_a_post_a_answers_c_carries_both_and_opens_neither(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with fake_nodes(tmp_path, 3) as (_, (a, b, c)):
        await join(a, [b, c])
        post = await a.request(api.Post(text="write to me"))
        await until(lambda: stored(b, post.id), "the post at b")
        first = await b.request(api.Dm(id=post.id, text="hello, author"))
        await until(lambda: all(stored(n, first.id) for n in (a, c)), "b's message at a and c")
        await until(lambda: a.mailbox.opened == 1, "a to open b's message")
        box = await _inbox(a)
        assert [(x.about, x.started, x.unread, x.preview) for x in box.conversations] == [
            (post.id, False, 1, "hello, author")
        ]
        conversation = box.conversations[0].id
        assert conversation == first.conversation  # both sides name it alike
        answer = await a.request(api.Dm(id=conversation, text="hello, stranger"))
        await until(lambda: all(stored(n, answer.id) for n in (b, c)), "a's answer at b and c")
        await until(lambda: b.mailbox.opened == 1, "b to open a's answer")
        talk = await b.request(api.Conversation(id=first.conversation))
        assert [(m.mine, m.text) for m in talk.messages] == [(True, "hello, author"), (False, "hello, stranger")]
        assert talk.conversation.answered
        # B's next message goes to A's conversation key, which A still opens.
        again = await b.request(api.Dm(id=first.conversation, text="and again"))
        await until(lambda: a.mailbox.opened == 2 and stored(c, again.id), "b's second message")
        talk = await a.request(api.Conversation(id=conversation))
        assert [(m.mine, m.text) for m in talk.messages] == [
            (False, "hello, author"),
            (True, "hello, stranger"),
            (False, "and again"),
        ]
        # C stored and served all three, tried them, and opened none.
        await until(lambda: c.mailbox.tried == 3, "c to try every message")
        assert (c.mailbox.opened, (await _inbox(c)).conversations) == (0, [])
        wires = c.store.wires([bytes.fromhex(x.id) for x in (first, answer, again)])
        assert len({protocol.decode(w).obj.pubkey for w in wires}) == 3  # a throwaway key each
        # B learns a key for A made for this conversation alone: none of A's posts or replies is signed by it,
        # and no message carries a key of A's outside its box.
        others = [(await a.request(api.Post(text=f"another of a's posts {i}"))).id for i in range(3)]
        await until(lambda: all(stored(b, i) for i in others), "a's other posts at b")
        row = b.store.conversation_by_key(_mine_in(b, first.conversation))
        signers = _signers(b)
        assert row is not None and len(signers) >= 7 and row.peer not in signers
        assert not {row.peer, row.mine} & _signers(c)
        for node in (a, b, c):
            assert (await node.request(api.Status())).failures == {}


async def test_a_blocked_conversation_stays_silent(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 2) as (_, (a, b)):
        await join(a, [b])
        events = a.hub.subscribe()

        def dm_events() -> list[str]:
            out: list[str] = []
            while True:
                try:
                    message = events.receive.receive_nowait()
                except trio.WouldBlock:
                    return out
                if message["event"] == "dm":
                    out.append(message["data"].conversation)

        post = await a.request(api.Post(text="anyone?"))
        await until(lambda: stored(b, post.id), "the post at b")
        first = await b.request(api.Dm(id=post.id, text="me"))
        await until(lambda: a.mailbox.opened == 1, "a to open it")
        assert dm_events() == [first.conversation]
        blocked = await a.request(api.ConversationBlock(id=first.conversation[:10]))
        assert blocked.blocked
        more = [(await b.request(api.Dm(id=first.conversation, text=f"still me {i}"))).id for i in range(3)]
        await until(lambda: all(stored(a, i) for i in more) and a.mailbox.tried == 4, "a to store and try them")
        assert (await _inbox(a)).conversations == []
        talk = await a.request(api.Conversation(id=first.conversation))
        assert [m.text for m in talk.messages] == ["me"] and dm_events() == []
        with pytest.raises(ApiError) as refused:
            await a.request(api.Dm(id=first.conversation, text="no"))
        assert refused.value.code == "blocked"
        # Unblocked, it shows what comes from now on.
        await a.request(api.ConversationBlock(id=first.conversation, blocked=False))
        last = await b.request(api.Dm(id=first.conversation, text="once more"))
        await until(lambda: stored(a, last.id) and a.mailbox.tried == 5, "the last one")
        await until(lambda: dm_events() == [first.conversation], "its event")
        assert [x.preview for x in (await _inbox(a)).conversations] == ["once more"]


async def test_a_message_sent_while_its_recipient_is_away_arrives_by_sync(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        a, c = make_fake_node(net, tmp_path / "a", 1), make_fake_node(net, tmp_path / "c", 3)
        b = make_fake_node(net, tmp_path / "b", 2)
        async with running_nodes(b, c):
            async with running_nodes(a):
                await join(c, [a, b])  # c is the one both know
                post = await a.request(api.Post(text="back soon"))
                await until(lambda: stored(b, post.id) and a.store.counts()["held"] == 0, "the post out")
            sent = await b.request(api.Dm(id=post.id, text="while you were away"))
            await until(lambda: stored(c, sent.id) and b.store.counts()["held"] == 0, "the message at c")
            back = make_fake_node(net, tmp_path / "a", 1)
            async with running_nodes(back):
                await until(lambda: back.mailbox.opened == 1, "a, back, to open it")
                box = await _inbox(back)
                assert [x.preview for x in box.conversations] == ["while you were away"]
        nursery.cancel_scope.cancel()


async def test_messages_past_their_lifetime_are_gone_from_every_database_file(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    """The wall clock jumps a week: each node's own purge (every minute) takes the message out of its file."""
    ahead = [0]
    async with trio.open_nursery() as nursery:
        net = FakeNet(nursery)
        base = int(time.time())
        nodes = [
            make_fake_node(net, tmp_path / name, i, clock=lambda: base + ahead[0] + trio.current_time())
            for i, name in enumerate("abc", 1)
        ]
        a, b, c = nodes
        async with running_nodes(*nodes):
            await join(a, [b, c])
            post = await a.request(api.Post(text="a week is long"))
            await until(lambda: stored(b, post.id), "the post at b")
            sent = await b.request(api.Dm(id=post.id, text="gone in a week"))
            await until(lambda: all(stored(n, sent.id) for n in nodes) and a.mailbox.opened == 1, "everywhere")
            wire = b.store.wires([bytes.fromhex(sent.id)])[0]
            ahead[0] = protocol.MESSAGE_LIFETIME + 3600
            await until(lambda: not any(stored(n, sent.id) for n in nodes), "the purge on every node")
            for node in nodes:
                disk = b"".join(p.read_bytes() for p in node.home.database.parent.glob(node.home.database.name + "*"))
                assert wire[44:952] not in disk
            # What A opened stays with A.
            talk = await a.request(api.Conversation(id=sent.conversation))
            assert [m.text for m in talk.messages] == ["gone in a week"]
        nursery.cancel_scope.cancel()


async def test_writing_to_ones_own_post_or_to_nothing_is_refused(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 1) as (_, (a,)):
        await a.request(api.SwarmCreate(name="solo"))
        post = await a.request(api.Post(text="mine"))
        heart = await a.request(api.Heart(id=post.id))
        for ident, code in (
            (post.id, "bad_request"),
            (heart.id, "bad_request"),
            ("ab" * 32, "not_found"),
            ("xyz", "bad_request"),
        ):
            with pytest.raises(ApiError) as refused:
                await a.request(api.Dm(id=ident, text="hi"))
            assert refused.value.code == code, ident
        with pytest.raises(ApiError) as refused:
            await a.request(api.Conversation(id="00"))
        assert refused.value.code == "not_found"


@pytest.mark.integration
async def test_private_messages_over_real_hosts(tmp_path: Path) -> None:
    """The same story over real libp2p hosts on loopback, with real SQLite files and worker threads."""
    from harness.inproc import make_node

    a, b, c = (make_node(tmp_path / name, f"127.0.31.{i}") for i, name in enumerate("abc", 1))
    async with running_nodes(a, b, c):
        await join(a, [b, c])
        post = await a.request(api.Post(text="write to me, for real"))
        await until(lambda: stored(b, post.id), "the post at b", within=120)
        first = await b.request(api.Dm(id=post.id, text="hello over libp2p"))
        await until(lambda: a.mailbox.opened == 1 and stored(c, first.id), "a to open, c to store", within=120)
        answer = await a.request(api.Dm(id=first.conversation, text="heard you"))
        await until(lambda: b.mailbox.opened == 1 and stored(c, answer.id), "b to open, c to store", within=120)
        await until(lambda: c.mailbox.tried == 2, "c to try both", within=120)
        assert c.mailbox.opened == 0 and (await _inbox(c)).conversations == []
        talk = await b.request(api.Conversation(id=first.conversation))
        assert [(m.mine, m.text) for m in talk.messages] == [(True, "hello over libp2p"), (False, "heard you")]


async def test_a_message_broken_inside_is_dropped_and_counted(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    """A hostile sender seals garbage to a's post key: a stores and serves it like any message, keeps nothing."""
    from nacl.signing import SigningKey

    from protocol import _dm

    async with fake_nodes(tmp_path, 2) as (_, (a, b)):
        sid = await join(a, [b])
        post = await a.request(api.Post(text="open to all"))
        await until(lambda: stored(b, post.id), "the post at b")
        target = b.store.get(post.id)
        assert target is not None
        good = protocol.seal_message(
            protocol.conversation_key(os.urandom(32), target.obj.pubkey),
            target.obj.pubkey,
            target.id,
            "fine",
            now=b.now(),
        )
        key = protocol.live_key(protocol.own_key(a.identity.require(), target))  # type: ignore[arg-type]
        from nacl import bindings

        plain = bytes(bindings.crypto_box_seal_open(good.obj.sealed, key.public, key.secret))  # type: ignore[union-attr]
        broken_box = _dm._sealed_box(plain[:-1] + bytes([plain[-1] ^ 1]), key.public, None)
        outer = SigningKey(os.urandom(32))
        broken = protocol.sign(protocol.Message(bytes(outer.verify_key), protocol.coarsen(b.now()), broken_box), outer)
        for signed in (broken, good):
            await b.outbound.commit(signed, [sid])
        both = (broken.id.hex(), good.id.hex())
        await until(lambda: all(stored(a, i) for i in both) and a.mailbox.tried == 2, "both at a")
        assert (a.mailbox.opened, a.mailbox.broken) == (1, 1)
        mailbox = (await a.request(api.Status())).mailbox
        assert mailbox is not None and (mailbox.tried, mailbox.opened, mailbox.broken) == (2, 1, 1)
        assert mailbox.live_keys in (1, 2)  # the post's key; the new conversation's once the keys are counted again
        assert [x.preview for x in (await _inbox(a)).conversations] == ["fine"]
        assert (await a.request(api.Status())).failures == {}
