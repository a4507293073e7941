"""A delete follows its target into every swarm the target was in (docs/storage.md, section 3, "Deletes").

A post one node hearted into its other swarms is held by members there who
never see the swarm its author posted in.  The node that carried the post
carries its delete too: when a delete erases a target this node held in
several swarms, the delete is recorded in each of them, in the same
transaction, so every swarm's sync offers it and the node sends it there.
"""

from __future__ import annotations

import sqlite3

import protocol

from ._ingest import Ingest, IngestResult

__all__ = ["CarryDeletes"]


class CarryDeletes(Ingest):
    """Deletes recorded in every swarm their target was in."""

    def _ingest_delete(
        self, conn: sqlite3.Connection, signed: protocol.Signed, obj: protocol.Delete, swarm: bytes
    ) -> IngestResult:
        # Read before the erase, which forgets where the target was.
        seen = conn.execute("SELECT swarm FROM object_swarms WHERE id = ?", (obj.target,)).fetchall()
        result = super()._ingest_delete(conn, signed, obj, swarm)
        if result.is_new and seen:
            conn.executemany(
                "INSERT OR IGNORE INTO object_swarms(swarm, id) VALUES (?, ?)", [(s, signed.id) for (s,) in seen]
            )
        return result
