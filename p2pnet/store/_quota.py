"""The store quota of each swarm: what its objects take, and eviction when they take more (docs/storage.md, section 7).

Usage is the wire bytes of the objects seen in a swarm, added by ingest and
taken off by a trigger.  Over its quota, a swarm's objects are evicted in this order until they take
at most :data:`EVICT_TO` of it: expired posts, then the most flagged posts
and replies, then the oldest others' objects.  Nothing whose erasing would
take one of the user's own objects is ever evicted.  An evicted id is
remembered in each swarm it was in for :data:`EVICTED_MEMORY` seconds, at
most one per KiB of the swarm's quota.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Final

from ._args import int_arg
from ._erase import Erasure
from ._rows import UsageRow

__all__ = ["DEFAULT_QUOTA", "EVICTED_MEMORY", "EVICT_BATCH", "EVICT_TO", "MIN_QUOTA", "Quota"]

MIB: Final = 1 << 20
DEFAULT_QUOTA: Final = 256 * MIB  # wire bytes per swarm; docs/storage.md, section 7, says why
MIN_QUOTA: Final = 64 * 1024  # a few hundred short posts: below it a swarm could hold almost nothing
EVICT_TO: Final = 0.9  # an eviction makes room down to this share, so it does not run again at the next post
EVICT_BATCH: Final = 256  # posts, replies or others evicted (with what hangs on them) per transaction
EVICTED_MEMORY: Final = 30 * 24 * 3600  # how long an evicted id is refused and listed to sync as held
# At most one remembered id per KiB of quota (its rows take about 250 bytes), so
# the memory of a flood costs at most about a quarter of the quota on disk.
EVICTED_PER_BYTE: Final = 1 / 1024

_QUOTA_OF: Final = f"coalesce(w.quota, {DEFAULT_QUOTA})"

# Ids whose erasing would take an object of the user's: their own posts,
# replies, hearts and flags, the threads they replied in, and what they
# hearted or flagged with its thread.
_PROTECTED: Final = """
    SELECT id FROM own
    UNION SELECT p.root FROM own o JOIN posts p ON p.id = o.id WHERE p.kind = 2
    UNION SELECT r.target FROM own o JOIN (SELECT id, target FROM hearts UNION ALL SELECT id, target FROM flags) r
        ON r.id = o.id
    UNION SELECT t.root FROM own o JOIN (SELECT id, target FROM hearts UNION ALL SELECT id, target FROM flags) r
        ON r.id = o.id JOIN posts t ON t.id = r.target WHERE t.kind = 2"""

# Eviction candidates of one swarm (?1), in the order they go: the most flagged
# posts and replies, then every post, reply and object left hanging on
# nothing (a heart, flag or delete whose target is not here), oldest first.
_FLAGGED: Final = """SELECT p.id, p.pubkey FROM posts p JOIN object_swarms s ON s.id = p.id AND s.swarm = ?1
    WHERE p.flags > 0 ORDER BY p.flags DESC, p.place, p.rid LIMIT ?2"""
_OLDEST: Final = """
    SELECT p.id, p.pubkey, p.place AS t, p.rid FROM posts p JOIN object_swarms s ON s.id = p.id AND s.swarm = ?1
    UNION ALL
    SELECT o.id, o.pubkey, o.created, o.rid FROM objects o JOIN object_swarms s ON s.id = o.id AND s.swarm = ?1
    WHERE o.kind NOT IN (1, 2) AND NOT EXISTS (
        SELECT 1 FROM objects x WHERE x.id = coalesce(
            (SELECT target FROM hearts WHERE id = o.id), (SELECT target FROM flags WHERE id = o.id),
            (SELECT target FROM tombstones WHERE id = o.id)))
    ORDER BY t, rid LIMIT ?2"""


class Quota(Erasure):
    """Usage per swarm, and eviction down to the quota."""

    def usage(self) -> list[UsageRow]:
        """What each joined swarm's objects take, against its quota, in the order the swarms were joined."""
        with self._use() as conn:
            rows = conn.execute(
                f"""SELECT w.id, coalesce(u.objects, 0), coalesce(u.bytes, 0), {_QUOTA_OF},
                    (SELECT count(*) FROM evicted e WHERE e.swarm = w.id)
                FROM swarms w LEFT JOIN usage u ON u.swarm = w.id ORDER BY w.joined, w.name"""
            ).fetchall()
        return [UsageRow(*row) for row in rows]

    def over_quota(self) -> list[bytes]:
        """The joined swarms whose objects take more than their quota."""
        with self._use() as conn:
            rows = conn.execute(
                f"SELECT w.id FROM swarms w JOIN usage u ON u.swarm = w.id WHERE u.bytes > {_QUOTA_OF}"
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def evict(self, swarm: bytes, now: int, limit: int = EVICT_BATCH) -> int:
        """If ``swarm`` is over its quota, make room in ONE transaction: at most ``limit`` evictions.

        Expired posts go first (everywhere: no one can read them), then the
        most flagged posts and replies of the swarm, then its oldest others'
        objects, each with what hangs on it, until the swarm takes at most
        :data:`EVICT_TO` of its quota.  Call again while it returns more
        than 0 and the swarm is still over.

        Returns:
            How many objects were erased (expired or evicted, with what hung on them).
        """
        now = int_arg(now, "now")
        limit = int_arg(limit, "limit", 1, 100_000)
        with self._use() as conn:
            sid = self._swarm_arg(swarm)
            with self._write(conn):
                used, quota = self._used(conn, sid)
                if used <= quota:
                    return 0
                gone = self._purge_expired(conn, now)
                target = int(quota * EVICT_TO)
                protected = {bytes(r[0]) for r in conn.execute(_PROTECTED)}
                for oid, pubkey in self._candidates(conn, sid, protected, len(protected) + 4 * limit):
                    if limit == 0 or self._used(conn, sid)[0] <= target:
                        break
                    gone += len(self._erase(conn, oid, pubkey, "evicted", until=now + EVICTED_MEMORY))
                    limit -= 1
                conn.execute(
                    """DELETE FROM evicted WHERE swarm = ?1 AND id IN (
                        SELECT id FROM evicted WHERE swarm = ?1 ORDER BY until, id
                        LIMIT max(0, (SELECT count(*) FROM evicted WHERE swarm = ?1) - ?2))""",
                    (sid, int(quota * EVICTED_PER_BYTE)),
                )
                return gone

    def forget_evicted(self, now: int) -> int:
        """Forget evicted ids remembered longer than :data:`EVICTED_MEMORY`; returns how many rows went."""
        now = int_arg(now, "now")
        with self._use() as conn, self._write(conn):
            return conn.execute("DELETE FROM evicted WHERE until <= ?", (now,)).rowcount

    @staticmethod
    def _used(conn: sqlite3.Connection, sid: bytes) -> tuple[int, int]:
        row = conn.execute(
            f"""SELECT coalesce(u.bytes, 0), {_QUOTA_OF} FROM swarms w LEFT JOIN usage u ON u.swarm = w.id
            WHERE w.id = ?""",
            (sid,),
        ).fetchone()
        return int(row[0]), int(row[1])

    @staticmethod
    def _candidates(
        conn: sqlite3.Connection, sid: bytes, protected: set[bytes], window: int
    ) -> Iterator[tuple[bytes, bytes]]:
        """What may go, in eviction order, skipping the protected and what an earlier one took with it.

        ``window`` rows of each order are read, whole before anything is
        erased (a cursor over rows being deleted is not stable in SQLite):
        more than the protected ones, so a batch that evicts nothing has
        nothing left to evict.
        """
        for sql in (_FLAGGED, _OLDEST):
            for row in conn.execute(sql, (sid, window)).fetchall():
                oid, pubkey = bytes(row[0]), bytes(row[1])
                if oid not in protected and conn.execute("SELECT 1 FROM objects WHERE id = ?", (oid,)).fetchone():
                    yield oid, pubkey
