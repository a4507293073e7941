"""The rules for storing each kind of object (docs/storage.md, section 3).

Posts, replies, hearts, flags and deletes each have their own checks; orphans
are kept until their root or target arrives, and a tombstone that came first
refuses its target.  Every object's stamp is measured, and the strongest
stamp seen of an object is the one kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import protocol
from protocol import KIND_DELETE, KIND_POST, KIND_REPLY, Delete, Flag, Heart, Message, Post, Reply

from ._args import int_arg
from ._erase import Erasure, drop_object
from ._errors import InvalidArgument

__all__ = ["STRONGER", "Ingest", "IngestResult", "work_of"]


_SEEN_SQL = """SELECT (SELECT work FROM objects WHERE id = ?1),
    coalesce((SELECT reason FROM erased WHERE id = ?1), (SELECT 'evicted' FROM evicted WHERE id = ?1 LIMIT 1)),
    EXISTS (SELECT 1 FROM tombstones WHERE target = ?1 AND applied = 0)"""
_REFUSED: Final = {
    "expired": "expired",
    "deleted": "deleted by its author",
    "evicted": "evicted here to keep the store's quota; refused while that is remembered",
}
_INSERT_OBJECT = "INSERT INTO objects(id, kind, pubkey, created, wire, work) VALUES (?, ?, ?, ?, ?, ?)"
STRONGER = "UPDATE objects SET wire = ?, work = ? WHERE id = ? AND work < ?"
_INSERT_SEEN = "INSERT OR IGNORE INTO object_swarms(swarm, id) VALUES (?, ?)"
_ADD_USAGE = """INSERT INTO usage(swarm, objects, bytes) VALUES (?, ?, ?)
    ON CONFLICT (swarm) DO UPDATE SET objects = objects + excluded.objects, bytes = bytes + excluded.bytes"""
_INSERT_POST = """INSERT INTO posts(rid, id, kind, pubkey, created, text, bg, name, expires, root, parent, seen,
        hearts, flags, replies)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
        (SELECT count(*) FROM hearts WHERE target = ?2),
        (SELECT count(*) FROM flags WHERE target = ?2),
        (SELECT count(*) FROM posts WHERE root = ?2 AND kind = 2))"""
# The FTS index is kept in step by hand, not by trigger: an FTS5 write inside
# a trigger flushes FTS5's pending terms at every statement, ten times slower.
_INSERT_FTS = "INSERT INTO search(rowid, text) VALUES (?, ?)"


@dataclass(frozen=True)
class _HangsOn:
    """What a reply's root or a reaction's target may be, and the refusals when it may not."""

    kinds: tuple[int, ...]
    erased: str  # the erased reason follows
    wrong_kind: str
    expired: str


_ROOT: Final = _HangsOn((KIND_POST,), "its thread was", "its root is not a post", "its thread has expired")
_TARGET: Final = _HangsOn(
    (KIND_POST, KIND_REPLY), "its target was", "its target is not a post or reply", "its target has expired"
)


@dataclass(frozen=True)
class IngestResult:
    """What :meth:`Store.ingest` did with one object.

    Attributes:
        id: the object id, lowercase hex.
        status: ``"new"`` (stored now: gossip it on), ``"duplicate"`` (already
            held, or an equivalent heart/flag by the same key), or
            ``"rejected"`` (not stored; ``reason`` says why).
        reason: why it was rejected or counted as a duplicate.
        pending: stored, but its root/target is not known yet (an orphan reply,
            heart or flag, or a delete waiting for its target).
        erased: ids erased as a consequence (the target of a delete and what
            went with it, or orphans of a refused post).
    """

    id: str
    status: Literal["new", "duplicate", "rejected"]
    reason: str | None = None
    pending: bool = False
    erased: tuple[str, ...] = ()

    @property
    def is_new(self) -> bool:
        """True when the object was stored by this call."""
        return self.status == "new"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "pending": self.pending,
            "erased": list(self.erased),
        }


def _hexes(ids: Iterable[bytes]) -> tuple[str, ...]:
    return tuple(i.hex() for i in ids)


def work_of(signed: protocol.Signed) -> int:
    """The leading zero bits of an object's stamp: what ``objects.work`` stores (0 without a stamp)."""
    return 0 if signed.stamp is None else protocol.stamp_bits(signed.id, signed.stamp)


