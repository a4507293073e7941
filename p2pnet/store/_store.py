"""The node's SQLite store: every verified object, the swarms, the peers.

One file per node home, on the stdlib :mod:`sqlite3`, synchronous.  The node
calls it from a trio worker thread or directly; a :class:`Store` may be used
from any thread, one at a time (a lock serialises calls).

What it guarantees (docs/storage.md has the schema and the reasons):

* an object the store accepted is on disk when :meth:`Store.ingest` returns
  (WAL with ``synchronous=FULL``);
* a delete signed by the target's own key erases the target's text from the
  database file and the WAL (``secure_delete``, an FTS5 rebuild of the index
  segments, ``wal_checkpoint(TRUNCATE)``), and the object is never stored or
  served again;
* every read returns plain JSON-ready values: ids are lowercase hex, times ints;
* nothing raises :class:`sqlite3.Error`: every failure is a :class:`StoreError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import protocol
from protocol import KIND_DELETE, KIND_FLAG, KIND_HEART, KIND_POST, KIND_REPLY, Delete, Flag, Heart, Post, Reply

__all__ = [
    "FUTURE_SLACK",
    "SCHEMA_VERSION",
    "AmbiguousId",
    "IngestResult",
    "InvalidArgument",
    "SchemaTooNew",
    "Store",
    "StoreClosed",
    "StoreCorrupt",
    "StoreError",
    "Swarm",
    "SwarmExists",
    "UnknownId",
    "UnknownSwarm",
    "icon",
    "popular_score",
]


# -- errors --------------------------------------------------------------------


class StoreError(Exception):
    """Base class of every error the store raises."""


class StoreCorrupt(StoreError):
    """The file is not a readable SQLite database, or fails its integrity check."""


class SchemaTooNew(StoreError):
    """The database was written by a newer p2pnet with a newer schema."""


class StoreClosed(StoreError):
    """The store was used after :meth:`Store.close`."""


class InvalidArgument(StoreError, ValueError):
    """A caller passed a value of the wrong type or shape."""


class AmbiguousId(StoreError):
    """An id prefix matches more than one object."""


class UnknownId(StoreError, LookupError):
    """No stored object has this id or id prefix."""


class UnknownSwarm(StoreError, LookupError):
    """No joined swarm has this name or id."""


class SwarmExists(StoreError):
    """A swarm with this name or key is already joined."""


# -- constants -----------------------------------------------------------------

SCHEMA_VERSION: Final = 2
APPLICATION_ID: Final = 0x7032706E  # "p2pn": tells our files from other SQLite files
FUTURE_SLACK: Final = 600  # one time quantum of clock skew is tolerated
MIN_PREFIX: Final = 6
MAX_PEERS_PER_SWARM: Final = 1000
ICON_GLYPHS: Final = 16
ICON_COLOURS: Final = 12
_ICON_INFO: Final = b"p2pnet/v1/icon"
_SQLITE_HEADER: Final = b"SQLite format 3\x00"
_KIND_NAME: Final = {
    KIND_POST: "post",
    KIND_REPLY: "reply",
    KIND_HEART: "heart",
    KIND_FLAG: "flag",
    KIND_DELETE: "delete",
}
_HEX = re.compile(r"[0-9a-fA-F]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CHUNK = 500  # ids per IN (...) query, far below SQLite's variable limit

# Each entry migrates the schema from version i to i + 1, inside one transaction.
# Never edit a released entry: append a new one.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE swarms (
            id      BLOB PRIMARY KEY CHECK (length(id) = 32),
            name    TEXT NOT NULL UNIQUE,
            psk     BLOB NOT NULL CHECK (length(psk) = 32),
            port    INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
            joined  INTEGER NOT NULL
        )""",
        """CREATE TABLE objects (
            rid     INTEGER PRIMARY KEY,
            id      BLOB NOT NULL UNIQUE,
            kind    INTEGER NOT NULL,
            pubkey  BLOB NOT NULL,
            created INTEGER NOT NULL,
            wire    BLOB NOT NULL
        )""",
        """CREATE TABLE object_swarms (
            swarm   BLOB NOT NULL REFERENCES swarms(id) ON DELETE CASCADE,
            id      BLOB NOT NULL,
            PRIMARY KEY (swarm, id)
        ) WITHOUT ROWID""",
        "CREATE INDEX object_swarms_id ON object_swarms(id)",
        """CREATE TABLE posts (
            rid     INTEGER PRIMARY KEY,
            id      BLOB NOT NULL UNIQUE,
            kind    INTEGER NOT NULL CHECK (kind IN (1, 2)),
            pubkey  BLOB NOT NULL,
            created INTEGER NOT NULL,
            text    TEXT NOT NULL,
            bg      TEXT,
            name    TEXT,
            expires INTEGER,
            root    BLOB,
            parent  BLOB,
            hearts  INTEGER NOT NULL DEFAULT 0,
            flags   INTEGER NOT NULL DEFAULT 0,
            replies INTEGER NOT NULL DEFAULT 0
        )""",
        # Latest walks this index; Popular scans it without touching the wide rows.
        # rid is local arrival order: it orders posts inside one 10-minute time step.
        "CREATE INDEX posts_latest ON posts(created DESC, rid DESC, hearts, expires) WHERE kind = 1",
        "CREATE INDEX posts_hearts ON posts(hearts) WHERE kind = 1",  # max(hearts) bounds the Popular scan
        "CREATE INDEX posts_thread ON posts(root, created, id) WHERE kind = 2",
        "CREATE INDEX posts_expires ON posts(expires) WHERE expires IS NOT NULL",
        """CREATE VIRTUAL TABLE search USING fts5(
            text, content='posts', content_rowid='rid', tokenize='unicode61 remove_diacritics 2'
        )""",
        """CREATE TABLE hearts (
            target  BLOB NOT NULL,
            pubkey  BLOB NOT NULL,
            id      BLOB NOT NULL UNIQUE,
            created INTEGER NOT NULL,
            PRIMARY KEY (target, pubkey)
        ) WITHOUT ROWID""",
        """CREATE TABLE flags (
            target  BLOB NOT NULL,
            pubkey  BLOB NOT NULL,
            id      BLOB NOT NULL UNIQUE,
            created INTEGER NOT NULL,
            reason  TEXT NOT NULL,
            PRIMARY KEY (target, pubkey)
        ) WITHOUT ROWID""",
        """CREATE TABLE tombstones (
            id      BLOB PRIMARY KEY,
            target  BLOB NOT NULL,
            pubkey  BLOB NOT NULL,
            created INTEGER NOT NULL,
            applied INTEGER NOT NULL CHECK (applied IN (0, 1))
        ) WITHOUT ROWID""",
        "CREATE INDEX tombstones_target ON tombstones(target)",
        """CREATE TABLE erased (
            id      BLOB PRIMARY KEY,
            pubkey  BLOB NOT NULL,
            reason  TEXT NOT NULL CHECK (reason IN ('deleted', 'expired'))
        ) WITHOUT ROWID""",
        """CREATE TABLE peers (
            swarm     BLOB NOT NULL REFERENCES swarms(id) ON DELETE CASCADE,
            peer_id   TEXT NOT NULL,
            addrs     TEXT NOT NULL,
            last_seen INTEGER NOT NULL,
            failures  INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (swarm, peer_id)
        ) WITHOUT ROWID""",
        "CREATE TABLE own (id BLOB PRIMARY KEY) WITHOUT ROWID",
    ),
    (
        # Own objects not yet seen coming back through gossip (still on the
        # stem): never listed or handed to peers, re-sent after a restart.
        "CREATE TABLE held (id BLOB PRIMARY KEY) WITHOUT ROWID",
    ),
)
assert len(MIGRATIONS) == SCHEMA_VERSION


