"""Peers' objects commit without an fsync of their own; the user's own never do, nor anything else."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import protocol
from p2pnet.store import Store

NOW = 1_763_700_000
PSK = bytes(range(100, 132))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store.open(tmp_path / "node.sqlite3")
    st.add_swarm("friends", PSK, 4001, NOW, difficulty=0)
    yield st
    st.close()


def _modes_at_commit(store: Store, act: object) -> list[int]:
    """The ``synchronous`` setting in force at each COMMIT while ``act()`` runs (1 NORMAL, 2 FULL)."""
    conn = store._conn
    assert conn is not None
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        act()  # type: ignore[operator]
    finally:
        conn.set_trace_callback(None)
    modes, mode = [], 2
    for statement in seen:
        if statement.startswith("PRAGMA synchronous"):
            mode = 1 if statement.rstrip().endswith("NORMAL") else 2
        elif statement == "COMMIT":
            modes.append(mode)
    return modes


def test_peers_objects_commit_without_their_own_fsync_and_the_setting_comes_back(store: Store) -> None:
    sid = protocol.swarm_id(PSK)
    theirs = [protocol.make_post(os.urandom(32), f"a peer's post {i}", now=NOW) for i in range(3)]
    assert _modes_at_commit(store, lambda: store.ingest_many([(s, sid) for s in theirs], NOW, durable=False)) == [1]
    assert all(store.get(s.id.hex()) is not None for s in theirs)
    conn = store._conn
    assert conn is not None and conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again


def test_the_users_own_objects_and_every_other_write_commit_with_fsync(store: Store) -> None:
    sid = protocol.swarm_id(PSK)
    mine = protocol.make_post(os.urandom(32), "mine", now=NOW)
    assert _modes_at_commit(store, lambda: store.ingest_own(mine, [sid], NOW)) == [2]
    other = protocol.make_post(os.urandom(32), "ingested the default way", now=NOW)
    assert _modes_at_commit(store, lambda: store.ingest_many([(other, sid)], NOW)) == [2]


def test_a_failed_batch_leaves_the_setting_as_it_was(store: Store) -> None:
    sid = protocol.swarm_id(PSK)
    good = protocol.make_post(os.urandom(32), "fine", now=NOW)
    conn = store._conn
    assert conn is not None
    conn.execute("CREATE TEMP TRIGGER boom BEFORE INSERT ON objects BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    with pytest.raises(Exception, match="disk trouble"):
        store.ingest_many([(good, sid)], NOW, durable=False)
    conn.execute("DROP TRIGGER boom")
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2 and not conn.in_transaction
