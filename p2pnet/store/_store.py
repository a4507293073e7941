"""The node's SQLite store: every verified object, the swarms, the peers.

One file per node home, on the stdlib :mod:`sqlite3`, synchronous.  The node
calls it from a trio worker thread or directly; a :class:`Store` may be used
from any thread, one at a time (a lock serialises calls).

What it guarantees (docs/storage.md has the schema and the reasons):

* an object the store accepted is on disk when :meth:`Store.ingest` returns
  (WAL with ``synchronous=FULL``);
* a delete signed by the target's own key erases the target's text from the
  database file and the WAL (``secure_delete``, an FTS5 rebuild of the index
  segments, ``wal_checkpoint(TRUNCATE)``), and the object is never stored or
  served again;
* every read returns plain records (``_rows``, :class:`Swarm`) and no display
  rule: the node shapes them for the control API;
* nothing raises :class:`sqlite3.Error`: every failure is a :class:`StoreError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from ._activity import Activity
from ._bans import Bans
from ._carry import CarryDeletes
from ._feed import Feed
from ._keyring import keyring_path
from ._leave import Unswarmed
from ._messages import Messages
from ._mutes import Mutes
from ._own import OwnObjects
from ._quota import Quota
from ._reads import Reads
from ._search import Find
from ._swarms import SwarmsAndPeers

__all__ = ["Store"]


class Store(
    Activity, CarryDeletes, OwnObjects, Unswarmed, Quota, Feed, Find, Reads, Mutes, Messages, SwarmsAndPeers, Bans
):
    """The node's database.  Open with :meth:`Store.open`; close with :meth:`close`.

    Each base adds one job over the shared connection of :class:`Database`:
    storing objects (``_ingest``, ``_erase``; ``_carry``: a delete follows its
    target into every swarm it was in), own objects and their stamps
    (``_own``), the quota and eviction (``_quota``), the feed (``_feed``),
    search by word beginnings (``_search``), the other reads (``_reads``),
    what the user muted (``_mutes``), private conversations (``_messages``),
    what concerns this identity (``_activity``),
    swarms and peers (``_swarms``), what leaving a swarm drops
    (``_leave``), and bans (``_bans``).
    """

    @classmethod
    def open(cls, path: Path | str) -> Self:
        """Open as :meth:`Database.open` does, and make sure the keyring says what the database does."""
        store = super().open(path)
        try:
            if not keyring_path(store.path).exists():
                store.save_keyring()  # a database from before the keyring gets one
        except BaseException:
            store.close()
            raise
        return store
