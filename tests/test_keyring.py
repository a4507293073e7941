"""The keyring beside the database: swarm memberships survive a damaged database (docs/storage.md, section 6)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from p2pnet.store import Store, StoreCorrupt

PSK_A, PSK_B = bytes(range(32)), bytes(range(1, 33))


def _keyring(db: Path) -> Path:
    return db.with_name(db.name + ".swarms.json")


def _scribble(db: Path) -> None:
    with db.open("r+b") as f:  # over the first b-tree pages, where the swarms table lives
        for page in range(1, 12):
            f.seek(4096 * page)
            f.write(b"\xa5" * 4096)


def test_the_keyring_follows_joins_and_leaves(tmp_path: Path) -> None:
    db = tmp_path / "node.sqlite3"
    with Store.open(db) as store:
        assert not _keyring(db).exists()  # nothing to keep yet
        store.add_swarm("friends", PSK_A, 0, 100, 12)
        store.add_swarm("work", PSK_B, 4001, 200)
        store.set_swarm_port(store.swarm_by_name("friends").raw_id, 4002)  # type: ignore[union-attr]
        doc = json.loads(_keyring(db).read_text())
        assert doc == {
            "version": 1,
            "swarms": [
                {"name": "friends", "psk": PSK_A.hex(), "difficulty": 12, "port": 4002, "joined": 100},
                {"name": "work", "psk": PSK_B.hex(), "difficulty": 18, "port": 4001, "joined": 200},
            ],
        }
        assert stat.S_IMODE(os.stat(_keyring(db)).st_mode) == 0o600
        store.remove_swarm("work")
        assert [s["name"] for s in json.loads(_keyring(db).read_text())["swarms"]] == ["friends"]
        assert PSK_B.hex() not in _keyring(db).read_text()


def test_an_older_database_gets_its_keyring_at_open(tmp_path: Path) -> None:
    db = tmp_path / "node.sqlite3"
    with Store.open(db) as store:
        store.add_swarm("friends", PSK_A, 0, 100)
    _keyring(db).unlink()
    Store.open(db).close()
    assert json.loads(_keyring(db).read_text())["swarms"][0]["psk"] == PSK_A.hex()


@pytest.mark.parametrize("keyring", ["kept", "lost"])
def test_recovery_keeps_the_memberships_of_a_damaged_database(tmp_path: Path, keyring: str) -> None:
    db = tmp_path / "node.sqlite3"
    with Store.open(db) as store:
        store.add_swarm("friends", PSK_A, 4001, 100, 12)
        store.add_swarm("work", PSK_B, 0, 200)
    if keyring == "lost":  # then only what the damaged file still yields
        _keyring(db).unlink()
        kept, problem = Store.memberships_to_keep(db)
        assert {m.name for m in kept} == {"friends", "work"} and problem is None
    _scribble(db)
    with pytest.raises(StoreCorrupt):
        Store.open(db)
    kept, problem = Store.memberships_to_keep(db)
    assert problem is None
    if keyring == "lost":
        return  # the rows were on the scribbled pages: nothing to keep, and no error either
    Store.quarantine(db)
    with Store.open(db) as fresh:
        assert fresh.restore_memberships(kept) == ["friends", "work"]
        friends = fresh.swarm_by_name("friends")
        assert friends is not None and friends.psk == PSK_A and friends.difficulty == 12 and friends.port == 4001
        assert fresh.restore_memberships(kept) == []  # already joined


def test_a_malformed_keyring_is_reported_not_fatal(tmp_path: Path) -> None:
    db = tmp_path / "node.sqlite3"
    with Store.open(db) as store:
        store.add_swarm("friends", PSK_A, 0, 100)
    _keyring(db).write_text('{"version": 1, "swarms": [{"name": "x", "psk": "zz"}]}')
    kept, problem = Store.memberships_to_keep(db)
    assert [m.name for m in kept] == ["friends"]  # the database still reads
    assert problem is not None and "malformed" in problem
    _keyring(db).write_text('{"version": 7, "swarms": []}')
    assert "version 7" in (Store.memberships_to_keep(db)[1] or "")
