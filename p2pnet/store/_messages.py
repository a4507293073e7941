"""Private messages this node opened or sent, its conversations, and where its live keys come from.

The sealed objects are stored like every other (``_ingest``) and purged at
the end of their lifetime (``_erase``).  What is here stays on this node:
the conversations (with their blocked flag) and the lines opened or written
in them (docs/storage.md, section 9).  Nothing here is ever served or sent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import protocol
from protocol import KIND_MESSAGE, KIND_POST, KIND_REPLY

from ._args import int_arg
from ._db import Database
from ._errors import AmbiguousId, InvalidArgument, UnknownId

__all__ = ["ConversationRow", "LineRow", "Messages"]

_CONVERSATION_COLUMNS: Final = (
    "c.id, c.mine, c.basis, c.peer, c.addressed, c.about, c.started, c.answered, c.blocked, c.unread, c.last, "
    "(SELECT count(*) FROM dm_lines l WHERE l.conversation = c.id), "
    "(SELECT text FROM dm_lines l WHERE l.conversation = c.id ORDER BY l.seen DESC, l.rowid DESC LIMIT 1)"
)


@dataclass(frozen=True)
class ConversationRow:
    """One conversation as stored here.

    ``mine`` is this node's key in it, derived from ``basis``
    (:func:`protocol.conversation_key`); ``peer`` is where this node's
    messages go; ``addressed`` the key the first message was sealed to;
    ``about`` the post or reply it started from; ``started`` whether this
    node wrote first; ``answered`` whether the first writer has heard back.
    """

    id: bytes
    mine: bytes
    basis: bytes
    peer: bytes
    addressed: bytes
    about: bytes
    started: bool
    answered: bool
    blocked: bool
    unread: int
    last: int
    lines: int
    last_text: str | None


@dataclass(frozen=True)
class LineRow:
    """One message of a conversation: ``mine`` if written here; ``sent`` the writer's step, ``seen`` ours."""

    id: bytes
    mine: bool
    sent: int
    seen: int
    text: str


def _conversation(row: tuple[Any, ...]) -> ConversationRow:
    cid, mine, basis, peer, addressed, about, started, answered, blocked, unread, last, lines, text = row
    keys = (bytes(cid), bytes(mine), bytes(basis), bytes(peer), bytes(addressed), bytes(about))
    return ConversationRow(*keys, bool(started), bool(answered), bool(blocked), unread, last, lines, text)