# -- pure helpers ----------------------------------------------------------------


def icon(pubkey: bytes) -> dict[str, int]:
    """The per-thread icon of a participant: ``{"glyph": 0..15, "colour": 0..11}``.

    Derived from the thread key alone, so it is stable for one person within a
    thread and unrelated across threads (the keys are).
    """
    digest = hashlib.sha256(_ICON_INFO + pubkey).digest()
    return {"glyph": digest[0] % ICON_GLYPHS, "colour": digest[1] % ICON_COLOURS}


def popular_score(hearts: int, created: int, now: int) -> float:
    """Popular ranking: ``(hearts + 1) / (age_hours + 2) ** 1.5``, age never negative."""
    age_hours = max(0, now - created) / 3600
    return float((hearts + 1) / (age_hours + 2) ** 1.5)


def _fts_query(text: str) -> str:
    """User text as an FTS5 query of quoted string tokens, implicitly ANDed.

    Inside double quotes FTS5 treats everything (``*``, ``AND``, ``NEAR(``,
    ``(``) as text to tokenize, so user input cannot form syntax; embedded
    quotes are doubled.  Pieces without a letter or digit would tokenize to
    nothing and are dropped.  Control characters (NUL would end the query
    string inside SQLite) cannot occur in stored text, so they become spaces.
    """
    terms = [t for t in _CONTROL.sub(" ", text).split() if any(ch.isalnum() for ch in t)]
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _now(value: int | None) -> int:
    if value is None:
        return int(time.time())
    return _int(value, "now")


def _int(value: Any, what: str, low: int = 0, high: int = 1 << 62) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidArgument(f"{what} must be an integer between {low} and {high}, not {value!r}")
    return value


def _id32(value: Any, what: str = "id") -> bytes:
    """A 32-byte id given as bytes or as 64 hex characters."""
    if isinstance(value, str) and len(value) == 64 and _HEX.fullmatch(value):
        return bytes.fromhex(value)
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == 32:
        return bytes(value)
    raise InvalidArgument(f"{what} must be 32 bytes or 64 hex characters")


