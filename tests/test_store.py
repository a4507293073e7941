"""Tests for p2pnet.store: the node's SQLite store.

Real database files in tmp_path, objects made with protocol.make_* from fixed
seeds; no mocks, and no assertion ever depends on timing.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

import protocol
from p2pnet.store import (
    DEFAULT_QUOTA,
    MIN_QUOTA,
    SCHEMA_VERSION,
    AmbiguousId,
    InvalidArgument,
    PeerRow,
    SchemaTooNew,
    StampNeed,
    Store,
    StoreClosed,
    StoreCorrupt,
    StoreError,
    SwarmExists,
    UnknownId,
    UnknownSwarm,
    popular_score,
)

NOW = 1_763_700_000  # 2025-11-21, a multiple of 600
HOUR = 3600
SEED_A = bytes(range(32))
SEED_B = bytes(range(1, 33))
SEED_C = bytes(range(2, 34))
PSK = bytes(range(100, 132))
PSK2 = bytes(range(140, 172))


def nonce(i: int) -> bytes:
    return i.to_bytes(16, "big")


def post(text: str, i: int = 0, *, now: int = NOW, seed: bytes = SEED_A, **kw: object) -> protocol.Signed:
    return protocol.make_post(seed, text, now=now, nonce=nonce(i), **kw)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "node.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    st = Store.open(db)
    # Difficulty 0: the rules tested here hold at any difficulty; stamps have tests of their own.
    st.add_swarm("friends", PSK, 4001, NOW, difficulty=0)
    yield st
    st.close()


@pytest.fixture
def sid() -> bytes:
    return protocol.swarm_id(PSK)


def disk_bytes(db: Path) -> bytes:
    """Everything SQLite keeps for this database, read raw: main file, -wal, -shm."""
    out = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        f = db.with_name(db.name + suffix)
        if f.exists():
            out += f.read_bytes()
    return out


# -- opening, schema, corruption ---------------------------------------------


def test_schema_created_and_reopened(db: Path, sid: bytes) -> None:
    with Store.open(db) as st:
        st.add_swarm("friends", PSK, 4001, NOW)
        p = post("hello there")
        assert st.ingest_own(p, [sid], NOW).status == "new"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600  # it holds swarm keys
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        raw.close()
    assert {
        "swarms",
        "objects",
        "object_swarms",
        "posts",
        "search",
        "hearts",
        "flags",
        "tombstones",
        "erased",
    } <= tables
    assert {"peers", "own"} <= tables
    with Store.open(db) as st:
        conn = st._conn
        assert conn is not None
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert [s.name for s in st.swarms()] == ["friends"]
        assert st.swarms()[0].psk == PSK
        assert st.get(p.id.hex()) == p
        items = st.feed(now=NOW).rows
        assert [i.id for i in items] == [p.id]
        assert items[0].mine is True
        assert st.ingest(p, sid, NOW).status == "duplicate"


def test_newer_schema_refused(db: Path) -> None:
    Store.open(db).close()
    raw = sqlite3.connect(db)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 41}")
    raw.commit()
    raw.close()
    with pytest.raises(SchemaTooNew, match=f"schema version {SCHEMA_VERSION + 41}") as info:
        Store.open(db)
    assert isinstance(info.value, StoreError)
    assert str(db) in str(info.value)


def test_other_applications_database_refused(db: Path) -> None:
    raw = sqlite3.connect(db)
    raw.execute("CREATE TABLE contacts (name TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="another application"):
        Store.open(db)


def test_garbage_file_is_corrupt_and_quarantined(db: Path) -> None:
    garbage = os.urandom(3000)
    db.write_bytes(garbage)
    with pytest.raises(StoreCorrupt) as info:
        Store.open(db)
    message = str(info.value)
    assert str(db) in message and "corrupt-" in message
    # The way out is a command a user can run, not an API call.
    assert "`p2pnet recover`" in message and "Store.quarantine" not in message
    assert "sync" in message and "memberships are kept" in message
    assert db.read_bytes() == garbage  # never touched, never deleted
    moved = Store.quarantine(db)
    assert not db.exists()
    assert moved.parent == db.parent and moved.name.startswith("node.db.corrupt-")
    assert moved.read_bytes() == garbage
    with Store.open(db) as st:  # a fresh, empty store in its place
        assert st.counts()["objects"] == 0


def test_truncated_database_is_corrupt(db: Path) -> None:
    with Store.open(db) as st:
        sid = st.add_swarm("friends", PSK, 4001, NOW).raw_id
        st.ingest_many([(post(f"post {i} " * 30, i), sid) for i in range(300)], NOW)
    size = db.stat().st_size
    assert not db.with_name("node.db-wal").exists()  # closed cleanly: all in the main file
    with db.open("r+b") as f:
        f.truncate(size // 2 // 4096 * 4096 + 1234)  # mid-page
    with pytest.raises(StoreCorrupt, match="p2pnet recover"):
        Store.open(db)
    moved = Store.quarantine(db)
    assert moved.exists() and not db.exists()
    with Store.open(db) as st:
        assert st.counts()["posts"] == 0


def test_quarantine_moves_wal_too_and_never_overwrites(db: Path) -> None:
    db.write_bytes(b"x" * 100)
    db.with_name("node.db-wal").write_bytes(b"wal bytes")
    first = Store.quarantine(db)
    assert first.with_name(first.name + "-wal").read_bytes() == b"wal bytes"
    db.write_bytes(b"y" * 100)
    second = Store.quarantine(db)
    assert second != first and first.read_bytes() == b"x" * 100 and second.read_bytes() == b"y" * 100
    with pytest.raises(StoreError, match="no such file"):
        Store.quarantine(db)


def test_open_errors_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "missing" / "node.db")
    with pytest.raises(StoreError, match="directory"):
        Store.open(tmp_path)
    with pytest.raises(InvalidArgument):
        Store.open(42)  # type: ignore[arg-type]


# -- ingest rules ----------------------------------------------------------------


def test_ingest_is_idempotent(store: Store, sid: bytes) -> None:
    p = post("only once")
    first = store.ingest(p, sid, NOW)
    assert first.status == "new" and first.is_new and first.id == p.id.hex()
    again = store.ingest(p, sid, NOW)
    assert again.status == "duplicate"
    # Seen again in a second swarm: still one object, now listed for both swarms.
    sid2 = store.add_swarm("work", PSK2, 4002, NOW, 0).raw_id
    assert store.ingest(p, sid2, NOW).status == "duplicate"
    assert store.counts()["posts"] == 1 and store.counts()["objects"] == 1
    assert store.object_ids(sid) == [(p.obj.created, p.id)]
    assert store.object_ids(sid2) == [(p.obj.created, p.id)]
    assert store.feed(swarm=sid2, now=NOW).rows[0].id == p.id
    assert first.to_dict() == {"id": p.id.hex(), "status": "new", "reason": None, "pending": False, "erased": []}


def test_hearts_counted_once_per_key(store: Store, sid: bytes) -> None:
    p = post("heart me")
    store.ingest(p, sid, NOW)
    a = protocol.make_heart(SEED_A, p.id, now=NOW)
    b_late = protocol.make_heart(SEED_B, p.id, now=NOW + HOUR)
    b_early = protocol.make_heart(SEED_B, p.id, now=NOW)
    assert store.ingest(a, sid, NOW).status == "new"
    assert store.ingest(a, sid, NOW).status == "duplicate"  # identical object
    assert store.ingest(b_late, sid, NOW + HOUR).status == "new"
    # The same key again, as another object: still one heart; every node keeps
    # the earliest, so the stored set converges whatever the arrival order.
    res = store.ingest(b_early, sid, NOW + HOUR)
    assert res.status == "new"
    assert store.ingest(b_late, sid, NOW + HOUR).status == "duplicate"
    assert "already hearted" in (store.ingest(b_late, sid, NOW + HOUR).reason or "")
    assert store.feed(now=NOW + HOUR).rows[0].hearts == 2
    assert store.wires([b_early.id, b_late.id]) == [b_early.wire]
    assert store.counts()["hearts"] == 2


def test_flags_counted_once_per_key(store: Store, sid: bytes) -> None:
    p = post("flag me")
    store.ingest(p, sid, NOW)
    store.ingest(protocol.make_flag(SEED_B, p.id, now=NOW, reason="spam"), sid, NOW)
    res = store.ingest(protocol.make_flag(SEED_B, p.id, now=NOW + HOUR, reason="abuse"), sid, NOW + HOUR)
    assert res.status == "duplicate"
    store.ingest(protocol.make_flag(SEED_C, p.id, now=NOW), sid, NOW)
    assert store.feed(now=NOW).rows[0].flags == 2


def test_orphans_are_kept_and_counted_when_root_arrives(store: Store, sid: bytes) -> None:
    root = post("root arrives late")
    reply = protocol.make_reply(SEED_B, root, "early reply", now=NOW)
    heart = protocol.make_heart(SEED_C, root.id, now=NOW)
    assert store.ingest(reply, sid, NOW).pending
    assert store.ingest(heart, sid, NOW).pending
    assert store.thread(root.id, now=NOW) is None
    assert store.ingest(root, sid, NOW).status == "new"
    item = store.feed(now=NOW).rows[0]
    assert (item.hearts, item.replies) == (1, 1)
    thread = store.thread(root.id, now=NOW)
    assert thread is not None and [r.id for r in thread.replies] == [reply.id]


def test_delete_by_author_erases_text_from_disk(db: Path, store: Store, sid: bytes) -> None:
    secret = "zygomorphicquokka confession about the xylographic heist"
    secret_reply = "reply with vexillologicalparrot detail"
    keep = post("an ordinary post that stays", 1)
    root = post(secret, 2, name="mysterioso")
    reply = protocol.make_reply(SEED_B, root, secret_reply, now=NOW)
    own_reply = protocol.make_reply(SEED_A, root, "author adds quixoticmarmoset", now=NOW)
    heart = protocol.make_heart(SEED_C, root.id, now=NOW)
    store.ingest_own(root, [sid], NOW)
    store.ingest_many([(keep, sid), (reply, sid), (own_reply, sid), (heart, sid)], NOW)
    words = [b"zygomorphicquokka", b"xylographic", b"vexillologicalparrot", b"quixoticmarmoset", b"mysterioso"]
    before = disk_bytes(db)
    assert all(w in before for w in words)  # the check below is meaningful
    assert store.search("zygomorphicquokka", now=NOW)

    delete = protocol.make_delete(SEED_A, root, now=NOW)
    res = store.ingest(delete, sid, NOW)
    assert res.status == "new"
    assert set(res.erased) == {root.id.hex(), reply.id.hex(), own_reply.id.hex(), heart.id.hex()}

    after = disk_bytes(db)
    for word in words:
        assert word not in after, word
    assert secret.encode() not in after and root.wire not in after
    # Gone from every view, never served, never taken back.
    assert store.thread(root.id, now=NOW) is None
    assert [i.id for i in store.feed(now=NOW).rows] == [keep.id]
    assert store.search("zygomorphicquokka", now=NOW) == []
    assert store.search("vexillologicalparrot", now=NOW) == []
    assert store.get(root.id.hex()) is None
    assert store.wires([root.id, reply.id, heart.id]) == []
    for obj in (root, reply, heart):
        again = store.ingest(obj, sid, NOW)
        assert again.status == "rejected" and "deleted" in (again.reason or "")
    late = protocol.make_reply(SEED_C, root, "too late", now=NOW)
    assert store.ingest(late, sid, NOW).status == "rejected"
    # The tombstone itself is kept and re-served, so other nodes learn of it.
    assert store.wires([delete.id]) == [delete.wire]
    assert store.ingest(delete, sid, NOW).status == "duplicate"
    counts = store.counts()
    assert (counts["posts"], counts["replies"], counts["hearts"], counts["tombstones"]) == (1, 0, 0, 1)
    assert counts["own"] == 0


def test_delete_reply_keeps_thread(store: Store, sid: bytes) -> None:
    root = post("thread stays")
    reply = protocol.make_reply(SEED_B, root, "regrettable words", now=NOW)
    other = protocol.make_reply(SEED_C, root, "fine words", now=NOW)
    store.ingest_many([(root, sid), (reply, sid), (other, sid)], NOW)
    assert store.feed(now=NOW).rows[0].replies == 2
    res = store.ingest(protocol.make_delete(SEED_B, reply, now=NOW, root=root), sid, NOW)
    assert res.erased == (reply.id.hex(),)
    thread = store.thread(root.id, now=NOW)
    assert thread is not None and [r.id for r in thread.replies] == [other.id]
    assert thread.root.replies == 1


def test_delete_of_heart_withdraws_it(store: Store, sid: bytes) -> None:
    p = post("withdrawn heart")
    heart = protocol.make_heart(SEED_B, p.id, now=NOW)
    store.ingest_many([(p, sid), (heart, sid)], NOW)
    assert store.feed(now=NOW).rows[0].hearts == 1
    assert store.ingest(protocol.make_delete(SEED_B, heart, now=NOW), sid, NOW).status == "new"
    assert store.feed(now=NOW).rows[0].hearts == 0


def forged_delete(target: protocol.Signed, seed: bytes = SEED_B) -> protocol.Signed:
    """A well-formed delete signed by someone who is not the target's author."""
    key = SigningKey(seed)
    return protocol.sign(protocol.Delete(bytes(key.verify_key), target.id, NOW), key)


