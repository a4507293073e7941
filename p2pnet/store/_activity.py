"""What concerns this identity, read from what the store already holds: replies to it and in its threads, hearts on it.

Computed here from the ``own`` table; nothing is asked of or sent to anyone.
Replies the user muted (a word, the writer in that thread, a hidden thread)
are left out, as from the feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ._args import int_arg
from ._db import Database
from ._mutes import muted_filter

__all__ = ["Activity", "ActivityRow"]

# Replies by others to an own post or reply, or in a thread this identity started or wrote in.
# What the user muted is left out, as everywhere else ({muted}: muted_filter's conditions).
_REPLIES: Final = """
    SELECT p.id, p.root, p.parent, p.text, p.place, p.parent IN (SELECT id FROM own)
    FROM posts p
    WHERE p.kind = 2 AND p.id NOT IN (SELECT id FROM own)
      AND (p.parent IN (SELECT id FROM own) OR p.root IN (SELECT id FROM own)
           OR p.root IN (SELECT r.root FROM posts r JOIN own o ON o.id = r.id WHERE r.kind = 2)){muted}
    ORDER BY p.place DESC, p.rid DESC LIMIT :limit"""

# Hearts by others on an own post or reply (an own heart is in ``own`` too).
_HEARTS: Final = """
    SELECT h.id, coalesce(t.root, t.id), t.id, t.text, h.created
    FROM hearts h JOIN own o ON o.id = h.target JOIN posts t ON t.id = h.target
    WHERE h.id NOT IN (SELECT id FROM own)
    ORDER BY h.created DESC LIMIT ?"""


@dataclass(frozen=True)
class ActivityRow:
    """A reply or a heart that concerns this identity.

    ``about`` is the own post or reply it concerns (for a reply in an own
    thread that answers someone else: the reply it answers); ``text`` is the
    reply's, or the hearted post's; ``to_me`` says it answers or hearts an
    own post or reply itself.
    """

    kind: str  # "reply" or "heart"
    id: bytes
    root: bytes
    about: bytes
    text: str
    when: int
    to_me: bool


class Activity(Database):
    def activity(self, limit: int) -> list[ActivityRow]:
        """The latest replies and hearts that concern this identity, the latest first, at most ``limit``."""
        limit = int_arg(limit, "limit", 1)
        with self._use() as conn:
            where, args = muted_filter(conn, "p")
            muted = "".join(f" AND {condition}" for condition in where)
            replies = conn.execute(_REPLIES.format(muted=muted), {**args, "limit": limit}).fetchall()
            hearts = conn.execute(_HEARTS, (limit,)).fetchall()
        rows = [ActivityRow("reply", bytes(i), bytes(r), bytes(p), t, w, bool(m)) for i, r, p, t, w, m in replies] + [
            ActivityRow("heart", bytes(i), bytes(r), bytes(a), t, w, True) for i, r, a, t, w in hearts
        ]
        rows.sort(key=lambda row: row.when, reverse=True)
        return rows[:limit]
