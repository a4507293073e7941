"""What the user muted: words, a writer in one thread (their thread key), whole threads (docs/storage.md, section 4).

All of it is local: nothing here is ever sent, and muted posts are still
stored, relayed and served, so no peer can tell what this node mutes.  The
reads leave muted posts out with :func:`muted_filter`; the node asks
:meth:`Mutes.muted_among` which new objects not to announce.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from ._args import CONTROL, id32_arg
from ._db import Database
from ._errors import InvalidArgument
from ._rows import MuteRows

__all__ = ["MAX_MUTED_WORDS", "MAX_WORD_CHARS", "Mutes", "muted_filter"]

MAX_WORD_CHARS: Final = 64
MAX_MUTED_WORDS: Final = 500  # each is a term of one FTS5 query
_CHUNK = 500  # ids per IN (...) query


def _phrase(word: str) -> str:
    """A muted word (or words) as one FTS5 phrase: matched on whole tokens, case and accents folded."""
    return '"' + word.replace('"', '""') + '"'


def muted_filter(
    conn: sqlite3.Connection, alias: str = "p", *, threads: bool = True
) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions (and their named args) that leave out the muted posts and replies of ``alias``.

    Each condition is added only when something of its kind is muted, so
    with nothing muted the reads stay as they are (Popular scores from its
    covering index).  ``threads``: leave out hidden threads too (the thread
    itself, asked for by id, shows its replies).
    """
    words, keys, hidden = conn.execute(
        """SELECT (SELECT group_concat(word, char(31)) FROM muted_words),
            EXISTS (SELECT 1 FROM muted_keys), EXISTS (SELECT 1 FROM hidden_threads)"""
    ).fetchone()
    where: list[str] = []
    args: dict[str, Any] = {}
    if keys:
        where.append(f"NOT EXISTS (SELECT 1 FROM muted_keys mk WHERE mk.pubkey = {alias}.pubkey)")
    if hidden and threads:
        where.append(f"NOT EXISTS (SELECT 1 FROM hidden_threads ht WHERE ht.root = coalesce({alias}.root, {alias}.id))")
    if words:
        where.append(f"{alias}.rid NOT IN (SELECT rowid FROM search WHERE search MATCH :muted_words)")
        args["muted_words"] = " OR ".join(_phrase(w) for w in words.split("\x1f"))
    return where, args


class Mutes(Database):
    """Mute and unmute; list what is muted; tell which objects are muted."""

    def mute_word(self, word: str) -> str:
        """Mute a word, or several words as a phrase; returns it as stored (folded to lower case).

        Raises:
            InvalidArgument: empty, longer than :data:`MAX_WORD_CHARS`, with no
                letter or digit (it would match nothing), or too many muted.
        """
        if not isinstance(word, str):
            raise InvalidArgument("a muted word must be a string")
        folded = " ".join(CONTROL.sub(" ", word).split()).lower()
        if not 0 < len(folded) <= MAX_WORD_CHARS or not any(ch.isalnum() for ch in folded):
            raise InvalidArgument(f"a muted word has 1 to {MAX_WORD_CHARS} characters and a letter or digit")
        with self._use() as conn:
            count = conn.execute("SELECT count(*) FROM muted_words WHERE word != ?", (folded,)).fetchone()[0]
            if count >= MAX_MUTED_WORDS:
                raise InvalidArgument(f"at most {MAX_MUTED_WORDS} words can be muted; unmute some first")
            with self._write(conn):
                conn.execute("INSERT OR IGNORE INTO muted_words(word) VALUES (?)", (folded,))
        return folded

    def mute_key(self, pubkey: bytes, root: bytes) -> None:
        """Mute a writer in one thread: ``pubkey`` is their thread key there, ``root`` the thread's first post."""
        key, thread = id32_arg(pubkey, "pubkey"), id32_arg(root, "root")
        with self._use() as conn, self._write(conn):
            conn.execute("INSERT OR REPLACE INTO muted_keys(pubkey, root) VALUES (?, ?)", (key, thread))

    def hide_thread(self, root: bytes) -> None:
        """Hide a whole thread (by its first post) from the feed, search and events."""
        thread = id32_arg(root, "root")
        with self._use() as conn, self._write(conn):
            conn.execute("INSERT OR IGNORE INTO hidden_threads(root) VALUES (?)", (thread,))

    def unmute(self, *, word: str | None = None, pubkey: bytes | None = None, root: bytes | None = None) -> bool:
        """Undo one mute: a word (as given or as stored), a thread key, or a hidden thread; True if it was muted."""
        if sum(x is not None for x in (word, pubkey, root)) != 1:
            raise InvalidArgument("unmute one thing: a word, a key or a thread")
        arg: str | bytes
        if word is not None:
            if not isinstance(word, str):
                raise InvalidArgument("a muted word must be a string")
            sql, arg = "DELETE FROM muted_words WHERE word = ?", " ".join(CONTROL.sub(" ", word).split()).lower()
        elif pubkey is not None:
            sql, arg = "DELETE FROM muted_keys WHERE pubkey = ?", id32_arg(pubkey, "pubkey")
        else:
            sql, arg = "DELETE FROM hidden_threads WHERE root = ?", id32_arg(root, "root")
        with self._use() as conn, self._write(conn):
            return conn.execute(sql, (arg,)).rowcount > 0

    def mutes(self) -> MuteRows:
        """Everything muted: words (sorted), thread keys with their threads, hidden threads."""
        with self._use() as conn:
            words = tuple(w for (w,) in conn.execute("SELECT word FROM muted_words ORDER BY word"))
            keys = tuple((bytes(k), bytes(r)) for k, r in conn.execute("SELECT pubkey, root FROM muted_keys"))
            threads = tuple(bytes(r) for (r,) in conn.execute("SELECT root FROM hidden_threads"))
        return MuteRows(words, keys, threads)

    def muted_among(self, ids: Sequence[bytes]) -> set[bytes]:
        """The ids among ``ids`` that the user does not want to see: muted posts and replies, hidden threads.

        Ids of other objects, or of objects not stored, are left out unless
        they name a hidden thread.
        """
        wanted = [id32_arg(i) for i in ids]
        found: set[bytes] = set()
        with self._use() as conn:
            where, args = muted_filter(conn)
            if not where:
                return found
            for start in range(0, len(wanted), _CHUNK):
                chunk = {f"i{n}": oid for n, oid in enumerate(wanted[start : start + _CHUNK])}
                marks = ",".join(f":{name}" for name in chunk)
                rows = conn.execute(
                    f"""SELECT p.id FROM posts p WHERE p.id IN ({marks}) AND NOT ({" AND ".join(where)})
                    UNION SELECT root FROM hidden_threads WHERE root IN ({marks})""",
                    {**chunk, **args},
                )
                found.update(bytes(r[0]) for r in rows)
        return found
