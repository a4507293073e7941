"""Erasing an object with everything that hangs on it, and the purge of expired posts.

An erase removes the text rows, the FTS entries and the wire bytes, and
remembers the ids in ``erased`` so they are never taken again; the write
transaction then scrubs the FTS index and truncates the WAL
(docs/storage.md, "What goes with an erased object" and "Erasing from disk").
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from protocol import KIND_FLAG, KIND_HEART, KIND_MESSAGE, KIND_POST, KIND_REPLY, MESSAGE_LIFETIME

from ._args import int_arg
from ._db import Database

__all__ = ["Erasure", "drop_object"]


@dataclass
class _Lookup:
    """What the ingest and erase rules need to know of a stored object."""

    rid: int
    kind: int
    pubkey: bytes
    expires: int | None
    root: bytes | None


_LOOKUP_SQL = (
    "SELECT o.rid, o.kind, o.pubkey, p.expires, p.root FROM objects o LEFT JOIN posts p ON p.rid = o.rid WHERE o.id = ?"
)
# An evicted object, remembered in every swarm it was in (docs/storage.md, section 7).
_REMEMBER_EVICTED = """INSERT OR REPLACE INTO evicted(id, swarm, created, until)
    SELECT o.id, s.swarm, o.created, ? FROM objects o JOIN object_swarms s ON s.id = o.id WHERE o.id = ?"""
# The FTS index is kept in step by hand (see _ingest): this removes one entry.
_DELETE_FTS = "INSERT INTO search(search, rowid, text) SELECT 'delete', rid, text FROM posts WHERE rid = ?"


def drop_object(conn: sqlite3.Connection, oid: bytes) -> None:
    """Remove an object's wire bytes and where it was seen (no FK cascade: it slows every insert).

    Where it was seen goes first: the trigger that keeps ``usage`` reads the
    size of the wire it takes off.
    """
    conn.execute("DELETE FROM object_swarms WHERE id = ?", (oid,))
    conn.execute("DELETE FROM objects WHERE id = ?", (oid,))


class Erasure(Database):
    """Erase an object and what hangs on it: what a delete, an expired post and the purge all do."""

    def _lookup(self, conn: sqlite3.Connection, oid: bytes) -> _Lookup | None:
        row = conn.execute(_LOOKUP_SQL, (oid,)).fetchone()
        return None if row is None else _Lookup(*row)

    def _erase(
        self,
        conn: sqlite3.Connection,
        oid: bytes,
        pubkey: bytes,
        reason: str,
        *,
        until: int = 0,
        remember: bool = True,
    ) -> list[bytes]:
        """Erase an object and everything that hangs on it; remember the ids as erased, unless not ``remember``.

        A root post takes its replies with it (the thread is gone, as in
        Secret); a post or reply takes the hearts and flags on it.  Text rows
        and FTS entries are deleted, and the raw wire bytes too.  Returns the
        erased ids, ``oid`` first (even if it was never stored).  Without
        ``remember`` they may be stored again (what leaving a swarm drops).

        ``reason`` ``"evicted"``: the store makes room (``_quota``).  The ids
        are remembered in ``evicted`` until ``until`` instead of for ever in
        ``erased``, and the disk is not scrubbed: nobody asked for the text
        to go, and a scrub per batch would cost more than the eviction.
        """
        evicting = reason == "evicted"
        victims: list[tuple[bytes, bytes]] = [(oid, pubkey)]
        found = self._lookup(conn, oid)
        if found is None or found.kind == KIND_POST:
            victims += conn.execute("SELECT id, pubkey FROM posts WHERE root = ? AND kind = 2", (oid,)).fetchall()
        for vid, _ in list(victims):
            for table in ("hearts", "flags"):
                victims += conn.execute(f"SELECT id, pubkey FROM {table} WHERE target = ?", (vid,)).fetchall()
        gone = {vid for vid, _ in victims}
        for vid, vkey in victims:
            row = self._lookup(conn, vid) if vid != oid else found
            if row is not None:
                if evicting:
                    conn.execute(_REMEMBER_EVICTED, (until, vid))
                if row.kind in (KIND_POST, KIND_REPLY):
                    # External-content FTS5: the 'delete' command needs the old text.
                    conn.execute(_DELETE_FTS, (row.rid,))
                    conn.execute("DELETE FROM posts WHERE rid = ?", (row.rid,))
                    if row.kind == KIND_REPLY and row.root not in gone:
                        conn.execute("UPDATE posts SET replies = replies - 1 WHERE id = ?", (row.root,))
                    self._scrub_fts |= not evicting
                elif row.kind in (KIND_HEART, KIND_FLAG):
                    table = "hearts" if row.kind == KIND_HEART else "flags"
                    target = conn.execute(f"SELECT target FROM {table} WHERE id = ?", (vid,)).fetchone()
                    conn.execute(f"DELETE FROM {table} WHERE id = ?", (vid,))
                    if target is not None and target[0] not in gone:
                        conn.execute(f"UPDATE posts SET {table} = {table} - 1 WHERE id = ?", (target[0],))
                drop_object(conn, vid)
                self._checkpoint |= not evicting
            conn.execute("DELETE FROM own WHERE id = ?", (vid,))
            conn.execute("DELETE FROM held WHERE id = ?", (vid,))
            if remember and not evicting:
                conn.execute("INSERT OR IGNORE INTO erased(id, pubkey, reason) VALUES (?, ?, ?)", (vid, vkey, reason))
        return [vid for vid, _ in victims]

    def purge_expired(self, now: int) -> int:
        """Erase every root post whose ``expires <= now``, with its replies, hearts and flags, and old messages.

        A private message goes when its lifetime is over (``created`` +
        :data:`protocol.MESSAGE_LIFETIME`); what this node opened of it stays.

        Returns:
            How many objects were erased in all.
        """
        now = int_arg(now, "now")
        with self._use() as conn, self._write(conn):
            return self._purge_expired(conn, now)

    def _purge_expired(self, conn: sqlite3.Connection, now: int) -> int:
        rows = conn.execute(
            "SELECT id, pubkey FROM posts WHERE expires IS NOT NULL AND expires <= ? AND kind = 1", (now,)
        ).fetchall()
        erased = sum(len(self._erase(conn, oid, key, "expired")) for oid, key in rows)
        old = conn.execute(
            "SELECT id FROM objects WHERE kind = ? AND created <= ?", (KIND_MESSAGE, now - MESSAGE_LIFETIME)
        ).fetchall()
        for (oid,) in old:
            # Not remembered as erased: ingest refuses an expired message by its own time.
            conn.execute("DELETE FROM own WHERE id = ?", (oid,))
            conn.execute("DELETE FROM held WHERE id = ?", (oid,))
            drop_object(conn, oid)
        self._checkpoint |= bool(old)
        return erased + len(old)
