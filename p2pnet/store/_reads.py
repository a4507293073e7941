"""Reads other than the feed: a thread, search, ids and objects, what sync serves, counts.

Every read returns plain JSON-ready values: ids lowercase hex, times ints.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any, Final

import protocol
from protocol import KIND_DELETE, KIND_FLAG, KIND_HEART, KIND_POST, KIND_REPLY

from ._args import HEX, id32_arg, int_arg, now_arg
from ._db import Database, corrupt_message
from ._errors import AmbiguousId, InvalidArgument, StoreCorrupt, UnknownId

__all__ = ["Reads", "icon"]

MIN_PREFIX: Final = 6
ICON_GLYPHS: Final = 16
ICON_COLOURS: Final = 12
_ICON_INFO: Final = b"p2pnet/v1/icon"
_KIND_NAME: Final = {
    KIND_POST: "post",
    KIND_REPLY: "reply",
    KIND_HEART: "heart",
    KIND_FLAG: "flag",
    KIND_DELETE: "delete",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CHUNK = 500  # ids per IN (...) query, far below SQLite's variable limit


def icon(pubkey: bytes) -> dict[str, int]:
    """The per-thread icon of a participant: ``{"glyph": 0..15, "colour": 0..11}``.

    Derived from the thread key alone, so it is stable for one person within a
    thread and unrelated across threads (the keys are).
    """
    digest = hashlib.sha256(_ICON_INFO + pubkey).digest()
    return {"glyph": digest[0] % ICON_GLYPHS, "colour": digest[1] % ICON_COLOURS}


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


class Reads(Database):
    """Threads, search, ids, the sync helpers and counts."""

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
        oid = id32_arg(root_id, "root_id")
        now = now_arg(now)
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
        limit = int_arg(limit, "limit", 1, 500)
        now = now_arg(now)
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
