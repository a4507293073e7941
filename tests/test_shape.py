"""Tests for p2pnet.node._shape: the store's rows as the control API shows them.

The icon and the crown are display rules of the node; the wire bytes of each
shape are pinned, since clients read them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

import protocol
from p2pnet import api
from p2pnet.node._shape import KIND_NAMES, feed_item, feed_page, icon, search_hit, thread_result
from p2pnet.store import FeedPage, PostRow, RootRow, SearchRow, Store, ThreadRows

NOW = 1_763_700_000
SEED_A = bytes(range(32))
SEED_B = bytes(range(1, 33))
SEED_C = bytes(range(2, 34))
PSK = bytes(range(100, 132))

ROOT = RootRow(
    id=bytes([1]) * 32,
    kind=protocol.KIND_POST,
    pubkey=bytes(32),
    text="hello",
    created=NOW,
    hearts=2,
    flags=0,
    parent=None,
    mine=True,
    hearted=False,
    collapsed=False,
    bg="teal",
    name=None,
    expires=NOW + 600,
    replies=1,
)
REPLY = PostRow(
    id=bytes([2]) * 32,
    kind=protocol.KIND_REPLY,
    pubkey=b"\xff" * 32,
    text="hi",
    created=NOW,
    hearts=0,
    flags=1,
    parent=ROOT.id,
    mine=False,
    hearted=True,
    collapsed=True,
)


def test_icon_is_derived_from_the_key_alone() -> None:
    for key in (bytes(32), bytes(range(32)), b"\xff" * 32):
        digest = hashlib.sha256(b"p2pnet/v1/icon" + key).digest()
        assert icon(key) == api.Icon(glyph=digest[0] % 16, colour=digest[1] % 12)
    assert icon(bytes(32)) == api.Icon(glyph=15, colour=11)
    assert icon(bytes(range(32))) == api.Icon(glyph=3, colour=5)


def test_feed_items_and_pages_on_the_wire() -> None:
    one = "01" * 32
    wire = (
        f'{{"id":"{one}","text":"hello","bg":"teal","name":null,"created":{NOW},"expires":{NOW + 600},'
        '"hearts":2,"replies":1,"flags":0,"mine":true,"hearted":false,"collapsed":false,"kind":"post"}'
    )
    assert msgspec.json.encode(feed_item(ROOT)) == wire.encode()
    assert feed_page(FeedPage((ROOT,), (NOW, 7))) == api.FeedPage(posts=[feed_item(ROOT)], cursor=[NOW, 7])
    assert feed_page(FeedPage((), None)) == api.FeedPage(posts=[], cursor=None)


def test_thread_on_the_wire() -> None:
    one, two, author, other = "01" * 32, "02" * 32, "00" * 32, "ff" * 32
    wire = (
        f'{{"root":{{"id":"{one}","kind":"post","pubkey":"{author}","is_author":true,'
        f'"icon":{{"glyph":15,"colour":11}},"text":"hello","created":{NOW},"hearts":2,"flags":0,'
        f'"parent":null,"mine":true,"hearted":false,"collapsed":false,"bg":"teal","name":null,"expires":{NOW + 600},'
        '"replies":1},'
        f'"replies":[{{"id":"{two}","kind":"reply","pubkey":"{other}","is_author":false,'
        f'"icon":{{"glyph":9,"colour":7}},"text":"hi","created":{NOW},"hearts":0,"flags":1,'
        f'"parent":"{one}","mine":false,"hearted":true,"collapsed":true}}],"hidden":false}}'
    )
    assert msgspec.json.encode(thread_result(ThreadRows(ROOT, (REPLY,)))) == wire.encode()


def test_search_hits_and_kind_names() -> None:
    hit = SearchRow(REPLY.id, protocol.KIND_REPLY, ROOT.id, "oh hi there", NOW, 0, ((3, 5),))
    assert (
        msgspec.json.encode(search_hit(hit))
        == (
            f'{{"id":"{"02" * 32}","kind":"reply","root":"{"01" * 32}","text":"oh hi there",'
            f'"created":{NOW},"hearts":0,"matches":[[3,5]]}}'
        ).encode()
    )
    assert [KIND_NAMES[k] for k in range(protocol.KIND_POST, protocol.KIND_DELETE + 1)] == [
        "post",
        "reply",
        "heart",
        "flag",
        "delete",
    ]


def test_thread_icons_and_crown(tmp_path: Path) -> None:
    root = protocol.make_post(SEED_A, "who said what", now=NOW, nonce=bytes(16))
    r1 = protocol.make_reply(SEED_B, root, "first from B", now=NOW)
    r2 = protocol.make_reply(SEED_A, root, "author answers", now=NOW + 600, parent=r1.id)
    r3 = protocol.make_reply(SEED_C, root, "C joins", now=NOW + 600)
    r4 = protocol.make_reply(SEED_B, root, "B again", now=NOW + 1200, parent=r2.id)
    with Store.open(tmp_path / "node.db") as store:
        sid = store.add_swarm("friends", PSK, 4001, NOW).raw_id
        store.ingest_many([(r4, sid), (r3, sid), (root, sid), (r2, sid), (r1, sid)], NOW + 1200)
        rows = store.thread(root.id, now=NOW + 1200)
    assert rows is not None
    thread = thread_result(rows)
    head, replies = thread.root, thread.replies
    assert head.is_author is True and head.parent is None
    assert head.icon == icon(root.obj.pubkey)
    by_id = {r.id: r for r in replies}
    assert by_id[r2.id.hex()].is_author is True  # the crown: the root's own key
    assert by_id[r2.id.hex()].icon == head.icon
    assert not by_id[r1.id.hex()].is_author and not by_id[r3.id.hex()].is_author
    assert by_id[r1.id.hex()].icon == by_id[r4.id.hex()].icon  # B keeps one icon in the thread
    for r in replies:
        assert 0 <= r.icon.glyph < 16 and 0 <= r.icon.colour < 12
    # Stable across calls: derived only from the key.
    assert thread_result(rows) == thread