def test_delete_by_non_author_refused(store: Store, sid: bytes) -> None:
    p = post("not yours to delete")
    store.ingest(p, sid, NOW)
    res = store.ingest(forged_delete(p), sid, NOW)
    assert res.status == "rejected" and res.reason == "delete not signed by the target's key"
    assert store.thread(p.id, now=NOW) is not None
    assert store.counts()["tombstones"] == 0


def test_delete_of_a_delete_refused(store: Store, sid: bytes) -> None:
    p = post("deleted once")
    delete = protocol.make_delete(SEED_A, p, now=NOW)
    store.ingest_many([(p, sid), (delete, sid)], NOW)
    key = protocol.own_key(SEED_A, p)
    assert key is not None
    double = protocol.sign(protocol.Delete(p.obj.pubkey, delete.id, NOW), key)
    assert store.ingest(double, sid, NOW).reason == "a delete cannot be deleted"


def test_delete_before_target(db: Path, store: Store, sid: bytes) -> None:
    p = post("never to be seen wombatfeather")
    reply = protocol.make_reply(SEED_B, p, "orphan reply", now=NOW)
    delete = protocol.make_delete(SEED_A, p, now=NOW)
    assert store.ingest(reply, sid, NOW).pending
    res = store.ingest(delete, sid, NOW)
    assert res.status == "new" and res.pending
    assert store.counts()["pending_deletes"] == 1
    res = store.ingest(p, sid, NOW)
    assert res.status == "rejected" and res.reason == "deleted by its author"
    assert res.erased == (reply.id.hex(),)  # the orphan went with its thread
    assert store.get(p.id.hex()) is None and store.thread(p.id, now=NOW) is None
    assert store.counts()["pending_deletes"] == 0 and store.counts()["replies"] == 0
    assert b"wombatfeather" not in disk_bytes(db)
    assert store.ingest(p, sid, NOW).status == "rejected"


def test_forged_pending_delete_is_dropped_when_target_arrives(store: Store, sid: bytes) -> None:
    p = post("survives a forged delete")
    forged = forged_delete(p)
    assert store.ingest(forged, sid, NOW).pending
    assert store.ingest(p, sid, NOW).status == "new"
    assert store.counts()["tombstones"] == 0 and store.wires([forged.id]) == []
    assert store.ingest(forged, sid, NOW).status == "rejected"