class Ingest(Erasure):
    """Store verified objects by the rules of their kind."""

    # Whether tombstones wait for the object being ingested: looked up with
    # its duplicate check, read by _pending_delete.
    _has_tombstone = False
    # What the write transaction added to each swarm's usage: [objects, bytes],
    # written once per swarm by _count_added before it commits.
    _added: dict[bytes, list[int]]

    def ingest(self, signed: protocol.Signed, swarm: bytes, now: int) -> IngestResult:
        """Store one verified object seen in ``swarm``.

        Args:
            signed: an object from :func:`protocol.decode` (signature already
                verified) or one this node just made.
            swarm: the 32-byte id of the joined swarm it came from.
            now: the current Unix time.

        Returns:
            An :class:`IngestResult`.  Rejections are results, not exceptions.

        Raises:
            InvalidArgument: ``signed`` is not a Signed, or ``now`` not an int.
            UnknownSwarm: ``swarm`` is not joined.
        """
        return self.ingest_many([(signed, swarm)], now)[0]

    def ingest_many(
        self, items: Sequence[tuple[protocol.Signed, bytes]], now: int, *, durable: bool = True
    ) -> list[IngestResult]:
        """Store many objects in ONE transaction (one fsync); results in input order.

        Args:
            items: ``(signed, swarm_id)`` pairs.
            now: the current Unix time.
            durable: False for others' objects: committed without an fsync of
                its own (docs/storage.md, "synchronous").

        Returns:
            One :class:`IngestResult` per item.  An object listed twice is
            ``"new"`` the first time and ``"duplicate"`` after.

        Raises:
            InvalidArgument / UnknownSwarm: as for :meth:`ingest`; checked for
                every item before anything is written.
        """
        now = int_arg(now, "now")
        if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
            raise InvalidArgument("items must be a sequence of (Signed, swarm id) pairs")
        with self._use() as conn:
            checked: list[tuple[protocol.Signed, bytes]] = []
            for item in items:
                if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], protocol.Signed)):
                    raise InvalidArgument("each item must be a (protocol.Signed, swarm id) pair")
                checked.append((item[0], self._swarm_arg(item[1])))
            if not checked:
                return []
            self._added = {}
            with self._write(conn, durable=durable):
                results = [self._ingest_one(conn, signed, swarm, now) for signed, swarm in checked]
                self._count_added(conn)
            return results

    def _seen_in(self, conn: sqlite3.Connection, swarm: bytes, oid: bytes, size: int) -> None:
        """Record that an object of ``size`` wire bytes was seen in ``swarm``; counted once per swarm."""
        if conn.execute(_INSERT_SEEN, (swarm, oid)).rowcount:
            tally = self._added.setdefault(swarm, [0, 0])
            tally[0] += 1
            tally[1] += size

    def _count_added(self, conn: sqlite3.Connection) -> None:
        """Add what this transaction stored to each swarm's usage (a trigger takes off what goes)."""
        for swarm, (objects, size) in self._added.items():
            conn.execute(_ADD_USAGE, (swarm, objects, size))
        self._added = {}

    def _erased(self, conn: sqlite3.Connection, oid: bytes) -> tuple[str, bytes] | None:
        row = conn.execute("SELECT reason, pubkey FROM erased WHERE id = ?", (oid,)).fetchone()
        return None if row is None else (row[0], row[1])

    def _check_hangs_on(
        self, conn: sqlite3.Connection, oid: bytes, rule: _HangsOn, now: int
    ) -> tuple[bool, str | None]:
        """Check the object a reply (its root) or a heart or flag (its target) hangs on.

        Returns:
            ``(pending, refusal)``: pending when ``oid`` is not stored (yet);
            why the object is refused, or None.
        """
        found = self._lookup(conn, oid)
        if found is None:
            erased = self._erased(conn, oid)
            if erased is None and conn.execute("SELECT 1 FROM evicted WHERE id = ?", (oid,)).fetchone():
                return True, f"{rule.erased} evicted here (store quota)"
            return True, None if erased is None else f"{rule.erased} {erased[0]}"
        if found.kind not in rule.kinds:
            return False, rule.wrong_kind
        if found.expires is not None and found.expires <= now:
            return False, rule.expired
        return False, None

    def _ingest_one(self, conn: sqlite3.Connection, signed: protocol.Signed, swarm: bytes, now: int) -> IngestResult:
        obj = signed.obj
        oid = signed.id
        hid = oid.hex()
        if protocol.is_from_the_future(obj, now):
            return IngestResult(hid, "rejected", f"created {obj.created - now} s in the future")
        work, erased, self._has_tombstone = conn.execute(_SEEN_SQL, (oid,)).fetchone()
        if work is not None:
            self._seen_in(conn, swarm, oid, len(signed.wire))  # a stamp has a fixed size: as long as the stored wire
            if (new_work := work_of(signed)) > work:
                # The strongest stamp seen is kept, so every swarm it is in can be served it.
                conn.execute(STRONGER, (signed.wire, new_work, oid, new_work))
                return IngestResult(hid, "duplicate", "already stored; its stronger stamp kept")
            return IngestResult(hid, "duplicate", "already stored")
        if erased is not None:
            return IngestResult(hid, "rejected", _REFUSED[erased])
        if isinstance(obj, Post):
            return self._ingest_post(conn, signed, obj, swarm, now)
        if isinstance(obj, Reply):
            return self._ingest_reply(conn, signed, obj, swarm, now)
        if isinstance(obj, (Heart, Flag)):
            return self._ingest_reaction(conn, signed, obj, swarm, now)
        if isinstance(obj, Delete):
            return self._ingest_delete(conn, signed, obj, swarm)
        if isinstance(obj, Message):
            # Stored and served by every node, whoever it is for, until its lifetime ends.
            if protocol.is_expired(obj, now):
                return IngestResult(hid, "rejected", "expired")
            self._store_object(conn, signed, swarm)
            return IngestResult(hid, "new")
        raise InvalidArgument(f"cannot store an object of type {type(obj).__name__}")

    def _store_object(self, conn: sqlite3.Connection, signed: protocol.Signed, swarm: bytes) -> int:
        obj = signed.obj
        rid = conn.execute(
            _INSERT_OBJECT, (signed.id, signed.kind, obj.pubkey, obj.created, signed.wire, work_of(signed))
        ).lastrowid
        self._seen_in(conn, swarm, signed.id, len(signed.wire))
        assert rid is not None
        return rid

    def _pending_delete(self, conn: sqlite3.Connection, oid: bytes, pubkey: bytes, kind: int) -> list[bytes] | None:
        """Apply tombstones that arrived before their target; None if none is valid.

        Tombstones signed by another key turn out to be forgeries once the
        target is known, and are dropped.
        """
        if not self._has_tombstone:  # looked up with the duplicate check, saving a query per object
            return None
        rows = conn.execute("SELECT id, pubkey FROM tombstones WHERE target = ? AND applied = 0", (oid,)).fetchall()
        if not rows:
            return None
        valid = [tid for tid, key in rows if key == pubkey and kind != KIND_DELETE]
        for tid, key in rows:
            if key != pubkey or kind == KIND_DELETE:
                conn.execute("DELETE FROM tombstones WHERE id = ?", (tid,))
                drop_object(conn, tid)
        if not valid:
            return None
        conn.executemany("UPDATE tombstones SET applied = 1 WHERE id = ?", [(t,) for t in valid])
        return self._erase(conn, oid, pubkey, "deleted")

    def _store_text(
        self, conn: sqlite3.Connection, signed: protocol.Signed, obj: Post | Reply, swarm: bytes, now: int
    ) -> IngestResult | None:
        """Store a post or reply with its text row and search entry, unless its author deleted it first.

        ``now`` is when this node first saw it: kept coarsened to the step, it
        bounds the post's place in Latest and in its thread (docs/storage.md).

        Returns:
            None once stored; the rejection if a tombstone that arrived first
            refuses it (what hung on it is erased with it).
        """
        gone = self._pending_delete(conn, signed.id, obj.pubkey, signed.kind)
        if gone is not None:
            return IngestResult(signed.id.hex(), "rejected", "deleted by its author", erased=_hexes(gone[1:]))
        rid = self._store_object(conn, signed, swarm)
        shape: tuple[Any, ...]  # bg, name, expires for a post; root, parent for a reply
        if isinstance(obj, Post):
            shape = (obj.bg, obj.name, obj.expires, None, None)
        else:
            shape = (None, None, None, obj.root, obj.parent)
        seen = protocol.coarsen(now)
        conn.execute(_INSERT_POST, (rid, signed.id, signed.kind, obj.pubkey, obj.created, obj.text, *shape, seen))
        conn.execute(_INSERT_FTS, (rid, obj.text))
        return None

    def _ingest_post(
        self, conn: sqlite3.Connection, signed: protocol.Signed, obj: Post, swarm: bytes, now: int
    ) -> IngestResult:
        oid, hid = signed.id, signed.id.hex()
        if protocol.is_expired(obj, now):
            # Remembered as erased so replies and hearts arriving later are refused too.
            gone = self._erase(conn, oid, obj.pubkey, "expired")
            return IngestResult(hid, "rejected", "expired", erased=_hexes(gone[1:]))
        refused = self._store_text(conn, signed, obj, swarm, now)
        if refused is not None:
            return refused
        return IngestResult(hid, "new")

    def _ingest_reply(
        self, conn: sqlite3.Connection, signed: protocol.Signed, obj: Reply, swarm: bytes, now: int
    ) -> IngestResult:
        hid = signed.id.hex()
        pending, refusal = self._check_hangs_on(conn, obj.root, _ROOT, now)
        if refusal is not None:
            return IngestResult(hid, "rejected", refusal)
        if obj.parent != obj.root:
            parent = self._lookup(conn, obj.parent)
            if parent is not None and (parent.kind != KIND_REPLY or parent.root != obj.root):
                return IngestResult(hid, "rejected", "its parent is not in the same thread")
        refused = self._store_text(conn, signed, obj, swarm, now)
        if refused is not None:
            return refused
        if not pending:
            conn.execute("UPDATE posts SET replies = replies + 1 WHERE id = ?", (obj.root,))
        return IngestResult(hid, "new", pending=pending)

    def _ingest_reaction(
        self, conn: sqlite3.Connection, signed: protocol.Signed, obj: Heart | Flag, swarm: bytes, now: int
    ) -> IngestResult:
        oid, hid = signed.id, signed.id.hex()
        is_heart = isinstance(obj, Heart)
        table, word = ("hearts", "hearted") if is_heart else ("flags", "flagged")
        pending, refusal = self._check_hangs_on(conn, obj.target, _TARGET, now)
        if refusal is not None:
            return IngestResult(hid, "rejected", refusal)
        old = conn.execute(
            f"SELECT id, created FROM {table} WHERE target = ? AND pubkey = ?", (obj.target, obj.pubkey)
        ).fetchone()
        if old is not None and (old[1], old[0]) <= (obj.created, oid):
            return IngestResult(hid, "duplicate", f"this key already {word} the target")
        gone = self._pending_delete(conn, oid, obj.pubkey, signed.kind)
        if gone is not None:
            return IngestResult(hid, "rejected", "deleted by its author")
        if old is not None:
            # Every node keeps the earliest of one key's reactions (by created,
            # then id), so all nodes converge on the same object set whatever
            # order gossip delivers them in.
            conn.execute(f"DELETE FROM {table} WHERE id = ?", (old[0],))
            drop_object(conn, old[0])
        self._store_object(conn, signed, swarm)
        if is_heart:
            conn.execute(
                "INSERT INTO hearts(target, pubkey, id, created) VALUES (?, ?, ?, ?)",
                (obj.target, obj.pubkey, oid, obj.created),
            )
        else:
            assert isinstance(obj, Flag)
            conn.execute(
                "INSERT INTO flags(target, pubkey, id, created, reason) VALUES (?, ?, ?, ?, ?)",
                (obj.target, obj.pubkey, oid, obj.created, obj.reason),
            )
        if old is None and not pending:
            conn.execute(f"UPDATE posts SET {table} = {table} + 1 WHERE id = ?", (obj.target,))
        return IngestResult(hid, "new", pending=pending)

    def _ingest_delete(
        self, conn: sqlite3.Connection, signed: protocol.Signed, obj: Delete, swarm: bytes
    ) -> IngestResult:
        oid, hid = signed.id, signed.id.hex()
        target = self._lookup(conn, obj.target)
        insert = "INSERT INTO tombstones(id, target, pubkey, created, applied) VALUES (?, ?, ?, ?, ?)"
        if target is not None:
            if target.kind == KIND_DELETE:
                return IngestResult(hid, "rejected", "a delete cannot be deleted")
            if target.pubkey != obj.pubkey:
                return IngestResult(hid, "rejected", "delete not signed by the target's key")
            self._store_object(conn, signed, swarm)
            conn.execute(insert, (oid, obj.target, obj.pubkey, obj.created, 1))
            return IngestResult(hid, "new", erased=_hexes(self._erase(conn, obj.target, obj.pubkey, "deleted")))
        erased = self._erased(conn, obj.target)
        if erased is not None and erased[1] != obj.pubkey:
            return IngestResult(hid, "rejected", "delete not signed by the target's key")
        # Kept even when the target is unknown: it refuses the target if that
        # arrives later, and it is re-served so other nodes learn of it.
        self._store_object(conn, signed, swarm)
        conn.execute(insert, (oid, obj.target, obj.pubkey, obj.created, int(erased is not None)))
        return IngestResult(hid, "new", pending=erased is None)
