"""This node's own objects: stored *held* until they have spread, and their proof-of-work stamps.

An own object is stored at once, unminted, so the author never waits
(docs/storage.md, ``held``); the node mints its stamp afterwards and puts it
on with :meth:`OwnObjects.restamp` before the object leaves
(docs/protocol.md, section 13).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import protocol

from ._args import id32_arg, int_arg
from ._errors import InvalidArgument
from ._ingest import STRONGER, Ingest, IngestResult, work_of
from ._rows import StampNeed

__all__ = ["OwnObjects"]

# The stamp an object `o` needs: the highest difficulty of the swarms it is in (NULL in none).
_NEEDED: Final = """SELECT max(w.difficulty) FROM object_swarms s JOIN swarms w ON w.id = s.swarm
    WHERE s.id = o.id"""


class OwnObjects(Ingest):
    """Own objects: stored held, released once spread, and stamped after they are stored."""

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
        now = int_arg(now, "now")
        if not isinstance(signed, protocol.Signed):
            raise InvalidArgument("signed must be a protocol.Signed")
        if not swarms:
            raise InvalidArgument("at least one swarm is needed")
        with self._use() as conn:
            raws = [self._swarm_arg(s) for s in swarms]
            self._added = {}
            with self._write(conn):
                results = [self._ingest_one(conn, signed, raw, now) for raw in raws]
                self._count_added(conn)
                if results[0].status != "rejected":
                    conn.execute("INSERT OR IGNORE INTO own(id) VALUES (?)", (signed.id,))
                    conn.execute("INSERT OR IGNORE INTO held(id) VALUES (?)", (signed.id,))
        return results[0]

    def restamp(self, signed: protocol.Signed) -> bool:
        """Put a stronger stamp on a stored object: its wire is replaced if ``signed``'s stamp has more work.

        How a stamp this node minted (docs/protocol.md, section 13) reaches
        the store: an own object stored unminted by :meth:`ingest_own`, or a
        post carried into a swarm that asks more than its stamp has.

        Returns:
            True if the stored wire was replaced; False if the stored stamp is
            as strong already, or the object is not stored (erased meanwhile).

        Raises:
            InvalidArgument: ``signed`` is not a Signed.
        """
        if not isinstance(signed, protocol.Signed):
            raise InvalidArgument("signed must be a protocol.Signed")
        work = work_of(signed)
        with self._use() as conn, self._write(conn):
            return conn.execute(STRONGER, (signed.wire, work, signed.id, work)).rowcount > 0

    def release(self, object_id: bytes) -> bool:
        """Stop holding ``object_id``; True if it was held."""
        oid = id32_arg(object_id, "object_id")
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

    def stamp_need(self, object_id: bytes) -> StampNeed | None:
        """What a stored object's stamp has and needs: the most any swarm it is in asks.

        Returns:
            None if the object is not stored (erased) or is in no joined swarm.
        """
        oid = id32_arg(object_id, "object_id")
        with self._use() as conn:
            row = conn.execute(f"SELECT o.wire, o.work, ({_NEEDED}) FROM objects o WHERE o.id = ?", (oid,)).fetchone()
        return None if row is None or row[2] is None else StampNeed(*row)

    def minting(self) -> int:
        """How many own objects wait for their stamp: held, and weaker than a swarm they go to asks."""
        with self._use() as conn:
            row = conn.execute(
                f"SELECT count(*) FROM held h JOIN objects o ON o.id = h.id WHERE o.work < ({_NEEDED})"
            ).fetchone()
        return int(row[0])