def _text(value: Any, what: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise InvalidArgument(f"{what} must be a non-empty string of at most {max_len} characters")
    return value


# -- results -------------------------------------------------------------------


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


@dataclass(frozen=True)
class Swarm:
    """A joined swarm.  ``psk`` is secret: it is not in :meth:`to_dict` or ``repr``."""

    id: str
    name: str
    port: int
    joined: int
    psk: bytes = field(repr=False)

    @property
    def raw_id(self) -> bytes:
        """The 32-byte swarm id, as :meth:`Store.ingest` takes it."""
        return bytes.fromhex(self.id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form without the key."""
        return {"id": self.id, "name": self.name, "port": self.port, "joined": self.joined}


@dataclass
class _Lookup:
    rid: int
    kind: int
    pubkey: bytes
    expires: int | None
    root: bytes | None


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

_LOOKUP_SQL = (
    "SELECT o.rid, o.kind, o.pubkey, p.expires, p.root FROM objects o LEFT JOIN posts p ON p.rid = o.rid WHERE o.id = ?"
)
_SEEN_SQL = """SELECT (SELECT rid FROM objects WHERE id = ?1), (SELECT reason FROM erased WHERE id = ?1),
    EXISTS (SELECT 1 FROM tombstones WHERE target = ?1 AND applied = 0)"""
_INSERT_OBJECT = "INSERT INTO objects(id, kind, pubkey, created, wire) VALUES (?, ?, ?, ?, ?)"
_INSERT_SEEN = "INSERT OR IGNORE INTO object_swarms(swarm, id) VALUES (?, ?)"
_INSERT_POST = """INSERT INTO posts(rid, id, kind, pubkey, created, text, bg, name, expires, root, parent,
        hearts, flags, replies)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
        (SELECT count(*) FROM hearts WHERE target = ?2),
        (SELECT count(*) FROM flags WHERE target = ?2),
        (SELECT count(*) FROM posts WHERE root = ?2 AND kind = 2))"""
# The FTS index is kept in step by hand, not by trigger: an FTS5 write inside
# a trigger flushes FTS5's pending terms at every statement, ten times slower.
_INSERT_FTS = "INSERT INTO search(rowid, text) VALUES (?, ?)"
_DELETE_FTS = "INSERT INTO search(search, rowid, text) SELECT 'delete', rid, text FROM posts WHERE rid = ?"
# Popular orders by popular_score() = (h + 1) / (age_h + 2) ** 1.5.  Squaring a
# positive score keeps its order, and (h + 1)^2 / (age_h + 2)^3 needs no pow()
# (an optional SQLite build feature) and no Python callback per row.
_POPULAR_KEY = """((p.hearts + 1.0) * (p.hearts + 1.0)
    / ((max(0, :now - p.created) / 3600.0 + 2.0) * (max(0, :now - p.created) / 3600.0 + 2.0)
       * (max(0, :now - p.created) / 3600.0 + 2.0)))"""
_FEED_COLUMNS = """p.id, p.text, p.bg, p.name, p.created, p.expires, p.hearts, p.replies, p.flags,
    EXISTS (SELECT 1 FROM own o WHERE o.id = p.id),
    EXISTS (SELECT 1 FROM hearts h JOIN own o ON o.id = h.id WHERE h.target = p.id)"""


def _feed_item(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0].hex(),
        "text": row[1],
        "bg": row[2],
        "name": row[3],
        "created": row[4],
        "expires": row[5],
        "hearts": row[6],
        "replies": row[7],
        "flags": row[8],
        "mine": bool(row[9]),
        "hearted": bool(row[10]),
    }


def _corrupt_message(path: Path, detail: str) -> str:
    return (
        f"{path} is not a usable p2pnet database ({detail}). To start afresh, move it "
        f"aside with `Store.quarantine(path)` (it is renamed to {path.name}.corrupt-<time>, never deleted); "
        f"posts come back from peers by sync, but swarms must be re-joined with their invite keys."
    )


# -- the store -----------------------------------------------------------------


class Store:
    """The node's database.  Open with :meth:`Store.open`; close with :meth:`close`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        """Use :meth:`Store.open`; this only wraps an already prepared connection."""
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()
        self._swarm_ids: set[bytes] = set()
        # Set inside a write transaction when text (scrub FTS) or any object
        # (truncate the WAL) was erased; acted on at commit.
        self._scrub_fts = False
        self._checkpoint = False
        self._has_tombstone = False

    # -- opening and closing -------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Create or open the database at ``path`` and bring its schema up to date.

        Args:
            path: the database file; its directory must exist.  A new file is
                created with mode 0600 (it holds swarm keys).

        Returns:
            An open :class:`Store`.

        Raises:
            StoreCorrupt: the file is not SQLite or fails ``PRAGMA quick_check``;
                the message names the file and the recovery path
                (:meth:`quarantine`).
            SchemaTooNew: the file was written by a newer schema version.
            StoreError: the file is another application's database, or cannot
                be opened.
        """
        if not isinstance(path, (str, Path)):
            raise InvalidArgument("path must be a str or pathlib.Path")
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a database file")
        if not path.parent.is_dir():
            raise StoreError(f"cannot open {path}: the directory {path.parent} does not exist")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                head = os.read(fd, len(_SQLITE_HEADER))
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"cannot open {path}: {exc.strerror or exc}") from None
        if head and head != _SQLITE_HEADER:
            raise StoreCorrupt(_corrupt_message(path, "it is not an SQLite database"))
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, cached_statements=128)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        try:
            swarm_ids = cls._prepare(path, conn)
        except BaseException:
            conn.close()
            raise
        store = cls(path, conn)
        store._swarm_ids = swarm_ids  # cached: every ingest checks its swarm
        return store

    @staticmethod
    def _prepare(path: Path, conn: sqlite3.Connection) -> set[bytes]:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{path}: SQLite refused WAL mode (journal mode is {mode!r})")
            # FULL: the WAL is fsynced at every commit, so an acknowledged post
            # survives power loss too, not only a crash of this process.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA temp_store = MEMORY")  # no temp files holding text
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA cache_size = -32768")  # 32 MiB: a burst of thousands of posts stays in memory
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise StoreCorrupt(_corrupt_message(path, "integrity check failed: " + "; ".join(problems)))
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if app_id != APPLICATION_ID and (app_id != 0 or version != 0 or tables):
                raise StoreError(f"{path} is an SQLite database of another application, not of p2pnet")
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{path} has schema version {version}, newer than version {SCHEMA_VERSION} that this "
                    f"p2pnet understands; upgrade p2pnet to open it"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in MIGRATIONS[target - 1]:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {target}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            return {row[0] for row in conn.execute("SELECT id FROM swarms")}
        except sqlite3.DatabaseError as exc:
            raise _translate(path, exc) from None

    @staticmethod
    def integrity_check(path: Path | str) -> list[str]:
        """Run the full ``PRAGMA integrity_check`` (indexes too) on a closed database.

        Returns:
            The problems found; empty if the file is sound.
        """
        try:
            with contextlib.closing(sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)) as conn:
                rows = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if rows == ["ok"] else rows

    @classmethod
    def quarantine(cls, path: Path | str) -> Path:
        """Move a (corrupt) database and its -wal/-shm files aside; never deletes.

        The file is renamed to ``<name>.corrupt-<UTC time>`` in the same
        directory (with ``-wal`` / ``-shm`` suffixes for those files), so a
        fresh :meth:`open` starts empty and the old bytes stay for recovery.
        The store must not be open.

        Returns:
            The new path of the main file.

        Raises:
            StoreError: there is no such file, or it cannot be renamed.
        """
        if not isinstance(path, (str, Path)):
            raise InvalidArgument("path must be a str or pathlib.Path")
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"cannot quarantine {path}: no such file")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        try:
            for suffix in ("-wal", "-shm"):
                side = path.with_name(path.name + suffix)
                if side.exists():
                    side.rename(target.with_name(target.name + suffix))
            path.rename(target)
        except OSError as exc:
            raise StoreError(f"cannot quarantine {path}: {exc.strerror or exc}") from None
        return target

    def close(self) -> None:
        """Checkpoint and close.  Further calls raise :class:`StoreClosed`; closing twice is fine."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass  # an optimisation hint only; closing must not fail because of it
            finally:
                conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------

    @contextlib.contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and turn every sqlite3 error into a StoreError."""
        with self._lock:
            if self._conn is None:
                raise StoreClosed(f"the store {self.path} is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise _translate(self.path, exc) from None

    @contextlib.contextmanager
    def _write(self, conn: sqlite3.Connection) -> Iterator[None]:
        """One write transaction; scrubs FTS and truncates the WAL if anything was erased."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            if self._scrub_fts:
                # Deleting from FTS5 only adds a delete marker; the terms stay
                # in old index segments until they are merged.  'optimize'
                # rewrites the index into one segment, and secure_delete zeroes
                # the freed pages.
                conn.execute("INSERT INTO search(search) VALUES ('optimize')")
            conn.execute("COMMIT")
        except BaseException:
            self._scrub_fts = self._checkpoint = False
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._scrub_fts = False
        if self._checkpoint:
            self._checkpoint = False
            # Old page images with the erased text would otherwise linger in
            # the -wal file until it is overwritten.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _swarm_arg(self, swarm: Any) -> bytes:
        raw = _id32(swarm, "swarm")
        if raw not in self._swarm_ids:
            raise UnknownSwarm(f"swarm {raw.hex()} is not joined")
        return raw

    # -- ingest ----------------------------------------------------------------

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

    def ingest_many(self, items: Sequence[tuple[protocol.Signed, bytes]], now: int) -> list[IngestResult]:
        """Store many objects in ONE transaction (one fsync); results in input order.

        Args:
            items: ``(signed, swarm_id)`` pairs.
            now: the current Unix time.

        Returns:
            One :class:`IngestResult` per item.  An object listed twice is
            ``"new"`` the first time and ``"duplicate"`` after.

        Raises:
            InvalidArgument / UnknownSwarm: as for :meth:`ingest`; checked for
                every item before anything is written.
        """
        now = _int(now, "now")
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
            with self._write(conn):
                return [self._ingest_one(conn, signed, swarm, now) for signed, swarm in checked]

    def _lookup(self, conn: sqlite3.Connection, oid: bytes) -> _Lookup | None:
        row = conn.execute(_LOOKUP_SQL, (oid,)).fetchone()
        return None if row is None else _Lookup(*row)

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
        if obj.created > now + FUTURE_SLACK:
            return IngestResult(hid, "rejected", f"created {obj.created - now} s in the future")
        rid, erased, self._has_tombstone = conn.execute(_SEEN_SQL, (oid,)).fetchone()
        if rid is not None:
            conn.execute(_INSERT_SEEN, (swarm, oid))
            return IngestResult(hid, "duplicate", "already stored")
        if erased is not None:
            return IngestResult(hid, "rejected", "expired" if erased == "expired" else "deleted by its author")
        if isinstance(obj, Post):
            return self._ingest_post(conn, signed, obj, swarm, now)
        if isinstance(obj, Reply):
            return self._ingest_reply(conn, signed, obj, swarm, now)
        if isinstance(obj, (Heart, Flag)):
            return self._ingest_reaction(conn, signed, obj, swarm, now)
        if isinstance(obj, Delete):
            return self._ingest_delete(conn, signed, obj, swarm)
        raise InvalidArgument(f"cannot store an object of type {type(obj).__name__}")

    def _store_object(self, conn: sqlite3.Connection, signed: protocol.Signed, swarm: bytes) -> int:
        obj = signed.obj
        rid = conn.execute(_INSERT_OBJECT, (signed.id, signed.kind, obj.pubkey, obj.created, signed.wire)).lastrowid
        conn.execute(_INSERT_SEEN, (swarm, signed.id))
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
                _drop_object(conn, tid)
        if not valid:
            return None
        conn.executemany("UPDATE tombstones SET applied = 1 WHERE id = ?", [(t,) for t in valid])
        return self._erase(conn, oid, pubkey, "deleted")

    def _store_text(
        self, conn: sqlite3.Connection, signed: protocol.Signed, obj: Post | Reply, swarm: bytes
    ) -> IngestResult | None:
        """Store a post or reply with its text row and search entry, unless its author deleted it first.

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
        conn.execute(_INSERT_POST, (rid, signed.id, signed.kind, obj.pubkey, obj.created, obj.text, *shape))
        conn.execute(_INSERT_FTS, (rid, obj.text))
        return None

    def _ingest_post(
        self, conn: sqlite3.Connection, signed: protocol.Signed, obj: Post, swarm: bytes, now: int
    ) -> IngestResult:
        oid, hid = signed.id, signed.id.hex()
        if obj.expires is not None and obj.expires <= now:
            # Remembered as erased so replies and hearts arriving later are refused too.
            gone = self._erase(conn, oid, obj.pubkey, "expired")
            return IngestResult(hid, "rejected", "expired", erased=_hexes(gone[1:]))
        refused = self._store_text(conn, signed, obj, swarm)
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
        refused = self._store_text(conn, signed, obj, swarm)
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
            _drop_object(conn, old[0])
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

    def _erase(self, conn: sqlite3.Connection, oid: bytes, pubkey: bytes, reason: str) -> list[bytes]:
        """Erase an object and everything that hangs on it; remember the ids as erased.

        A root post takes its replies with it (the thread is gone, as in
        Secret); a post or reply takes the hearts and flags on it.  Text rows
        and FTS entries are deleted, and the raw wire bytes too.  Returns the
        erased ids, ``oid`` first (even if it was never stored).
        """
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
                if row.kind in (KIND_POST, KIND_REPLY):
                    # External-content FTS5: the 'delete' command needs the old text.
                    conn.execute(_DELETE_FTS, (row.rid,))
                    conn.execute("DELETE FROM posts WHERE rid = ?", (row.rid,))
                    if row.kind == KIND_REPLY and row.root not in gone:
                        conn.execute("UPDATE posts SET replies = replies - 1 WHERE id = ?", (row.root,))
                    self._scrub_fts = True
                elif row.kind in (KIND_HEART, KIND_FLAG):
                    table = "hearts" if row.kind == KIND_HEART else "flags"
                    target = conn.execute(f"SELECT target FROM {table} WHERE id = ?", (vid,)).fetchone()
                    conn.execute(f"DELETE FROM {table} WHERE id = ?", (vid,))
                    if target is not None and target[0] not in gone:
                        conn.execute(f"UPDATE posts SET {table} = {table} - 1 WHERE id = ?", (target[0],))
                _drop_object(conn, vid)
                self._checkpoint = True
            conn.execute("DELETE FROM own WHERE id = ?", (vid,))
            conn.execute("DELETE FROM held WHERE id = ?", (vid,))
            conn.execute("INSERT OR IGNORE INTO erased(id, pubkey, reason) VALUES (?, ?, ?)", (vid, vkey, reason))
        return [vid for vid, _ in victims]

    def purge_expired(self, now: int) -> int:
        """Erase every root post whose ``expires <= now``, with its replies, hearts and flags.

        Returns:
            How many objects were erased in all.
        """
        now = _int(now, "now")
        with self._use() as conn, self._write(conn):
            rows = conn.execute(
                "SELECT id, pubkey FROM posts WHERE expires IS NOT NULL AND expires <= ? AND kind = 1", (now,)
            ).fetchall()
            return sum(len(self._erase(conn, oid, key, "expired")) for oid, key in rows)

    def ingest_own(self, signed: protocol.Signed, swarms: Sequence[bytes], now: int) -> IngestResult:
        """Store an object this node just made, in every swarm of ``swarms``, in ONE transaction.

        It is marked as ours and *held*: :meth:`object_ids` and :meth:`wires`
        leave it out until :meth:`release`, so no peer can learn it from us
        before it has spread.  After a crash :meth:`held` lists what to re-send.

        Returns:
            The result for the first swarm.

        Raises:
            InvalidArgument / UnknownSwarm: as for :meth:`ingest`.
        """
        now = _int(now, "now")
        if not isinstance(signed, protocol.Signed):
            raise InvalidArgument("signed must be a protocol.Signed")
        if not swarms:
            raise InvalidArgument("at least one swarm is needed")
        with self._use() as conn:
            raws = [self._swarm_arg(s) for s in swarms]
            with self._write(conn):
                results = [self._ingest_one(conn, signed, raw, now) for raw in raws]
                if results[0].status != "rejected":
                    conn.execute("INSERT OR IGNORE INTO own(id) VALUES (?)", (signed.id,))
                    conn.execute("INSERT OR IGNORE INTO held(id) VALUES (?)", (signed.id,))
        return results[0]

    def release(self, object_id: bytes) -> bool:
        """Stop holding ``object_id``; True if it was held."""
        oid = _id32(object_id, "object_id")
        with self._use() as conn, self._write(conn):
            return conn.execute("DELETE FROM held WHERE id = ?", (oid,)).rowcount > 0

    def held(self) -> list[tuple[bytes, list[bytes]]]:
        """Held own objects still stored: ``(wire, sorted swarm ids)``, oldest first."""
        with self._use() as conn:
            rows = conn.execute(
                """SELECT o.wire, group_concat(hex(s.swarm)) FROM held h
                JOIN objects o ON o.id = h.id JOIN object_swarms s ON s.id = h.id
                GROUP BY o.rid ORDER BY o.rid"""
            ).fetchall()
        return [(bytes(w), sorted(bytes.fromhex(x) for x in sw.split(","))) for w, sw in rows]

    # -- reads -----------------------------------------------------------------

    def feed(
        self,
        *,
        swarm: bytes | None = None,
        popular: bool = False,
        limit: int = 50,
        before: Sequence[Any] | None = None,
        now: int | None = None,
    ) -> dict[str, Any]:
        """One page of root posts, not deleted and not expired.

        Latest is newest ``created`` first; inside one 10-minute time step
        (all the wire says) the post that arrived here last comes first.  It
        is paged by keyset: the cursor is ``[created, arrival]`` of the last
        item, ``arrival`` being a local counter that never leaves the node.  Popular
        orders by :func:`popular_score` computed in SQL; its cursor is
        ``[now, offset]``, so later pages score with the clock of page one.

        Args:
            swarm: only posts seen in this swarm (32-byte id); None for all.
            popular: Popular instead of Latest.
            limit: 1 to 500 items.
            before: the ``next`` cursor of the previous page, or None.
            now: the current Unix time (default: the clock).

        Returns:
            ``{"items": [item, ...], "next": cursor or None}``; each item is
            ``{"id", "text", "bg", "name", "created", "expires", "hearts",
            "replies", "flags", "mine", "hearted"}``.
        """
        now = _now(now)
        limit = _int(limit, "limit", 1, 500)
        with self._use() as conn:
            where = ["p.kind = 1", "(p.expires IS NULL OR p.expires > :now)"]
            args: dict[str, Any] = {"now": now, "limit": limit}
            if swarm is not None:
                args["swarm"] = self._swarm_arg(swarm)
                where.append("EXISTS (SELECT 1 FROM object_swarms s WHERE s.swarm = :swarm AND s.id = p.id)")
            if popular:
                offset = 0
                if before is not None:
                    if not (isinstance(before, Sequence) and len(before) == 2):
                        raise InvalidArgument("a Popular cursor is [now, offset]")
                    args["now"] = _int(before[0], "cursor time")
                    offset = _int(before[1], "cursor offset")
                args["offset"] = offset
                args["cutoff"] = self._popular_cutoff(conn, where, args, offset + limit)
                where.append("p.created >= :cutoff")
                # Rank from the covering index alone, then fetch the page's rows:
                # the wide rows (text) are read for `limit` posts, not for all.
                sql = (
                    f"WITH top AS (SELECT p.rid, {_POPULAR_KEY} AS score, p.created, p.id FROM posts p "
                    f"WHERE {' AND '.join(where)} ORDER BY score DESC, p.created DESC, p.id DESC "
                    "LIMIT :limit OFFSET :offset) "
                    f"SELECT {_FEED_COLUMNS} FROM top JOIN posts p ON p.rid = top.rid "
                    "ORDER BY top.score DESC, top.created DESC, top.id DESC"
                )
                items = [_feed_item(r) for r in conn.execute(sql, args)]
                cursor: list[Any] | None = [args["now"], offset + len(items)] if len(items) == limit else None
            else:
                if before is not None:
                    if not (isinstance(before, Sequence) and len(before) == 2):
                        raise InvalidArgument("a Latest cursor is [created, arrival]")
                    args["bc"] = _int(before[0], "cursor time")
                    args["br"] = _int(before[1], "cursor arrival")
                    where.append("(p.created, p.rid) < (:bc, :br)")
                sql = (
                    f"SELECT {_FEED_COLUMNS} FROM posts p WHERE {' AND '.join(where)} "
                    "ORDER BY p.created DESC, p.rid DESC LIMIT :limit"
                )
                items = [_feed_item(r) for r in conn.execute(sql, args)]
                cursor = None
                if len(items) == limit:
                    last = conn.execute("SELECT rid FROM posts WHERE id = ?", (bytes.fromhex(items[-1]["id"]),))
                    cursor = [items[-1]["created"], last.fetchone()[0]]
            return {"items": items, "next": cursor}

    @staticmethod
    def _popular_cutoff(conn: sqlite3.Connection, where: list[str], args: dict[str, Any], k: int) -> int:
        """The oldest ``created`` that can still reach the top ``k`` of Popular.

        Any ``k`` posts score at least T = the lowest of their scores, so the
        k-th best overall does too; a post ``a`` hours old scores at most
        (max_hearts + 1) / (a + 2) ** 1.5, below T once a passes
        ((max_hearts + 1) / T) ** (2 / 3) - 2.  Taking the newest ``k`` posts
        for T keeps the scan to recent posts; an hour of slack covers rounding.
        """
        newest = conn.execute(
            f"SELECT p.hearts, p.created FROM posts p WHERE {' AND '.join(where)} "
            "ORDER BY p.created DESC, p.rid DESC LIMIT :k",
            {**args, "k": k},
        ).fetchall()
        if len(newest) < k:
            return 0  # fewer posts than the page reaches: scan them all
        now: int = args["now"]
        floor = min(popular_score(h, c, now) for h, c in newest)
        max_hearts = conn.execute("SELECT max(hearts) FROM posts WHERE kind = 1").fetchone()[0] or 0
        max_age_hours = ((max_hearts + 1) / floor) ** (2 / 3) - 2 + 1
        return max(0, now - int(max_age_hours * 3600))

    def thread(self, root_id: bytes | str, *, now: int | None = None) -> dict[str, Any] | None:
        """A root post and its replies (ordered by created, then id).

        Args:
            root_id: the root post's id (32 bytes or 64 hex characters).
            now: the current Unix time (default: the clock), for expiry.

        Returns:
            None if the root is unknown, deleted or expired; else
            ``{"root": item, "replies": [item, ...]}``.  Every item has
            ``id, kind, pubkey, is_author, icon {glyph, colour}, text, created,
            hearts, flags, parent, mine, hearted``; the root adds ``bg, name,
            expires, replies``.  ``parent`` is None on the root.
        """
        oid = _id32(root_id, "root_id")
        now = _now(now)
        cols = """p.id, p.kind, p.pubkey, p.text, p.created, p.hearts, p.flags, p.parent,
            EXISTS (SELECT 1 FROM own o WHERE o.id = p.id),
            EXISTS (SELECT 1 FROM hearts h JOIN own o ON o.id = h.id WHERE h.target = p.id),
            p.bg, p.name, p.expires, p.replies"""
        with self._use() as conn:
            root = conn.execute(
                f"SELECT {cols} FROM posts p WHERE p.id = ? AND p.kind = 1 AND (p.expires IS NULL OR p.expires > ?)",
                (oid, now),
            ).fetchone()
            if root is None:
                return None
            replies = conn.execute(
                f"SELECT {cols} FROM posts p WHERE p.root = ? AND p.kind = 2 ORDER BY p.created, p.id", (oid,)
            ).fetchall()
        author = root[2]

        def item(row: tuple[Any, ...]) -> dict[str, Any]:
            return {
                "id": row[0].hex(),
                "kind": _KIND_NAME[row[1]],
                "pubkey": row[2].hex(),
                "is_author": row[2] == author,
                "icon": icon(row[2]),
                "text": row[3],
                "created": row[4],
                "hearts": row[5],
                "flags": row[6],
                "parent": None if row[7] is None else row[7].hex(),
                "mine": bool(row[8]),
                "hearted": bool(row[9]),
            }

        head = item(root)
        head.update(bg=root[10], name=root[11], expires=root[12], replies=root[13])
        return {"root": head, "replies": [item(r) for r in replies]}

    def search(
        self,
        query: str,
        limit: int = 50,
        *,
        markers: tuple[str, str] = ("[", "]"),
        swarm: bytes | None = None,
        now: int | None = None,
    ) -> list[dict[str, Any]]:
        """Full-text search over the text of live posts and replies, best match first.

        The query is user text, never FTS5 syntax: every word is quoted, so
        ``"``, ``*``, ``AND``, ``NEAR(`` or ``(`` are searched for as words (or
        ignored when they hold no letter or digit).  Words are ANDed.

        Args:
            query: what the user typed; empty or blank gives ``[]``.
            limit: 1 to 500 results.
            markers: strings put around each matched word.  ``("\\x02",
                "\\x03")`` can never occur in text (protocol forbids control
                characters), if a front-end needs unambiguous markers.
            swarm: only objects seen in this swarm; None for all.
            now: the current Unix time (default: the clock), for expiry.

        Returns:
            ``[{"id", "kind", "root", "text", "created", "hearts"}, ...]``:
            ``text`` is highlighted, ``root`` is the thread to open (the id
            itself for a root post).  Replies whose thread is unknown or
            expired are left out.
        """
        if not isinstance(query, str):
            raise InvalidArgument("query must be a string")
        if not (isinstance(markers, tuple) and len(markers) == 2 and all(isinstance(m, str) for m in markers)):
            raise InvalidArgument("markers must be a pair of strings")
        limit = _int(limit, "limit", 1, 500)
        now = _now(now)
        match = _fts_query(query)
        if not match:
            return []
        with self._use() as conn:
            args: dict[str, Any] = {"match": match, "now": now, "limit": limit, "open": markers[0], "close": markers[1]}
            extra = ""
            if swarm is not None:
                args["swarm"] = self._swarm_arg(swarm)
                extra = "AND EXISTS (SELECT 1 FROM object_swarms s WHERE s.swarm = :swarm AND s.id = p.id)"
            rows = conn.execute(
                f"""SELECT p.id, p.kind, r.id, highlight(search, 0, :open, :close), p.created, p.hearts
                FROM search JOIN posts p ON p.rid = search.rowid
                JOIN posts r ON r.id = coalesce(p.root, p.id) AND r.kind = 1
                WHERE search MATCH :match AND (r.expires IS NULL OR r.expires > :now) {extra}
                ORDER BY search.rank, p.id LIMIT :limit""",
                args,
            ).fetchall()
        return [
            {
                "id": r[0].hex(),
                "kind": _KIND_NAME[r[1]],
                "root": r[2].hex(),
                "text": r[3],
                "created": r[4],
                "hearts": r[5],
            }
            for r in rows
        ]

    def resolve_id(self, prefix: str | bytes) -> bytes:
        """The full id of a stored object from a full id or a unique hex prefix.

        Args:
            prefix: 6 to 64 hex characters (any case), or 32 raw bytes.

        Raises:
            InvalidArgument: not hex, or shorter than 6 characters.
            AmbiguousId: more than one stored object starts with it.
            UnknownId: no stored object does.
        """
        if isinstance(prefix, (bytes, bytearray)) and len(prefix) == 32:
            lo = hi = bytes(prefix)
            shown = lo.hex()
        else:
            if not isinstance(prefix, str) or not MIN_PREFIX <= len(prefix) <= 64 or not _HEX.fullmatch(prefix):
                raise InvalidArgument(f"an id is {MIN_PREFIX} to 64 hex characters, not {prefix!r}")
            shown = prefix.lower()
            lo = bytes.fromhex(shown.ljust(64, "0"))
            hi = bytes.fromhex(shown.ljust(64, "f"))
        with self._use() as conn:
            rows = conn.execute("SELECT id FROM objects WHERE id BETWEEN ? AND ? LIMIT 2", (lo, hi)).fetchall()
        if not rows:
            raise UnknownId(f"no object with id {shown}")
        if len(rows) > 1:
            raise AmbiguousId(f"id prefix {shown} matches more than one object; give more characters")
        return bytes(rows[0][0])

    def get(self, id_or_prefix: str | bytes) -> protocol.Signed | None:
        """The stored object with this id or unique prefix, or None if unknown.

        Raises:
            InvalidArgument: not a valid id or prefix.
            AmbiguousId: the prefix matches more than one object.
        """
        try:
            oid = self.resolve_id(id_or_prefix)
        except UnknownId:
            return None
        with self._use() as conn:
            row = conn.execute("SELECT wire FROM objects WHERE id = ?", (oid,)).fetchone()
        if row is None:
            return None
        try:
            # These bytes were verified before they were stored.
            return protocol.decode(row[0], verify=False)
        except protocol.ProtocolError as exc:
            raise StoreCorrupt(
                _corrupt_message(self.path, f"stored object {oid.hex()} no longer decodes: {exc}")
            ) from None

    def object_ids(self, swarm: bytes) -> list[tuple[int, bytes]]:
        """``(created, id)`` of every stored, not held object seen in ``swarm``, oldest first (for sync)."""
        raw = self._swarm_arg_locked(swarm)
        with self._use() as conn:
            rows = conn.execute(
                """SELECT o.created, o.id FROM object_swarms s JOIN objects o ON o.id = s.id
                WHERE s.swarm = ? AND NOT EXISTS (SELECT 1 FROM held h WHERE h.id = o.id)
                ORDER BY o.created, o.id""",
                (raw,),
            ).fetchall()
        return [(c, bytes(i)) for c, i in rows]

    def wires(self, ids: Iterable[bytes | str]) -> list[bytes]:
        """The wire bytes of the given ids, in the given order; unknown, erased or held ids are skipped."""
        if isinstance(ids, (bytes, str)):
            raise InvalidArgument("ids must be an iterable of 32-byte ids")
        wanted = [_id32(i) for i in ids]
        found: dict[bytes, bytes] = {}
        with self._use() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(
                    conn.execute(
                        f"""SELECT id, wire FROM objects WHERE id IN ({marks})
                        AND NOT EXISTS (SELECT 1 FROM held h WHERE h.id = objects.id)""",
                        chunk,
                    ).fetchall()
                )
        return [found[i] for i in wanted if i in found]

    def counts(self) -> dict[str, int]:
        """Totals for status displays."""
        with self._use() as conn:
            row = conn.execute(
                """SELECT
                    (SELECT count(*) FROM objects),
                    (SELECT count(*) FROM posts WHERE kind = 1),
                    (SELECT count(*) FROM posts WHERE kind = 2),
                    (SELECT count(*) FROM hearts),
                    (SELECT count(*) FROM flags),
                    (SELECT count(*) FROM tombstones),
                    (SELECT count(*) FROM tombstones WHERE applied = 0),
                    (SELECT count(*) FROM erased),
                    (SELECT count(*) FROM swarms),
                    (SELECT count(*) FROM peers),
                    (SELECT count(*) FROM own),
                    (SELECT count(*) FROM held)"""
            ).fetchone()
        keys = (
            "objects",
            "posts",
            "replies",
            "hearts",
            "flags",
            "tombstones",
            "pending_deletes",
            "erased",
            "swarms",
            "peers",
            "own",
            "held",
        )
        return dict(zip(keys, row, strict=True))

    # -- swarms and peers ------------------------------------------------------

    def _swarm_arg_locked(self, swarm: Any) -> bytes:
        with self._lock:
            return self._swarm_arg(swarm)

    def add_swarm(self, name: str, psk: bytes, port: int, now: int) -> Swarm:
        """Record a joined swarm; its id is ``protocol.swarm_id(psk)``.

        Raises:
            InvalidArgument: bad name (1 to 64 characters), key (32 bytes) or port.
            SwarmExists: a swarm with this name or this key is already joined.
        """
        name = _text(name, "swarm name", 64)
        if not isinstance(psk, bytes) or len(psk) != 32:
            raise InvalidArgument("a swarm key is exactly 32 bytes")
        port = _int(port, "port", 0, 65535)
        now = _int(now, "now")
        sid = protocol.swarm_id(psk)
        with self._use() as conn:
            clash = conn.execute("SELECT name FROM swarms WHERE id = ? OR name = ?", (sid, name)).fetchone()
            if clash is not None:
                raise SwarmExists(
                    f"swarm {name!r} is already joined"
                    if clash[0] == name
                    else f"this swarm key is already joined as {clash[0]!r}"
                )
            with self._write(conn):
                conn.execute(
                    "INSERT INTO swarms(id, name, psk, port, joined) VALUES (?, ?, ?, ?, ?)",
                    (sid, name, psk, port, now),
                )
            self._swarm_ids.add(sid)
        return Swarm(sid.hex(), name, port, now, psk)

    def set_swarm_port(self, swarm: bytes, port: int) -> None:
        """Remember the port a swarm's host listens on, so peers find it again after a restart."""
        port = _int(port, "port", 0, 65535)
        with self._use() as conn:
            sid = self._swarm_arg(swarm)
            with self._write(conn):
                conn.execute("UPDATE swarms SET port = ? WHERE id = ?", (port, sid))

    def object_swarms(self, object_id: bytes) -> list[bytes]:
        """The swarms an object was seen in (or published to)."""
        oid = _id32(object_id, "object_id")
        with self._use() as conn:
            rows = conn.execute("SELECT swarm FROM object_swarms WHERE id = ?", (oid,)).fetchall()
        return [bytes(r[0]) for r in rows]

    def swarms(self) -> list[Swarm]:
        """Every joined swarm, in the order they were joined."""
        with self._use() as conn:
            rows = conn.execute("SELECT id, name, port, joined, psk FROM swarms ORDER BY joined, name").fetchall()
        return [Swarm(r[0].hex(), r[1], r[2], r[3], r[4]) for r in rows]

    def swarm_by_name(self, name: str) -> Swarm | None:
        """The joined swarm with this name, or None."""
        name = _text(name, "swarm name", 64)
        with self._use() as conn:
            r = conn.execute("SELECT id, name, port, joined, psk FROM swarms WHERE name = ?", (name,)).fetchone()
        return None if r is None else Swarm(r[0].hex(), r[1], r[2], r[3], r[4])

    def remove_swarm(self, name: str) -> None:
        """Leave a swarm: forget its key, its peers and which objects were seen in it.

        Objects stay (they may be in other swarms, and a post read is a post
        read); they no longer show in that swarm's feed or sync.

        Raises:
            UnknownSwarm: no swarm has this name.
        """
        name = _text(name, "swarm name", 64)
        with self._use() as conn:
            row = conn.execute("SELECT id FROM swarms WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownSwarm(f"no joined swarm is called {name!r}")
            with self._write(conn):
                conn.execute("DELETE FROM swarms WHERE id = ?", (row[0],))  # cascades to peers, object_swarms
                self._checkpoint = True  # the key should not linger in the WAL either
            self._swarm_ids.discard(row[0])

    def save_peer(self, swarm: bytes, peer_id: str, addrs: Sequence[str], now: int) -> None:
        """Remember a peer that was reachable now (resets its failure count).

        At most 1,000 peers are kept per swarm: the most failing, then least
        recently seen, are dropped.
        """
        peer_id = _text(peer_id, "peer id", 128)
        if (
            isinstance(addrs, str)
            or not isinstance(addrs, Sequence)
            or not all(isinstance(a, str) and 0 < len(a) <= 512 for a in addrs)
            or len(addrs) > 64
        ):
            raise InvalidArgument("addrs must be a list of at most 64 multiaddr strings")
        now = _int(now, "now")
        with self._use() as conn:
            raw = self._swarm_arg(swarm)
            with self._write(conn):
                conn.execute(
                    """INSERT INTO peers(swarm, peer_id, addrs, last_seen, failures) VALUES (?, ?, ?, ?, 0)
                    ON CONFLICT (swarm, peer_id) DO UPDATE SET
                        addrs = excluded.addrs, last_seen = excluded.last_seen, failures = 0""",
                    (raw, peer_id, json.dumps(list(addrs)), now),
                )
                if conn.execute("SELECT count(*) FROM peers WHERE swarm = ?", (raw,)).fetchone()[0] > (
                    MAX_PEERS_PER_SWARM
                ):
                    conn.execute(
                        """DELETE FROM peers WHERE swarm = ?1 AND peer_id NOT IN (
                            SELECT peer_id FROM peers WHERE swarm = ?1
                            ORDER BY failures, last_seen DESC LIMIT ?2)""",
                        (raw, MAX_PEERS_PER_SWARM),
                    )

    def peers(self, swarm: bytes) -> list[dict[str, Any]]:
        """Known peers of a swarm, best redial candidates first (fewest failures, then most recent).

        Returns:
            ``[{"peer_id", "addrs": [str], "last_seen", "failures"}, ...]``
        """
        with self._use() as conn:
            raw = self._swarm_arg(swarm)
            rows = conn.execute(
                """SELECT peer_id, addrs, last_seen, failures FROM peers WHERE swarm = ?
                ORDER BY failures, last_seen DESC, peer_id""",
                (raw,),
            ).fetchall()
        return [{"peer_id": p, "addrs": json.loads(a), "last_seen": s, "failures": f} for p, a, s, f in rows]

    def note_peer_failure(self, swarm: bytes, peer_id: str) -> int:
        """Count one failed dial of a peer.

        Returns:
            The peer's failure count now (0 if the peer is not known).
        """
        peer_id = _text(peer_id, "peer id", 128)
        with self._use() as conn:
            raw = self._swarm_arg(swarm)
            with self._write(conn):
                conn.execute("UPDATE peers SET failures = failures + 1 WHERE swarm = ? AND peer_id = ?", (raw, peer_id))
                row = conn.execute(
                    "SELECT failures FROM peers WHERE swarm = ? AND peer_id = ?", (raw, peer_id)
                ).fetchone()
        return 0 if row is None else int(row[0])


def _drop_object(conn: sqlite3.Connection, oid: bytes) -> None:
    """Remove an object's wire bytes and where it was seen (no FK cascade: it slows every insert)."""
    conn.execute("DELETE FROM objects WHERE id = ?", (oid,))
    conn.execute("DELETE FROM object_swarms WHERE id = ?", (oid,))


def _hexes(ids: Iterable[bytes]) -> tuple[str, ...]:
    return tuple(i.hex() for i in ids)


def _translate(path: Path, exc: sqlite3.Error) -> StoreError:
    """A StoreError for an sqlite3 error; corruption gets the recovery message."""
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and any(
        word in text for word in ("malformed", "not a database", "corrupt")
    ):
        return StoreCorrupt(_corrupt_message(path, text))
    return StoreError(f"database error in {path}: {text}")