def test_expired_refused_and_purged(db: Path, store: Store, sid: bytes) -> None:
    short = post("self destructing ephemeralpangolin", 1, expires_in=HOUR)
    forever = post("stays around", 2)
    reply = protocol.make_reply(SEED_B, short, "reply to ephemeral", now=NOW)
    store.ingest_many([(short, sid), (forever, sid), (reply, sid)], NOW)
    assert isinstance(short.obj, protocol.Post) and short.obj.expires is not None
    gone_at = short.obj.expires
    assert len(store.feed(now=gone_at - 1).rows) == 2
    # Past its time it is hidden even before the purge...
    assert [i.id for i in store.feed(now=gone_at).rows] == [forever.id]
    assert store.thread(short.id, now=gone_at) is None
    assert store.search("ephemeralpangolin", now=gone_at) == []
    late_heart = protocol.make_heart(SEED_C, short.id, now=NOW)
    assert store.ingest(late_heart, sid, gone_at).reason == "its target has expired"
    # ...and the purge erases it with its replies.
    assert store.purge_expired(gone_at) == 2
    assert b"ephemeralpangolin" not in disk_bytes(db)
    assert store.purge_expired(gone_at) == 0
    assert store.ingest(short, sid, NOW).status == "rejected"
    assert store.ingest(reply, sid, NOW).status == "rejected"
    # An object that arrives already expired is refused outright.
    stale = post("arrived too late", 3, expires_in=600)
    res = store.ingest(stale, sid, NOW + HOUR)
    assert res.status == "rejected" and res.reason == "expired"
    assert store.get(stale.id.hex()) is None


def test_future_objects_refused(store: Store, sid: bytes) -> None:
    early = post("from the future", 1, now=NOW + 1200)
    res = store.ingest(early, sid, NOW)
    assert res.status == "rejected" and "future" in (res.reason or "")
    assert store.ingest(post("one quantum ahead is skew", 2, now=NOW + 600), sid, NOW).status == "new"
    assert store.ingest(early, sid, NOW + 600).status == "new"


# -- feeds -----------------------------------------------------------------------