class Messages(Database):
    """Conversations and their lines; the sources of the live keys; the messages still to try."""

    # -- what the opener reads -------------------------------------------------------

    def unopened(self, after: int, limit: int = 256) -> list[tuple[int, bytes]]:
        """``(rid, wire)`` of stored messages after ``rid``, not written here, oldest first."""
        after, limit = int_arg(after, "after"), int_arg(limit, "limit")
        with self._use() as conn:
            rows = conn.execute(
                """SELECT rid, wire FROM objects o WHERE kind = ? AND rid > ?
                AND NOT EXISTS (SELECT 1 FROM own WHERE own.id = o.id) ORDER BY rid LIMIT ?""",
                (KIND_MESSAGE, after, limit),
            ).fetchall()
        return [(rid, bytes(wire)) for rid, wire in rows]

    def key_sources(self, since: int, limit: int) -> tuple[list[tuple[bytes, bytes | None]], list[bytes]]:
        """What this node's live keys are derived from (docs/protocol.md, section 14.5).

        Returns:
            ``(objects, bases)``: the wires of own posts and replies created
            since ``since``, newest first, each with its thread's first post
            for a reply; and the ``basis`` of every conversation not blocked
            whose last line is since ``since``, newest first.  At most
            ``limit`` of each.
        """
        since, limit = int_arg(since, "since"), int_arg(limit, "limit")
        with self._use() as conn:
            own = conn.execute(
                """SELECT o.wire, (SELECT r.wire FROM posts p JOIN objects r ON r.id = p.root WHERE p.id = o.id)
                FROM own JOIN objects o ON o.id = own.id
                WHERE o.kind IN (?, ?) AND o.created >= ? ORDER BY o.created DESC, o.rid DESC LIMIT ?""",
                (KIND_POST, KIND_REPLY, since, limit),
            ).fetchall()
            bases = conn.execute(
                "SELECT basis FROM conversations WHERE blocked = 0 AND last >= ? ORDER BY last DESC LIMIT ?",
                (since, limit),
            ).fetchall()
        return [(bytes(w), None if r is None else bytes(r)) for w, r in own], [bytes(b) for (b,) in bases]

    # -- recording -------------------------------------------------------------------

    def record_opened(self, message_id: bytes, opened: protocol.Opened, answer_key: bytes, now: int) -> bytes | None:
        """Keep a message this node opened; the id of its conversation if a new line was shown.

        Args:
            message_id: the sealed object's id.
            opened: what it said (:func:`protocol.open_message`).
            answer_key: this node's conversation key for the sender (the
                public key of ``protocol.conversation_key(seed, opened.sender)``),
                used if this message starts a conversation.
            now: the current Unix time.

        Returns:
            None when nothing is shown: a blocked conversation, a line
            already kept, or a sender who is not the conversation's other side.
        """
        now = int_arg(now, "now")
        with self._use() as conn, self._write(conn):
            row = self._by(conn, "c.mine = ?", opened.recipient)
            if row is not None and row.blocked:
                return None  # nothing from it is shown again, and nothing tells the other side
            if row is not None:
                # Opened with one of our conversation keys: only its other side knows it.
                if opened.sender != row.peer:
                    if not row.started or row.answered:
                        return None
                    # The first answer: from now on the other side writes from this key.
                    conn.execute("UPDATE conversations SET peer = ? WHERE id = ?", (opened.sender, row.id))
                conn.execute("UPDATE conversations SET answered = 1 WHERE id = ? AND started = 1", (row.id,))
            else:
                # Opened with the key of one of our posts or replies: the sender writes first.
                cid = protocol.conversation_id(opened.sender)
                row = self._by(conn, "c.id = ?", cid)
                if row is None:
                    conn.execute(
                        """INSERT INTO conversations(id, mine, basis, peer, addressed, about, started, last)
                        VALUES (?, ?, ?, ?, ?, ?, 0, ?)""",
                        (cid, answer_key, opened.sender, opened.sender, opened.recipient, opened.about, now),
                    )
                    row = self._by(conn, "c.id = ?", cid)
                    assert row is not None
                elif row.addressed != opened.recipient or row.started:
                    return None
            if row.blocked:
                return None
            return row.id if self._add_line(conn, row.id, message_id, False, opened.sent, opened.text, now) else None

    def record_sent(
        self, message_id: bytes, *, mine: bytes, basis: bytes, peer: bytes, about: bytes, text: str, sent: int, now: int
    ) -> bytes:
        """Keep a message written here, starting its conversation if this is the first; returns its id.

        ``mine`` is the conversation key it was written with, derived from
        ``basis``; ``peer`` the key it was sealed to.
        """
        now = int_arg(now, "now")
        with self._use() as conn, self._write(conn):
            row = self._by(conn, "c.mine = ?", mine)
            if row is None:
                cid = protocol.conversation_id(mine)
                conn.execute(
                    """INSERT INTO conversations(id, mine, basis, peer, addressed, about, started, last)
                    VALUES (?, ?, ?, ?, ?, ?, 1, ?)""",
                    (cid, mine, basis, peer, peer, about, now),
                )
            else:
                cid = row.id
            self._add_line(conn, cid, message_id, True, sent, text, now)
            return cid

    @staticmethod
    def _add_line(
        conn: sqlite3.Connection, cid: bytes, message_id: bytes, mine: bool, sent: int, text: str, now: int
    ) -> bool:
        seen = protocol.coarsen(now)
        added = conn.execute(
            "INSERT OR IGNORE INTO dm_lines(id, conversation, mine, sent, seen, text) VALUES (?, ?, ?, ?, ?, ?)",
            (message_id, cid, int(mine), sent, seen, text),
        ).rowcount
        if added:
            conn.execute(
                "UPDATE conversations SET last = ?, unread = unread + ? WHERE id = ?", (now, int(not mine), cid)
            )
        return bool(added)

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def _by(conn: sqlite3.Connection, where: str, value: bytes) -> ConversationRow | None:
        row = conn.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c WHERE {where}", (value,)).fetchone()
        return None if row is None else _conversation(row)

    def conversation_by_key(self, mine: bytes) -> ConversationRow | None:
        """The conversation in which this node writes with key ``mine``."""
        with self._use() as conn:
            return self._by(conn, "c.mine = ?", mine)

    def resolve_conversation(self, prefix: str) -> bytes | None:
        """The id of the conversation with this id or unique hex prefix; None if there is none.

        Raises:
            InvalidArgument: not hex.
            AmbiguousId: the prefix matches more than one conversation.
        """
        if not isinstance(prefix, str) or not 1 <= len(prefix) <= 64:
            raise InvalidArgument("a conversation id is 1 to 64 hex digits")
        try:
            lo = bytes.fromhex(prefix.lower().ljust(64, "0"))
            hi = bytes.fromhex(prefix.lower().ljust(64, "f"))
        except ValueError:
            raise InvalidArgument(f"{prefix!r} is not a hex id") from None
        with self._use() as conn:
            rows = conn.execute("SELECT id FROM conversations WHERE id BETWEEN ? AND ? LIMIT 2", (lo, hi)).fetchall()
        if len(rows) > 1:
            raise AmbiguousId(f"id prefix {prefix} matches more than one conversation; give more characters")
        return bytes(rows[0][0]) if rows else None

    def conversations(self) -> list[ConversationRow]:
        """Every conversation that is not blocked, the latest first."""
        with self._use() as conn:
            rows = conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c WHERE c.blocked = 0 ORDER BY c.last DESC, c.id"
            ).fetchall()
        return [_conversation(r) for r in rows]

    def conversation_lines(self, cid: bytes, *, mark_read: bool = True) -> tuple[ConversationRow, list[LineRow]]:
        """A conversation and its lines, oldest first; reading it clears its unread count.

        Raises:
            UnknownId: no such conversation.
        """
        with self._use() as conn, self._write(conn):
            row = self._by(conn, "c.id = ?", cid)
            if row is None:
                raise UnknownId(f"no conversation with id {cid.hex()}")
            lines = conn.execute(
                "SELECT id, mine, sent, seen, text FROM dm_lines WHERE conversation = ? ORDER BY seen, rowid", (cid,)
            ).fetchall()
            if mark_read and row.unread:
                conn.execute("UPDATE conversations SET unread = 0 WHERE id = ?", (cid,))
        return row, [LineRow(bytes(i), bool(m), s, t, x) for i, m, s, t, x in lines]

    def block_conversation(self, cid: bytes, blocked: bool = True) -> ConversationRow:
        """Block (or unblock) a conversation: nothing from a blocked one is kept or shown.

        Raises:
            UnknownId: no such conversation.
        """
        with self._use() as conn, self._write(conn):
            if not conn.execute("UPDATE conversations SET blocked = ? WHERE id = ?", (int(blocked), cid)).rowcount:
                raise UnknownId(f"no conversation with id {cid.hex()}")
            row = self._by(conn, "c.id = ?", cid)
        assert row is not None
        return row

    def message_swarms(self, ids: Iterable[bytes]) -> list[bytes]:
        """The swarms any of these objects was seen in, sorted."""
        wanted = list(ids)
        if not wanted:
            return []
        with self._use() as conn:
            marks = ",".join("?" * len(wanted))
            rows = conn.execute(
                f"SELECT DISTINCT swarm FROM object_swarms WHERE id IN ({marks}) ORDER BY swarm", wanted
            ).fetchall()
        return [bytes(r[0]) for r in rows]
