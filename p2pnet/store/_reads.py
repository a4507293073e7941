"""Reads other than the feed: a thread, search, ids and objects, what sync serves, counts.

A thread and search hits come back as the records of ``_rows``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import protocol

from ._args import CONTROL, HEX, id32_arg, int_arg, now_arg
from ._db import Database, corrupt_message
from ._errors import AmbiguousId, InvalidArgument, StoreCorrupt, UnknownId
from ._mutes import muted_filter
from ._rows import POST_COLUMNS, ROOT_COLUMNS, SearchRow, ThreadRows, post_row, root_row

__all__ = ["Reads"]

MIN_PREFIX: Final = 6
_CHUNK = 500  # ids per IN (...) query, far below SQLite's variable limit


def _fts_query(text: str) -> str:
    """User text as an FTS5 query of quoted string tokens, implicitly ANDed.

    Inside double quotes FTS5 treats everything (``*``, ``AND``, ``NEAR(``,
    ``(``) as text to tokenize, so user input cannot form syntax; embedded
    quotes are doubled.  Pieces without a letter or digit would tokenize to
    nothing and are dropped.  Control characters (NUL would end the query
    string inside SQLite) cannot occur in stored text, so they become spaces.
    """
    terms = [t for t in CONTROL.sub(" ", text).split() if any(ch.isalnum() for ch in t)]
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


class Reads(Database):
    """Threads, search, ids, the sync helpers and counts."""

    def thread(self, root_id: bytes | str, *, now: int | None = None) -> ThreadRows | None:
        """A root post and its replies, in the order this node saw them.

        Replies are ordered by place (the earlier of ``created`` and the step
        this node first saw them in), then by arrival here: inside one step
        the wire tells no order, and arrival is the order they were written in
        when they came live.

        Args:
            root_id: the root post's id (32 bytes or 64 hex characters).
            now: the current Unix time (default: the clock), for expiry.

        Returns:
            None if the root is unknown, deleted or expired; else its rows.
        """
        oid = id32_arg(root_id, "root_id")
        now = now_arg(now)
        with self._use() as conn:
            root = conn.execute(
                f"SELECT {ROOT_COLUMNS} FROM posts p WHERE p.id = ? AND p.kind = 1 "
                "AND (p.expires IS NULL OR p.expires > ?)",
                (oid, now),
            ).fetchone()
            if root is None:
                return None
            where, args = muted_filter(conn, threads=False)
            replies = conn.execute(
                f"SELECT {POST_COLUMNS} FROM posts p WHERE p.root = :root AND p.kind = 2 "
                f"{''.join(' AND ' + w for w in where)} ORDER BY p.place, p.rid",
                {"root": oid, **args},
            ).fetchall()
            hidden = conn.execute("SELECT 1 FROM hidden_threads WHERE root = ?", (oid,)).fetchone() is not None
        return ThreadRows(root_row(root), tuple(map(post_row, replies)), hidden)

    def search(
        self,
        query: str,
        limit: int = 50,
        *,
        markers: tuple[str, str] = ("[", "]"),
        swarm: bytes | None = None,
        now: int | None = None,
    ) -> list[SearchRow]:
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
            The hits, ``text`` highlighted.  Replies whose thread is unknown
            or expired are left out.
        """
        if not isinstance(query, str):
            raise InvalidArgument("query must be a string")
        if not (isinstance(markers, tuple) and len(markers) == 2 and all(isinstance(m, str) for m in markers)):
            raise InvalidArgument("markers must be a pair of strings")
        limit = int_arg(limit, "limit", 1, 500)
        now = now_arg(now)
        match = _fts_query(query)
        if not match:
            return []
        with self._use() as conn:
            args: dict[str, Any] = {"match": match, "now": now, "limit": limit, "open": markers[0], "close": markers[1]}
            where, muted = muted_filter(conn)
            args.update(muted)
            if swarm is not None:
                args["swarm"] = self._swarm_arg(swarm)
                where.append("EXISTS (SELECT 1 FROM object_swarms s WHERE s.swarm = :swarm AND s.id = p.id)")
            extra = "".join(" AND " + w for w in where)
            rows = conn.execute(
                f"""SELECT p.id, p.kind, r.id, highlight(search, 0, :open, :close), p.created, p.hearts
                FROM search JOIN posts p ON p.rid = search.rowid
                JOIN posts r ON r.id = coalesce(p.root, p.id) AND r.kind = 1
                WHERE search MATCH :match AND (r.expires IS NULL OR r.expires > :now) {extra}
                ORDER BY search.rank, p.id LIMIT :limit""",
                args,
            ).fetchall()
        return [SearchRow(*r) for r in rows]

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
            if not isinstance(prefix, str) or not MIN_PREFIX <= len(prefix) <= 64 or not HEX.fullmatch(prefix):
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
                corrupt_message(self.path, f"stored object {oid.hex()} no longer decodes: {exc}")
            ) from None

    def object_ids(self, swarm: bytes) -> list[tuple[int, bytes]]:
        """``(created, id)`` of every stored, not held object seen in ``swarm``, oldest first (for sync).

        Objects whose stamp is weaker than the swarm's difficulty are left
        out: a peer must refuse them, and counts them against whoever sends them.
        Objects evicted from the swarm and still remembered are listed (and
        never served, as :meth:`wires` does not have them): sync then counts
        them as held here and does not fetch them back.
        """
        raw = self._swarm_arg_locked(swarm)
        with self._use() as conn:
            rows = conn.execute(
                """SELECT o.created, o.id FROM object_swarms s JOIN objects o ON o.id = s.id
                WHERE s.swarm = ?1 AND o.work >= (SELECT difficulty FROM swarms WHERE id = ?1)
                AND NOT EXISTS (SELECT 1 FROM held h WHERE h.id = o.id)
                UNION SELECT created, id FROM evicted WHERE swarm = ?1
                ORDER BY 1, 2""",
                (raw,),
            ).fetchall()
        return [(c, bytes(i)) for c, i in rows]

    def wires(self, ids: Iterable[bytes | str]) -> list[bytes]:
        """The wire bytes of the given ids, in the given order; unknown, erased or held ids are skipped."""
        if isinstance(ids, (bytes, str)):
            raise InvalidArgument("ids must be an iterable of 32-byte ids")
        wanted = [id32_arg(i) for i in ids]
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