def test_latest_order_and_keyset_pagination(store: Store, sid: bytes) -> None:
    # 230 posts over 115 distinct times: in every time step two posts tie,
    # and the one that arrived here later comes first.
    posts = [post(f"post {i}", i, now=NOW - (i // 2) * 600) for i in range(230)]
    arrival = posts[::-1]
    store.ingest_many([(p, sid) for p in arrival], NOW)
    order = {p.id: n for n, p in enumerate(arrival)}
    expected = [p.id for p in sorted(posts, key=lambda p: (p.obj.created, order[p.id]), reverse=True)]
    seen: list[bytes] = []
    cursor = None
    pages = 0
    while True:
        page = store.feed(now=NOW, limit=50, before=cursor)
        seen += [i.id for i in page.rows]
        pages += 1
        cursor = page.next
        if cursor is None:
            break
        cursor = list(cursor)  # as it comes back through JSON
    assert seen == expected
    assert pages == 5
    item = store.feed(now=NOW, limit=1).rows[0]
    assert {f.name for f in dataclasses.fields(item)} >= {
        "id",
        "text",
        "bg",
        "name",
        "created",
        "expires",
        "hearts",
        "replies",
        "flags",
        "mine",
        "hearted",
    }


def test_feed_excludes_replies_and_other_swarms(store: Store, sid: bytes) -> None:
    sid2 = store.add_swarm("work", PSK2, 4002, NOW).raw_id
    a, b = post("in friends", 1), post("in work", 2)
    store.ingest_many([(a, sid), (b, sid2), (protocol.make_reply(SEED_B, a, "a reply", now=NOW), sid)], NOW)
    assert [i.id for i in store.feed(swarm=sid, now=NOW).rows] == [a.id]
    assert [i.id for i in store.feed(swarm=sid2, now=NOW).rows] == [b.id]
    assert len(store.feed(now=NOW).rows) == 2
    with pytest.raises(UnknownSwarm):
        store.feed(swarm=bytes(32), now=NOW)


def test_popular_order_and_decay(store: Store, sid: bytes) -> None:
    old = post("old but loved", 1, now=NOW - 6 * HOUR)
    fresh = post("brand new", 2, now=NOW)
    middle = post("a bit older", 3, now=NOW - HOUR)
    hearts = [protocol.make_heart(bytes([i]) * 32, old.id, now=NOW) for i in range(10)]
    store.ingest_many([(old, sid), (fresh, sid), (middle, sid)] + [(h, sid) for h in hearts], NOW)
    ids = [i.id for i in store.feed(popular=True, now=NOW).rows]
    assert ids == [old.id, fresh.id, middle.id]
    assert store.feed(popular=True, now=NOW).rows[0].hearts == 10
    # Hearts decay with age: ten days on, a post from then with none beats it.
    later = NOW + 10 * 24 * HOUR
    newer = post("today's post", 4, now=later)
    store.ingest(newer, sid, later)
    assert store.feed(popular=True, now=later).rows[0].id == newer.id
    assert popular_score(10, NOW - 6 * HOUR, NOW) == pytest.approx(11 / 8**1.5)
    assert popular_score(0, NOW + 600, NOW) == pytest.approx(1 / 2**1.5)  # skewed clocks: age 0


def test_popular_pagination_covers_everything_once(store: Store, sid: bytes) -> None:
    posts = [post(f"p {i}", i, now=NOW - i * 600) for i in range(120)]
    hearts = [protocol.make_heart(SEED_B, p.id, now=NOW) for p in posts[::7]]
    store.ingest_many([(p, sid) for p in posts] + [(h, sid) for h in hearts], NOW)
    seen: list[bytes] = []
    cursor = None
    while True:
        page = store.feed(popular=True, limit=25, before=cursor, now=NOW + 5)
        seen += [i.id for i in page.rows]
        if page.next is None:
            break
        cursor = page.next
        assert cursor[0] == NOW + 5  # pages keep scoring with page one's clock
    assert sorted(seen) == sorted(p.id for p in posts) and len(seen) == 120


def test_popular_matches_a_full_sort(store: Store, sid: bytes) -> None:
    """Popular only scans posts young enough to reach the page; the result must equal a full sort."""
    now = NOW + 7200
    recent = [post(f"recent {i}", i, now=now - (i % 12) * 600) for i in range(150)]
    spread = [post(f"older {i}", 1000 + i, now=now - (i + 1) * 5 * HOUR) for i in range(60)]
    loved = post("two days old and loved", 5000, now=now - 48 * HOUR)
    posts = [*recent, *spread, loved]
    hearts = [protocol.make_heart(bytes([k]) * 32, loved.id, now=now) for k in range(60)]
    for i, p in enumerate(posts[::4]):
        hearts += [protocol.make_heart(bytes([200 + k]) * 32, p.id, now=now) for k in range(i % 5)]
    store.ingest_many([(p, sid) for p in posts] + [(h, sid) for h in hearts], now)

    counts = {p.id: 0 for p in posts}
    for h in hearts:
        assert isinstance(h.obj, protocol.Heart)
        counts[h.obj.target] += 1

    def key(p: protocol.Signed) -> tuple[float, int, bytes]:
        h, age = counts[p.id] + 1.0, max(0, now - p.obj.created) / 3600.0
        return (h * h / ((age + 2.0) * (age + 2.0) * (age + 2.0)), p.obj.created, p.id)  # as the SQL computes it

    expected = [p.id for p in sorted(posts, key=key, reverse=True)]
    assert expected.index(loved.id) > 20  # not on page one, so page one really is pruned
    for limit in (20, 50):
        seen: list[bytes] = []
        cursor = None
        while True:
            page = store.feed(popular=True, limit=limit, before=cursor, now=now)
            seen += [i.id for i in page.rows]
            cursor = page.next
            if cursor is None:
                break
        assert seen == expected


def _walk_latest(store: Store, now: int, limit: int) -> list[bytes]:
    """Every post of Latest, page by page, the cursor passed back as JSON would."""
    seen: list[bytes] = []
    cursor: list[int] | None = None
    while True:
        page = store.feed(now=now, limit=limit, before=cursor)
        seen += [row.id for row in page.rows]
        if page.next is None:
            return seen
        cursor = list(page.next)


def test_a_post_dated_ahead_stands_where_it_arrived(store: Store, sid: bytes) -> None:
    """Latest is bounded by first sight: posts dated one step ahead cannot hold the top over later arrivals."""
    # A step of clock skew is tolerated, so these are stored, each placed in the step it arrived in.
    ahead = [post(f"pinned {i}", i, now=NOW + 600) for i in range(200)]
    store.ingest_many([(p, sid) for p in ahead], NOW + 5)
    honest = [post(f"honest {i}", 1000 + i, now=NOW) for i in range(3)]
    for p in honest:
        store.ingest(p, sid, NOW + 60)  # the same step, after the flood
    top = store.feed(now=NOW + 60, limit=50).rows
    assert [row.id for row in top[:3]] == [p.id for p in reversed(honest)]
    assert top[0].created == NOW and top[3].created == NOW + 600  # the API still shows what they claim
    # The next step's posts go above all of them; a post of yesterday arriving now stands at its own time.
    next_step = post("the next step", 2000, now=NOW + 600)
    yesterday = post("from yesterday", 3000, now=NOW - 24 * HOUR)
    store.ingest_many([(next_step, sid), (yesterday, sid)], NOW + 600)
    placed = [(NOW, n, p.id) for n, p in enumerate(ahead)]
    placed += [(NOW, 200 + n, p.id) for n, p in enumerate(honest)]
    placed += [(NOW + 600, 300, next_step.id), (NOW - 24 * HOUR, 301, yesterday.id)]
    expected = [oid for _, _, oid in sorted(placed, reverse=True)]
    assert _walk_latest(store, NOW + 600, 30) == expected
    # Popular ages a post from its place too: one dated ahead is no younger than its arrival makes it.
    pinned = ahead[0]
    fair = next(p for i in range(4000, 4100) if (p := post(f"fair {i}", i, now=NOW)).id > pinned.id)
    store.ingest(fair, sid, NOW + 5)
    ids = [row.id for row in store.feed(popular=True, now=NOW + 3000, limit=500).rows]
    assert ids.index(fair.id) < ids.index(pinned.id)  # the same score: the tie goes to the larger id


def test_replies_in_one_step_come_in_the_order_they_arrived(store: Store, sid: bytes) -> None:
    root = post("what do you think?", 1)
    store.ingest(root, sid, NOW)
    said = [protocol.make_reply(bytes([i + 40]) * 32, root, f"answer {i}", now=NOW + 60 * i) for i in range(8)]
    assert len({r.obj.created for r in said}) == 1 and [r.id for r in said] != sorted(r.id for r in said)
    for i, reply in enumerate(said):
        store.ingest(reply, sid, NOW + 60 * i)
    # Dated a step ahead, it is placed in the step it arrived in, not after the next step's replies.
    early = protocol.make_reply(SEED_B, root, "from a fast clock", now=NOW + 1200)
    store.ingest(early, sid, NOW + 600)
    later = protocol.make_reply(SEED_C, root, "a step later", now=NOW + 1200)
    store.ingest(later, sid, NOW + 1200)
    thread = store.thread(root.id, now=NOW + 1200)
    assert thread is not None
    assert [r.id for r in thread.replies] == [r.id for r in (*said, early, later)]


# -- quota and eviction ----------------------------------------------------------


def recount(db: Path) -> dict[bytes, tuple[int, int]]:
    """Objects and wire bytes per swarm, counted afresh from the tables (what the triggers keep in ``usage``)."""
    raw = sqlite3.connect(db)
    try:
        rows = raw.execute(
            "SELECT s.swarm, count(*), sum(length(o.wire)) FROM object_swarms s JOIN objects o ON o.id = s.id "
            "GROUP BY s.swarm"
        ).fetchall()
    finally:
        raw.close()
    return {bytes(swarm): (n, size) for swarm, n, size in rows}


def kept(store: Store) -> dict[bytes, tuple[int, int]]:
    return {row.swarm: (row.objects, row.bytes) for row in store.usage() if row.objects}


def test_usage_follows_every_way_in_and_out(db: Path, store: Store, sid: bytes) -> None:
    work = store.add_swarm("work", PSK2, 4002, NOW, difficulty=0).raw_id
    posts = [post(f"post {i} " + "x" * (i * 40), i) for i in range(12)]
    store.ingest_many([(p, sid if i % 2 else work) for i, p in enumerate(posts)], NOW)
    store.ingest(posts[0], sid, NOW)  # a post seen in both swarms counts in both
    reply = protocol.make_reply(SEED_B, posts[1], "an answer", now=NOW)
    store.ingest_own(reply, [sid], NOW)
    store.restamp(reply.with_stamp(protocol.mint_stamp(reply.id, 4) or b""))
    assert kept(store) == recount(db) and len(recount(db)) == 2
    store.ingest(protocol.make_delete(SEED_A, posts[1], now=NOW), sid, NOW)  # takes the reply with it
    store.ingest(post("expiring", 50, expires_in=600), sid, NOW)
    store.purge_expired(NOW + 1200)
    assert kept(store) == recount(db)
    store.remove_swarm("work")
    assert kept(store) == recount(db) and set(recount(db)) == {sid}
    assert [row.swarm for row in store.usage()] == [sid]


def test_eviction_order_and_memory(db: Path, store: Store, sid: bytes) -> None:
    """Over its quota a swarm loses expired posts, the most flagged, the oldest others' objects; never yours."""
    later = NOW + 2 * HOUR
    mine = post("my own, the oldest of all", 1, now=NOW - 10 * 24 * HOUR)
    their_thread = post("their thread I answered", 2, seed=SEED_B, now=NOW - 9 * 24 * HOUR)
    my_reply = protocol.make_reply(SEED_A, their_thread, "my answer", now=NOW)
    hearted = post("their post I hearted", 3, seed=SEED_B, now=NOW - 8 * 24 * HOUR)
    expiring = post("gone in an hour", 4, seed=SEED_B, expires_in=HOUR)
    flagged = [post(f"flagged {n}", 5 + n, seed=SEED_B, now=NOW - HOUR) for n in range(2)]
    flags = [protocol.make_flag(bytes([90 + k]) * 32, flagged[k % 2].id, now=NOW) for k in range(3)]
    old = [post(f"old {i}", 100 + i, seed=SEED_B, now=NOW - 7 * 24 * HOUR + i * 600) for i in range(20)]
    filler = [post(f"fresh {i}", 1000 + i, seed=SEED_C) for i in range(250)]
    store.ingest_own(mine, [sid], NOW)
    store.ingest_many([(p, sid) for p in (their_thread, hearted, expiring, *flagged, *flags, *old)], NOW)
    store.ingest_own(my_reply, [sid], NOW)
    store.ingest_own(protocol.make_heart(SEED_A, hearted.id, now=NOW), [sid], NOW)
    store.ingest_many([(p, sid) for p in filler], NOW)
    store.configure_swarm(sid, quota=MIN_QUOTA)
    assert store.usage()[0].bytes > MIN_QUOTA and store.over_quota() == [sid]

    def there(signed: protocol.Signed) -> bool:
        return store.get(signed.id) is not None

    # A batch of three: the expired post first (not counted), the two flagged (and their flags), the oldest.
    assert store.evict(sid, later, limit=3) == 1 + 2 + 3 + 1
    assert not any(map(there, (expiring, *flagged, *flags, old[0])))
    assert all(map(there, (mine, their_thread, my_reply, hearted, old[1])))
    while store.evict(sid, later):
        pass
    usage = store.usage()[0]
    assert usage.bytes <= MIN_QUOTA * 0.9 and store.over_quota() == []
    assert not any(map(there, old)) and all(map(there, (mine, their_thread, my_reply, hearted)))
    gone = [p for p in filler if not there(p)]
    assert gone == filler[: len(gone)] and 0 < len(gone) < len(filler)  # the oldest arrivals of one step first
    assert kept(store) == recount(db) and usage.evicted == len(flagged) + len(flags) + len(old) + len(gone)

    # Remembered: refused again, and listed to sync as held here but never served.
    assert store.ingest(old[0], sid, later).reason == (
        "evicted here to keep the store's quota; refused while that is remembered"
    )
    answer = protocol.make_reply(SEED_C, old[1], "too late", now=NOW)
    assert store.ingest(answer, sid, later).reason == "its thread was evicted here (store quota)"
    listed = {oid for _, oid in store.object_ids(sid)}
    assert {old[0].id, flags[0].id} <= listed and store.wires([old[0].id]) == []
    assert store.forget_evicted(later + 29 * 24 * HOUR) == 0
    assert store.forget_evicted(later + 30 * 24 * HOUR) == usage.evicted
    assert store.ingest(old[0], sid, later).status == "new"
    # The memory is bounded too: one id per KiB of quota, the longest remembered forgotten first.
    more = [post(f"more {i}", 5000 + i, seed=SEED_C) for i in range(200)]
    store.ingest_many([(p, sid) for p in more], later)
    while store.evict(sid, later):
        pass
    assert store.usage()[0].evicted == MIN_QUOTA // 1024


# -- moderation ------------------------------------------------------------------


def test_mutes_leave_posts_out_of_every_read_and_change_nothing_served(store: Store, sid: bytes) -> None:
    spoiler = post("Spoilers ahead: the butler did it", 1, seed=SEED_B)
    plain = post("an ordinary day", 2, seed=SEED_B)
    thread = post("coffee or tea?", 3, seed=SEED_B)
    loud = protocol.make_reply(SEED_C, thread, "coffee, always coffee", now=NOW)
    fancy = protocol.make_reply(bytes([77]) * 32, thread, "a Café au lait", now=NOW)
    calm = protocol.make_reply(bytes([78]) * 32, thread, "tea", now=NOW, parent=loud.id)
    hidden = post("a thread I do not want to see", 4, seed=SEED_B)
    objects = [spoiler, plain, thread, loud, fancy, calm, hidden]
    store.ingest_many([(o, sid) for o in objects], NOW)
    served = store.object_ids(sid)

    def feed(**kw: object) -> list[bytes]:
        return [row.id for row in store.feed(now=NOW, limit=2, **kw).rows] + [
            row.id for row in store.feed(now=NOW, limit=500, before=store.feed(now=NOW, limit=2, **kw).next, **kw).rows
        ]

    assert store.mute_word("  SPOILERS ") == "spoilers"
    store.mute_word("cafe")  # accents and case folded, as search folds them
    store.mute_key(loud.obj.pubkey, thread.id)
    store.hide_thread(hidden.id)
    assert feed() == [thread.id, plain.id]  # Latest, page by page
    assert sorted(r.id for r in store.feed(popular=True, now=NOW).rows) == sorted([thread.id, plain.id])
    assert store.search("butler") == [] and store.search("thread") == []
    assert [hit.id for hit in store.search("coffee")] == [thread.id]  # its muted reply is left out
    shown = store.thread(thread.id, now=NOW)
    assert shown is not None and [r.id for r in shown.replies] == [calm.id] and not shown.hidden
    asked = store.thread(hidden.id, now=NOW)
    assert asked is not None and asked.hidden  # asked for by id, the hidden thread is still there
    assert store.muted_among([o.id for o in objects]) == {spoiler.id, loud.id, fancy.id, hidden.id}
    assert store.object_ids(sid) == served  # muted objects are still stored and served: no peer can tell
    assert store.mutes().words == ("cafe", "spoilers") and store.mutes().threads == (hidden.id,)
    assert store.mutes().keys == ((loud.obj.pubkey, thread.id),)
    for bad in ("", "   ", "!!!", "x" * 65):
        with pytest.raises(InvalidArgument):
            store.mute_word(bad)
    assert store.unmute(word="Spoilers") and store.unmute(pubkey=loud.obj.pubkey) and store.unmute(root=hidden.id)
    assert not store.unmute(word="spoilers")
    store.unmute(word="cafe")
    assert store.muted_among([o.id for o in objects]) == set() and len(feed()) == 4


def test_flags_collapse_a_post_at_its_swarm_s_threshold(store: Store, sid: bytes) -> None:
    target = post("is this spam?", 1, seed=SEED_B)
    store.ingest(target, sid, NOW)
    flags = [protocol.make_flag(bytes([50 + k]) * 32, target.id, now=NOW, reason="spam") for k in range(3)]
    for n, flag in enumerate(flags, 1):
        store.ingest(flag, sid, NOW)
        (row,) = store.feed(now=NOW).rows
        assert (row.flags, row.collapsed) == (n, n >= 3)  # the default threshold
    assert store.configure_swarm(sid, flag_threshold=5).flag_threshold == 5
    assert not store.feed(now=NOW).rows[0].collapsed
    store.configure_swarm(sid, flag_threshold=1)
    shown = store.thread(target.id, now=NOW)
    assert shown is not None and shown.root.collapsed
    for bad in (0, 1001):
        with pytest.raises(InvalidArgument):
            store.configure_swarm(sid, flag_threshold=bad)


# -- threads -------------------------------------------------------------------


def test_thread_rows_and_keys(store: Store, sid: bytes) -> None:
    # The node draws the crown and the icons from these keys (tests/test_shape.py).
    root = post("who said what", 1)
    r1 = protocol.make_reply(SEED_B, root, "first from B", now=NOW)
    r2 = protocol.make_reply(SEED_A, root, "author answers", now=NOW + 600, parent=r1.id)
    r3 = protocol.make_reply(SEED_C, root, "C joins", now=NOW + 600)
    r4 = protocol.make_reply(SEED_B, root, "B again", now=NOW + 1200, parent=r2.id)
    store.ingest_many([(r4, sid), (r3, sid), (root, sid), (r2, sid), (r1, sid)], NOW + 1200)
    store.ingest(protocol.make_heart(SEED_C, r1.id, now=NOW), sid, NOW + 1200)
    thread = store.thread(root.id, now=NOW + 1200)
    assert thread is not None
    head, replies = thread.root, thread.replies
    assert head.kind == protocol.KIND_POST and head.parent is None and head.replies == 4
    assert head.pubkey == root.obj.pubkey
    # r2 and r3 share a time step: the one that arrived here first comes first.
    assert [r.id for r in replies] == [r.id for r in (r1, r3, r2, r4)]
    by_id = {r.id: r for r in replies}
    assert by_id[r2.id].pubkey == head.pubkey  # the crown: the root's own key
    assert by_id[r1.id].pubkey != head.pubkey and by_id[r3.id].pubkey != head.pubkey
    assert by_id[r1.id].pubkey == by_id[r4.id].pubkey  # B keeps one key in the thread
    assert by_id[r1.id].hearts == 1
    assert by_id[r4.id].parent == r2.id
    assert all(r.kind == protocol.KIND_REPLY for r in replies)
    assert store.thread(root.id.hex(), now=NOW + 1200) == thread
    assert store.thread(bytes(32), now=NOW) is None


def test_reply_must_stay_in_its_thread(store: Store, sid: bytes) -> None:
    a, b = post("thread a", 1), post("thread b", 2)
    ra = protocol.make_reply(SEED_B, a, "in a", now=NOW)
    store.ingest_many([(a, sid), (b, sid), (ra, sid)], NOW)
    cross = protocol.make_reply(SEED_C, b, "points into a", now=NOW, parent=ra.id)
    assert store.ingest(cross, sid, NOW).reason == "its parent is not in the same thread"
    # make_reply refuses a non-post root, so build one by hand: its root is a heart.
    heart_root = protocol.make_heart(SEED_C, a.id, now=NOW)
    store.ingest(heart_root, sid, NOW)
    key = SigningKey(SEED_C)
    odd = protocol.sign(protocol.Reply(bytes(key.verify_key), nonce(9), heart_root.id, heart_root.id, NOW, "x"), key)
    assert store.ingest(odd, sid, NOW).reason == "its root is not a post"


# -- search ----------------------------------------------------------------------

HOSTILE = [
    '"',
    '""',
    "'",
    "*",
    "**",
    "NEAR(",
    "NEAR(a b",
    "a AND",
    "AND",
    "OR",
    "NOT",
    "a OR NOT",
    "(",
    ")",
    "()",
    "{a b}",
    "col:foo",
    "text:foo",
    "^foo",
    "-",
    "+",
    "\\",
    'a"b',
    '"unterminated',
    "NEAR/3",
    "a*",
    "🎉",
    "日本語",
    "é",
    "\u200d",
    "x" * 5000,
    "null\u0000byte",
    "%",
    "_",
    ";DROP TABLE posts;--",
]


def test_search_hostile_queries_never_raise(store: Store, sid: bytes) -> None:
    store.ingest_many(
        [(post("meet me near the station AND bring (snacks)", 1), sid), (post("日本語 テキスト", 2), sid)], NOW
    )
    for q in HOSTILE:
        result = store.search(q, now=NOW)
        assert isinstance(result, list)
    assert store.search("", now=NOW) == []
    assert store.search("   \n\t", now=NOW) == []


def test_search_finds_with_highlights(store: Store, sid: bytes) -> None:
    a = post("meet me near the station AND bring (snacks)", 1)
    b = post("a café in the old town", 2)
    c = post("日本語 テキスト です", 3)
    d = post("the station was closed", 4)
    reply = protocol.make_reply(SEED_B, d, "which station? the café one", now=NOW)
    store.ingest_many([(x, sid) for x in (a, b, c, d, reply)], NOW)

    hits = store.search("NEAR(", now=NOW)
    assert [h.id for h in hits] == [a.id]
    assert hits[0].text == "meet me [near] the station AND bring (snacks)"
    assert [h.id for h in store.search("bring AND", now=NOW)] == [a.id]  # "and" is a word here
    assert [h.id for h in store.search("(snacks*", now=NOW)] == [a.id]
    # Diacritics fold both ways; a reply maps back to its thread's root.
    cafe = {h.id: h for h in store.search("cafe", now=NOW)}
    assert set(cafe) == {b.id, reply.id}
    assert cafe[b.id].text == "a [café] in the old town"
    assert cafe[reply.id].root == d.id and cafe[reply.id].kind == protocol.KIND_REPLY
    assert cafe[b.id].root == b.id
    assert {h.id for h in store.search("CAFÉ", now=NOW)} == set(cafe)
    assert [h.id for h in store.search("日本語", now=NOW)] == [c.id]
    # Words are ANDed; markers are configurable.
    both = store.search('station "closed', now=NOW, markers=("\x02", "\x03"))
    assert [h.text for h in both] == ["the \x02station\x03 was \x02closed\x03"]
    assert store.search("station", limit=1, now=NOW)[0].id in {a.id, d.id, reply.id}
    assert len(store.search("station", now=NOW)) == 3
    assert store.search("station", swarm=sid, now=NOW)
    with pytest.raises(InvalidArgument):
        store.search(None)  # type: ignore[arg-type]


# -- ids -------------------------------------------------------------------------


def test_prefix_resolution_and_ambiguity(store: Store, sid: bytes) -> None:
    # Nonces 16524 and 18785 give ids that share their first 7 hex digits, and only those.
    x = protocol.make_post(SEED_A, "collide", now=NOW, nonce=nonce(16524))
    y = protocol.make_post(SEED_A, "collide", now=NOW, nonce=nonce(18785))
    assert x.id.hex()[:7] == y.id.hex()[:7] == "17c38d2"
    store.ingest_many([(x, sid), (y, sid)], NOW)
    assert store.get(x.id.hex()) == x
    assert store.get(x.id.hex().upper()) == x
    assert store.get(x.id) == x
    assert store.get(x.id.hex()[:12]) == x
    assert store.resolve_id(y.id.hex()[:8]) == y.id
    assert store.resolve_id(x.id.hex()[:9]) == x.id  # odd length
    for prefix in ("17c38d", "17c38d2"):
        with pytest.raises(AmbiguousId, match=prefix):
            store.get(prefix)
    assert store.get("0123456789") is None
    with pytest.raises(UnknownId):
        store.resolve_id("0123456789")
    for bad in ("17c38", "nothex!", "", "f" * 65, 12):
        with pytest.raises(InvalidArgument):
            store.get(bad)  # type: ignore[arg-type]


def test_sync_helpers(store: Store, sid: bytes) -> None:
    posts = [post(f"sync {i}", i, now=NOW - i * 600) for i in range(5)]
    store.ingest_many([(p, sid) for p in posts], NOW)
    assert store.object_ids(sid) == sorted((p.obj.created, p.id) for p in posts)
    wanted = [posts[3].id, bytes(32), posts[0].id]
    assert store.wires(wanted) == [posts[3].wire, posts[0].wire]
    assert store.wires(p.id.hex() for p in posts) == [p.wire for p in posts]
    many = [p.id for p in posts] * 300  # more than one IN (...) chunk
    assert len(store.wires(many)) == 1500


def test_own_objects_are_held_until_released(db: Path, store: Store, sid: bytes) -> None:
    store.add_swarm("work", PSK2, 4002, NOW, 0)
    sid2 = protocol.swarm_id(PSK2)
    other = post("a relay's post", 1, seed=SEED_B)
    mine = post("my own post", 2)
    store.ingest(other, sid, NOW)
    assert store.ingest_own(mine, [sid, sid2], NOW).status == "new"
    # Nothing a peer can ask for shows the held post, in either swarm...
    assert store.object_ids(sid) == [(other.obj.created, other.id)]
    assert store.object_ids(sid2) == []
    assert store.wires([mine.id, other.id]) == [other.wire]
    # ...but the user sees it, and a restart finds it to re-send.
    assert store.feed(now=NOW).rows[0].mine
    assert store.counts()["held"] == 1
    store.close()
    with Store.open(db) as again:
        assert again.held() == [(mine.wire, sorted([sid, sid2]))]
        assert again.release(mine.id) and not again.release(mine.id)
        assert again.held() == []
        assert (mine.obj.created, mine.id) in again.object_ids(sid)
        assert again.wires([mine.id]) == [mine.wire]


def test_held_object_erased_by_delete_leaves_no_hold(store: Store, sid: bytes) -> None:
    mine = post("regret", 3)
    store.ingest_own(mine, [sid], NOW)
    store.ingest(protocol.make_delete(SEED_A, mine, now=NOW), sid, NOW)
    assert store.held() == [] and store.counts()["held"] == 0
    with pytest.raises(InvalidArgument):
        store.ingest_own(mine, [], NOW)


def test_version_1_file_migrates_keeping_its_data(db: Path, sid: bytes) -> None:
    """A file of schema version 1, with what that version wrote, is brought to the current version intact.

    Migration 3 gives the swarm the difficulty a version 1 invite means (18)
    and every object the work 0: stored before stamps, none was minted.
    """
    from p2pnet.store._schema import MIGRATIONS

    # What version 1 wrote: objects of version 1, which carry no stamp.
    theirs = protocol.sign(post("a peer's post", 5, seed=SEED_B).obj, _post_key(SEED_B, 5), version=1)
    mine = protocol.sign(post("my own post", 4).obj, _post_key(SEED_A, 4), version=1)
    raw = sqlite3.connect(db)
    for statement in MIGRATIONS[0]:
        raw.execute(statement)
    raw.execute("PRAGMA user_version = 1")
    raw.execute("INSERT INTO swarms(id, name, psk, port, joined) VALUES (?, 'friends', ?, 4001, ?)", (sid, PSK, NOW))
    for signed in (theirs, mine):
        obj = signed.obj
        assert isinstance(obj, protocol.Post)
        rid = raw.execute(
            "INSERT INTO objects(id, kind, pubkey, created, wire) VALUES (?, 1, ?, ?, ?)",
            (signed.id, obj.pubkey, obj.created, signed.wire),
        ).lastrowid
        raw.execute("INSERT INTO object_swarms(swarm, id) VALUES (?, ?)", (sid, signed.id))
        raw.execute(
            "INSERT INTO posts(rid, id, kind, pubkey, created, text, bg) VALUES (?, ?, 1, ?, ?, ?, ?)",
            (rid, signed.id, obj.pubkey, obj.created, obj.text, obj.bg),
        )
        raw.execute("INSERT INTO search(rowid, text) VALUES (?, ?)", (rid, obj.text))
    raw.execute("INSERT INTO own(id) VALUES (?)", (mine.id,))
    raw.commit()
    raw.close()
    with Store.open(db) as st:
        (swarm,) = st.swarms()
        assert (swarm.name, swarm.port, swarm.psk, swarm.difficulty) == ("friends", 4001, PSK, 18)
        assert {(row.id, row.mine) for row in st.feed(now=NOW).rows} == {(theirs.id, False), (mine.id, True)}
        assert st.get(theirs.id.hex()) == theirs and st.get(mine.id.hex()) == mine
        assert [hit.id for hit in st.search("peer's")] == [theirs.id]
        # Neither stamp meets 18 bits: sync offers neither, so no peer is handed what it must refuse.
        assert st.object_ids(sid) == []
        assert st.stamp_need(theirs.id) == StampNeed(theirs.wire, 0, 18)
        assert st.stamp_need(mine.id) == StampNeed(mine.wire, 0, 18)
        # A version 1 file has no `held` table: nothing comes out of migration 2 held.
        assert st.counts()["held"] == 0 and st.minting() == 0
        later = post("made after the upgrade", 6)
        assert st.ingest_own(later, [sid], NOW).status == "new"
        assert st.counts()["held"] == 1 and st.minting() == 1
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        raw.close()


def test_version_3_file_migrates_keeping_its_order(db: Path, sid: bytes) -> None:
    """Migration 5 adds first-seen times: rows stored before count as seen when created, and keep their order."""
    from p2pnet.store._schema import MIGRATIONS

    root = post("an old thread", 1)
    late = post("dated a step ahead", 2, now=NOW + 600)
    replies = [protocol.make_reply(bytes([i + 60]) * 32, root, f"reply {i}", now=NOW) for i in range(4)]
    raw = sqlite3.connect(db)
    for entry in MIGRATIONS[:3]:
        for statement in entry:
            raw.execute(statement)
    raw.execute("PRAGMA user_version = 3")
    raw.execute("INSERT INTO swarms(id, name, psk, port, joined) VALUES (?, 'friends', ?, 4001, ?)", (sid, PSK, NOW))
    for signed in (root, late, *replies):
        obj = signed.obj
        assert isinstance(obj, protocol.Post | protocol.Reply)
        rid = raw.execute(
            "INSERT INTO objects(id, kind, pubkey, created, wire) VALUES (?, ?, ?, ?, ?)",
            (signed.id, signed.kind, obj.pubkey, obj.created, signed.wire),
        ).lastrowid
        raw.execute("INSERT INTO object_swarms(swarm, id) VALUES (?, ?)", (sid, signed.id))
        shape = (obj.root, obj.parent, None) if isinstance(obj, protocol.Reply) else (None, None, obj.bg)
        raw.execute(
            "INSERT INTO posts(rid, id, kind, pubkey, created, text, root, parent, bg) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rid, signed.id, signed.kind, obj.pubkey, obj.created, obj.text, *shape),
        )
        raw.execute("INSERT INTO search(rowid, text) VALUES (?, ?)", (rid, obj.text))
    raw.commit()
    raw.close()
    with Store.open(db) as st:
        assert kept(st) == recount(db) and st.usage()[0].quota == DEFAULT_QUOTA  # usage counted from the rows
        assert [row.id for row in st.feed(now=NOW).rows] == [late.id, root.id]  # as version 3 ordered them
        thread = st.thread(root.id, now=NOW)
        assert thread is not None and [r.id for r in thread.replies] == [r.id for r in replies]
        # From now on first sight counts: one dated ahead stands in the step it arrives in.
        ahead = post("dated ahead after the upgrade", 3, now=NOW + 600)
        fresh = post("arrived after it", 4)
        st.ingest(ahead, sid, NOW + 10)
        st.ingest(fresh, sid, NOW + 20)
        assert [row.id for row in st.feed(now=NOW + 20).rows] == [late.id, fresh.id, ahead.id, root.id]
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = raw.execute("SELECT count(*), sum(seen = created) FROM posts WHERE rid <= 6").fetchone()
        assert rows == (6, 6)  # the rows stored before: first seen when created
    finally:
        raw.close()


def _post_key(seed: bytes, i: int) -> SigningKey:
    key = protocol.own_key(seed, post("any", i, seed=seed))
    assert key is not None
    return key


# -- proof-of-work stamps ----------------------------------------------------------


def minted(signed: protocol.Signed, difficulty: int) -> protocol.Signed:
    stamp = protocol.mint_stamp(signed.id, difficulty)
    assert stamp is not None
    return signed.with_stamp(stamp)


def bits(signed: protocol.Signed) -> int:
    assert signed.stamp is not None
    return protocol.stamp_bits(signed.id, signed.stamp)


def test_the_strongest_stamp_of_an_object_is_kept(db: Path) -> None:
    with Store.open(db) as st:
        easy = st.add_swarm("easy", PSK, 0, NOW, 8).raw_id
        hard = st.add_swarm("hard", PSK2, 0, NOW, 12).raw_id
        p = post("stamped", 7)
        weak, strong = minted(p, 8), minted(p, 12)
        assert bits(p) < 8 and 8 <= bits(weak) < 12 <= bits(strong)
        assert st.ingest(p, easy, NOW).is_new
        assert st.object_ids(easy) == []  # unminted: a peer would have to refuse it
        again = st.ingest(weak, easy, NOW)
        assert (again.status, again.reason) == ("duplicate", "already stored; its stronger stamp kept")
        assert st.get(p.id.hex()) == weak and st.get(p.id.hex()).wire == weak.wire  # type: ignore[union-attr]
        assert st.object_ids(easy) == [(p.obj.created, p.id)]
        assert st.ingest(p, easy, NOW).reason == "already stored"  # a weaker copy changes nothing
        assert st.wires([p.id]) == [weak.wire]
        # Seen in a harder swarm too: enough for the easy one, not for the hard one.
        assert st.ingest(weak, hard, NOW).status == "duplicate"
        assert st.object_ids(hard) == []
        assert st.stamp_need(p.id) == StampNeed(weak.wire, bits(weak), 12)
        assert st.restamp(strong) and not st.restamp(strong) and not st.restamp(weak)
        assert st.object_ids(hard) == st.object_ids(easy) == [(p.obj.created, p.id)]
        assert st.wires([p.id]) == [strong.wire] and st.stamp_need(p.id) == StampNeed(strong.wire, bits(strong), 12)
        assert not st.restamp(minted(post("never stored", 8), 8))
        with pytest.raises(InvalidArgument):
            st.restamp(strong.wire)  # type: ignore[arg-type]
        # A version 1 object has no stamp: work 0, offered only where no stamp is asked.
        free = st.add_swarm("free", os.urandom(32), 0, NOW, 0).raw_id
        old = protocol.sign(post("version 1", 9).obj, _post_key(SEED_A, 9), version=1)
        for swarm in (easy, free):
            st.ingest(old, swarm, NOW)
        assert old.id not in {i for _, i in st.object_ids(easy)} and (old.obj.created, old.id) in st.object_ids(free)
        assert st.stamp_need(old.id) == StampNeed(old.wire, 0, 8)
        st.remove_swarm("easy")
        assert st.stamp_need(old.id) == StampNeed(old.wire, 0, 0)
        st.remove_swarm("free")
        assert st.stamp_need(old.id) is None  # in no joined swarm: nothing to mint for
    with Store.open(db) as st:  # the stamp and its work are on disk
        assert st.stamp_need(p.id) == StampNeed(strong.wire, bits(strong), 12)


def test_own_objects_wait_for_their_stamp(store: Store, sid: bytes) -> None:
    hard = store.add_swarm("hard", PSK2, 0, NOW, 10).raw_id
    mine, only_here = post("mine, for two swarms", 10), post("mine, needing no stamp", 11)
    assert store.ingest_own(mine, [sid, hard], NOW).is_new
    assert store.ingest_own(only_here, [sid], NOW).is_new
    # The stamp goes by the harder swarm; the easy one (difficulty 0) asks none.
    assert store.minting() == 1 and store.stamp_need(mine.id) == StampNeed(mine.wire, bits(mine), 10)
    assert store.held() == [(mine.wire, sorted([sid, hard])), (only_here.wire, [sid])]
    stamped = minted(mine, 10)
    assert store.restamp(stamped) and store.minting() == 0
    assert store.held()[0] == (stamped.wire, sorted([sid, hard]))  # a restart sends the minted bytes
    assert store.object_ids(hard) == []  # still held: not offered until it has spread
    store.release(mine.id)
    assert store.object_ids(hard) == [(mine.obj.created, mine.id)]
    gone = post("deleted before its stamp", 12)
    store.ingest_own(gone, [hard], NOW)
    assert store.minting() == 1
    store.ingest(protocol.make_delete(SEED_A, gone, now=NOW), sid, NOW)
    assert store.minting() == 0 and store.stamp_need(gone.id) is None
    with pytest.raises(InvalidArgument):
        store.stamp_need(b"short")


# -- batch ingest ------------------------------------------------------------------


def test_ingest_many_2000_posts(store: Store, sid: bytes) -> None:
    posts = [post(f"batch post {i}", i, now=NOW - (i % 50) * 600) for i in range(2000)]
    reply = protocol.make_reply(SEED_B, posts[7], "reply in the same batch", now=NOW)
    heart = protocol.make_heart(SEED_C, posts[7].id, now=NOW)
    items = [(p, sid) for p in posts] + [(reply, sid), (heart, sid), (posts[0], sid)]
    results = store.ingest_many(items, NOW)
    assert len(results) == len(items)
    assert [r.status for r in results[:2002]] == ["new"] * 2002
    assert not results[2000].pending  # its root came earlier in the batch
    assert results[-1].status == "duplicate"
    assert [r.id for r in results[:2000]] == [p.id.hex() for p in posts]
    counts = store.counts()
    assert (counts["posts"], counts["replies"], counts["hearts"], counts["objects"]) == (2000, 1, 1, 2002)
    item = next(i for i in store.feed(now=NOW, limit=500).rows if i.id == posts[7].id)
    assert (item.hearts, item.replies) == (1, 1)
    assert store.ingest_many([], NOW) == []


def test_ingest_many_is_one_transaction(store: Store, sid: bytes) -> None:
    good = post("valid", 1)
    with pytest.raises(InvalidArgument):
        store.ingest_many([(good, sid), ("not signed", sid)], NOW)  # type: ignore[list-item]
    with pytest.raises(UnknownSwarm):
        store.ingest_many([(good, sid), (good, bytes(32))], NOW)
    assert store.counts()["objects"] == 0  # checked before anything was written


def test_threads_share_one_store(store: Store, sid: bytes) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(40):
                store.ingest(post(f"thread {k} post {i}", k * 1000 + i), sid, NOW)
                store.feed(now=NOW, limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.counts()["posts"] == 160


# -- mine, swarms, peers, validation ---------------------------------------------


def test_mine_and_hearted(store: Store, sid: bytes) -> None:
    mine, theirs = post("I wrote this", 1), post("someone else", 2, seed=SEED_B)
    heart = protocol.make_heart(SEED_A, theirs.id, now=NOW)
    store.ingest(theirs, sid, NOW)
    store.ingest_own(mine, [sid], NOW)
    assert store.ingest_own(heart, [sid], NOW).status == "new"
    assert store.ingest_own(heart, [sid], NOW).status == "duplicate"  # idempotent
    items = {i.id: i for i in store.feed(now=NOW).rows}
    assert items[mine.id].mine and not items[theirs.id].mine
    assert items[theirs.id].hearted and not items[mine.id].hearted
    with pytest.raises(InvalidArgument):
        store.ingest_own(b"short", [sid], NOW)  # type: ignore[arg-type]


def test_swarms(store: Store, sid: bytes) -> None:
    s = store.swarm_by_name("friends")
    assert s is not None and s.raw_id == sid and s.id == sid.hex() and s.port == 4001 and s.joined == NOW
    assert s.to_dict() == {
        "id": sid.hex(),
        "name": "friends",
        "port": 4001,
        "joined": NOW,
        "difficulty": 0,
        "quota": DEFAULT_QUOTA,
        "flag_threshold": 3,
    }
    assert PSK.hex() not in repr(s) and "psk" not in s.to_dict()
    with pytest.raises(SwarmExists, match="already joined"):
        store.add_swarm("friends", PSK2, 4002, NOW)
    with pytest.raises(SwarmExists, match="'friends'"):
        store.add_swarm("other name", PSK, 4002, NOW)
    sid2 = store.add_swarm("work", PSK2, 0, NOW + 1).raw_id
    assert [x.name for x in store.swarms()] == ["friends", "work"]
    p = post("work post")
    store.ingest(p, sid2, NOW)
    store.save_peer(sid2, "12D3KooWpeer", ["/ip4/127.0.0.2/tcp/4002"], NOW)
    store.remove_swarm("work")
    assert store.swarm_by_name("work") is None
    assert store.counts()["peers"] == 0
    with pytest.raises(UnknownSwarm):
        store.ingest(p, sid2, NOW)
    with pytest.raises(UnknownSwarm):
        store.remove_swarm("work")
    assert store.get(p.id.hex()) == p  # objects stay; only the membership went
    for bad in (("", PSK2, 1, NOW), ("x", b"short", 1, NOW), ("x", PSK2, 70000, NOW), ("x", PSK2, 1, -1)):
        with pytest.raises(InvalidArgument):
            store.add_swarm(*bad)
    for difficulty in (-1, protocol.MAX_DIFFICULTY + 1, True, "18"):
        with pytest.raises(InvalidArgument, match="difficulty"):
            store.add_swarm("x", PSK2, 1, NOW, difficulty)  # type: ignore[arg-type]
    assert store.add_swarm("hard", PSK2, 0, NOW, protocol.MAX_DIFFICULTY).difficulty == protocol.MAX_DIFFICULTY
    assert store.add_swarm("default", os.urandom(32), 0, NOW).difficulty == protocol.DEFAULT_DIFFICULTY


def test_swarm_names_fit_in_an_invite(db: Path) -> None:
    longest = "n" * protocol.MAX_SWARM_NAME_CHARS
    with Store.open(db) as st:
        swarm = st.add_swarm(longest, PSK, 0, NOW)
        with pytest.raises(InvalidArgument, match=f"at most {protocol.MAX_SWARM_NAME_CHARS} characters"):
            st.add_swarm(longest + "n", PSK2, 0, NOW)
    invite = protocol.Invite(swarm.name, swarm.psk, ("/ip4/127.0.0.2/tcp/4001/p2p/12D3KooWpeer",))
    assert protocol.decode_invite(protocol.encode_invite(invite), now=0).name == longest
    # A longer name, stored before the limit, can still be found and left.
    legacy = "o" * 64
    raw = sqlite3.connect(db)
    raw.execute(
        "INSERT INTO swarms(id, name, psk, port, joined) VALUES (?, ?, ?, 0, ?)",
        (protocol.swarm_id(PSK2), legacy, PSK2, NOW),
    )
    raw.commit()
    raw.close()
    with Store.open(db) as st:
        found = st.swarm_by_name(legacy)
        assert found is not None and found.raw_id == protocol.swarm_id(PSK2)
        st.remove_swarm(legacy)
        assert [s.name for s in st.swarms()] == [longest]


def test_peers(store: Store, sid: bytes) -> None:
    store.save_peer(sid, "peerA", ["/ip4/127.0.0.2/tcp/1", "/ip4/127.0.0.2/udp/1/quic"], NOW)
    store.save_peer(sid, "peerB", ["/ip4/127.0.0.3/tcp/1"], NOW + 10)
    assert [p.peer_id for p in store.peers(sid)] == ["peerB", "peerA"]
    assert store.note_peer_failure(sid, "peerB") == 1
    assert store.note_peer_failure(sid, "peerB") == 2
    assert store.note_peer_failure(sid, "nobody") == 0
    peers = store.peers(sid)
    assert [p.peer_id for p in peers] == ["peerA", "peerB"]
    assert peers[0] == PeerRow("peerA", ("/ip4/127.0.0.2/tcp/1", "/ip4/127.0.0.2/udp/1/quic"), NOW, 0)
    store.save_peer(sid, "peerB", ["/ip4/127.0.0.9/tcp/2"], NOW + 20)  # reachable again: failures reset
    assert store.peers(sid)[0] == PeerRow("peerB", ("/ip4/127.0.0.9/tcp/2",), NOW + 20, 0)
    with pytest.raises(InvalidArgument):
        store.save_peer(sid, "peerC", "/ip4/1.2.3.4/tcp/1", NOW)  # a str is a Sequence[str] to mypy
    with pytest.raises(UnknownSwarm):
        store.peers(bytes(32))


def test_bad_arguments_and_closed_store(db: Path, sid: bytes) -> None:
    st = Store.open(db)
    st.add_swarm("friends", PSK, 4001, NOW)
    p = post("x")
    with pytest.raises(InvalidArgument):
        st.ingest(p.wire, sid, NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        st.ingest(p, sid, "now")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        st.ingest(p, b"short", NOW)
    with pytest.raises(InvalidArgument):
        st.feed(limit=0)
    with pytest.raises(InvalidArgument):
        st.feed(before=[NOW], now=NOW)
    with pytest.raises(InvalidArgument):
        st.feed(before=[NOW, "zz"], now=NOW)
    with pytest.raises(InvalidArgument):
        st.purge_expired(True)
    with pytest.raises(InvalidArgument):
        st.thread(b"x")
    with pytest.raises(InvalidArgument):
        st.wires(b"x" * 32)  # type: ignore[arg-type]
    st.close()
    st.close()
    with pytest.raises(StoreClosed):
        st.counts()
    with pytest.raises(StoreError):
        st.ingest(p, sid, NOW)
