"""Search by word beginnings: "fish" finds "fishing" (docs/storage.md, section 4, "Find").

Each word the user typed matches every word it begins, and all of them must
match.  The query is user text, never FTS5 syntax: each word is quoted, and a
quoted string followed by ``*`` is FTS5's prefix query, so nothing typed can
form an operator.  The matches come back as character offsets, not as
markers in the text, so a front-end highlights them however it likes.
"""

from __future__ import annotations

import re
from typing import Final

from ._args import int_arg, now_arg
from ._db import Database
from ._errors import InvalidArgument
from ._rows import SearchRow

__all__ = ["Find", "prefix_query"]

# Around each match in FTS5's highlight(); stored text never holds them (protocol forbids control characters).
_MARKS: Final = re.compile("[\x02\x03]")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_FIND: Final = """SELECT p.id, p.kind, coalesce(p.root, p.id), highlight(search, 0, char(2), char(3)),
    p.created, p.hearts FROM search JOIN posts p ON p.rid = search.rowid
    WHERE search MATCH :query AND EXISTS (
        SELECT 1 FROM posts thread WHERE thread.id = coalesce(p.root, p.id) AND thread.kind = 1
        AND (thread.expires IS NULL OR thread.expires > :now))
    ORDER BY search.rank, p.id LIMIT :limit"""


def prefix_query(text: str) -> str:
    """User text as an FTS5 query: each word a quoted prefix (``"fish"*``), the words ANDed.

    A ``*`` the user put at a word's end means what every word means here and
    is dropped.  Pieces with no letter or digit would tokenize to nothing and
    are dropped too.  A word of one character matches whole words only: as a
    prefix it would match a good part of the index.  Control characters (NUL
    would end the query string inside SQLite) become spaces.
    """
    terms = []
    for piece in _CONTROL.sub(" ", text).split():
        word = piece.rstrip("*")
        if any(ch.isalnum() for ch in word):
            quoted = '"' + word.replace('"', '""') + '"'
            terms.append(quoted if len(word) == 1 else quoted + "*")
    return " ".join(terms)


def _unmarked(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The plain text of a highlight() and where each marked match is in it."""
    plain, spans, at = [], [], 0
    for i, part in enumerate(_MARKS.split(marked)):
        if i % 2:
            spans.append((at, at + len(part)))
        plain.append(part)
        at += len(part)
    return "".join(plain), tuple(spans)


class Find(Database):
    """Search by word beginnings, with the matches as offsets."""

    def find(self, query: str, limit: int = 50, *, now: int | None = None) -> list[SearchRow]:
        """Live posts and replies matching every word of ``query`` as a word beginning, best (bm25) first.

        Args:
            query: what the user typed; with no word in it, ``[]``.
            limit: 1 to 500 results.
            now: the current Unix time (default: the clock), for expiry.

        Returns:
            The hits with their plain text and ``matches``.  Replies whose
            thread is unknown or expired are left out.
        """
        if not isinstance(query, str):
            raise InvalidArgument("query must be a string")
        limit = int_arg(limit, "limit", 1, 500)
        now = now_arg(now)
        match = prefix_query(query)
        if not match:
            return []
        with self._use() as conn:
            rows = conn.execute(_FIND, {"query": match, "now": now, "limit": limit}).fetchall()
        hits = []
        for oid, kind, root, marked, created, hearts in rows:
            text, matches = _unmarked(marked)
            hits.append(SearchRow(oid, kind, root, text, created, hearts, matches))
        return hits
