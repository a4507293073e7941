"""Leaving a swarm drops what this node holds only because of it (docs/storage.md, section 5).

A post seen in no joined swarm any more can no longer follow its author's
delete, and would stay in the feed for good; so the posts, replies, hearts
and flags of a swarm left, and seen in no other, are dropped, text scrubbed
from disk like an erase.  They are not remembered as erased: joining the
swarm again brings them back by sync.  Deletes stay, so a post taken back
never returns through another swarm.
"""

from __future__ import annotations

from protocol import KIND_DELETE

from ._erase import Erasure

__all__ = ["Unswarmed"]


class Unswarmed(Erasure):
    """Objects no joined swarm holds."""

    def drop_unswarmed(self) -> int:
        """Drop every post, reply, heart and flag seen in no joined swarm (after :meth:`remove_swarm`).

        Returns:
            How many objects were dropped, what hung on them included.
        """
        with self._use() as conn, self._write(conn):
            rows = conn.execute(
                """SELECT o.id, o.pubkey FROM objects o WHERE o.kind != ?
                AND NOT EXISTS (SELECT 1 FROM object_swarms s WHERE s.id = o.id)""",
                (KIND_DELETE,),
            ).fetchall()
            dropped: set[bytes] = set()
            for oid, pubkey in rows:
                if oid not in dropped:  # a root's replies went with it
                    dropped.update(self._erase(conn, oid, pubkey, "deleted", remember=False))
        return len(dropped)
