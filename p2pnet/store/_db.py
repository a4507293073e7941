"""The database file and its one connection: opening, checks, the lock, write transactions.

Opening checks the header, sets the pragmas, runs ``quick_check`` and the
migrations (docs/storage.md, section 1).  Every call holds the lock
(:meth:`Database._use`) and every write is one ``BEGIN IMMEDIATE``
transaction (:meth:`Database._write`) that scrubs the FTS index and truncates
the WAL when it erased anything.  No :class:`sqlite3.Error` leaves this
module: each becomes a :class:`StoreError`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Self

from ._args import id32_arg
from ._errors import InvalidArgument, SchemaTooNew, StoreClosed, StoreCorrupt, StoreError, UnknownSwarm
from ._schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

__all__ = ["Database", "corrupt_message"]

_SQLITE_HEADER: Final = b"SQLite format 3\x00"


def corrupt_message(path: Path, detail: str) -> str:
    """The :class:`StoreCorrupt` message: the file, what is wrong with it, and the way out."""
    # A user cannot call Store.quarantine; `p2pnet recover` does, after the full check.
    return (
        f"{path} is not a usable p2pnet database ({detail}). To start afresh, run `p2pnet recover` "
        f"(with the node's --home): it checks the file fully and, if it is damaged, renames it to "
        f"{path.name}.corrupt-<time>, never deleting it; "
        f"swarm memberships are kept (from the keyring beside it) and posts come back from peers by sync."
    )


class Database:
    """One open database file; the :class:`Store` adds what it stores and reads on top."""

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

    # -- opening and closing -------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Self:
        """Create or open the database at ``path`` and bring its schema up to date.

        Args:
            path: the database file; its directory must exist.  A new file is
                created with mode 0600 (it holds swarm keys).

        Returns:
            An open :class:`Store`.

        Raises:
            StoreCorrupt: the file is not SQLite or fails ``PRAGMA quick_check``;
                the message names the file and the way out: the command
                ``p2pnet recover`` (the full check, then :meth:`quarantine`).
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
            raise StoreCorrupt(corrupt_message(path, "it is not an SQLite database"))
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
                raise StoreCorrupt(corrupt_message(path, "integrity check failed: " + "; ".join(problems)))
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

    def __enter__(self) -> Self:
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
    def _write(self, conn: sqlite3.Connection, *, durable: bool = True) -> Iterator[None]:
        """One write transaction; scrubs FTS and truncates the WAL if anything was erased.

        Not ``durable``: committed without its own fsync (``synchronous=NORMAL``),
        for what peers can send again; it still survives the node's crash, and
        the next durable commit or checkpoint puts it on disk (docs/storage.md).
        """
        if not durable:
            conn.execute("PRAGMA synchronous = NORMAL")
        try:
            with self._transaction(conn):
                yield
        finally:
            if not durable:
                conn.execute("PRAGMA synchronous = FULL")

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
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
        """The 32-byte id of a joined swarm; the caller holds the lock (else :meth:`_swarm_arg_locked`)."""
        raw = id32_arg(swarm, "swarm")
        if raw not in self._swarm_ids:
            raise UnknownSwarm(f"swarm {raw.hex()} is not joined")
        return raw

    def _swarm_arg_locked(self, swarm: Any) -> bytes:
        with self._lock:
            return self._swarm_arg(swarm)


def _translate(path: Path, exc: sqlite3.Error) -> StoreError:
    """A StoreError for an sqlite3 error; corruption gets the recovery message."""
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and any(
        word in text for word in ("malformed", "not a database", "corrupt")
    ):
        return StoreCorrupt(corrupt_message(path, text))
    return StoreError(f"database error in {path}: {text}")
