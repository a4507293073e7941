"""The way out: an object this node made is stored durably, then stamped, then sent into each swarm's stem.

The store holds it (sync does not serve it) until its stem is over here: it
came back by gossip or sync, or this node fluffed it.  The caller learns the
object's id once it is on disk, before its proof-of-work stamp exists: the
:class:`~._mint.Minter` finds that afterwards, and only then starts the stem.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import protocol

from ..api import Published
from ..store import Store
from ._errors import ApiError
from ._mint import Minter
from ._swarm import Swarms

__all__ = ["Outbound"]

Offload = Callable[..., Awaitable[Any]]
Announce = Callable[[protocol.Signed, bytes], None]


class Outbound:
    """Commits this node's own objects.

    Args:
        store: Where they are stored first.
        swarms: The running swarms whose stems carry them.
        minter: Stamps them, then starts their stems.
        now: The current Unix time.
        offload: Runs a blocking function off the event loop.
        announce: Tells subscribers a new object was stored (object, swarm id).
    """

    def __init__(
        self,
        store: Store,
        swarms: Swarms,
        minter: Minter,
        now: Callable[[], int],
        offload: Offload,
        announce: Announce,
    ) -> None:
        self._store = store
        self._swarms = swarms
        self._minter = minter
        self._now = now
        self._offload = offload
        self._announce = announce

    async def commit(self, signed: protocol.Signed, swarm_ids: list[bytes]) -> Published:
        """Store ``signed`` (held, unminted) in every swarm of ``swarm_ids``; its stamp and stem follow.

        Returns at once: the author never waits for the stamp.  Once it is
        minted, at the highest difficulty of those swarms, the object's stem
        starts in each of them that runs.

        Raises:
            ApiError: ``refused``, the store refused it (for example, its target was deleted).
        """
        result = await self._offload(self._store.ingest_own, signed, swarm_ids, self._now())
        if result.status == "rejected":
            raise ApiError("refused", f"the node refused this object: {result.reason}")
        if result.is_new:
            self._announce(signed, swarm_ids[0])
        self._minter.send(signed, swarm_ids)
        running = self._swarms.running
        return Published(id=signed.id.hex(), published_to=sum(swarm_id in running for swarm_id in swarm_ids))

    async def reshare(self, target: protocol.Signed) -> None:
        """A heart carries a post into the hearter's other swarms, as Secret did with contacts.

        Where such a swarm asks more than the post's stamp has, it is minted
        again first (any node finds the same stamp: protocol.md, section 13).
        """
        if not isinstance(target.obj, protocol.Post):
            return
        seen = set(self._store.object_swarms(target.id))
        into = [runtime.id for runtime in list(self._swarms.running.values()) if runtime.id not in seen]
        for swarm_id in into:
            await self._offload(self._store.ingest, target, swarm_id, self._now())
        if into:
            self._minter.send(target, into)  # whoever brings a post into a swarm first looks like its author

    def carry(self, delete: protocol.Signed, arrived_in: bytes) -> None:
        """A delete from a peer goes on into every other swarm its target was in here.

        The store recorded it in each (docs/storage.md, "Deletes"): a post
        this node carried into a swarm by a heart is taken back there by the
        same node.  It is stamped for those swarms and stemmed like a
        carried post, so the carrier looks like any relay.
        """
        into = [swarm_id for swarm_id in self._store.object_swarms(delete.id) if swarm_id != arrived_in]
        if into:
            self._minter.send(delete, into)

    def target_swarms(self, target: protocol.Signed) -> list[bytes]:
        """The swarms a reply, heart, flag or delete of ``target`` goes to: where the target was seen."""
        seen = self._store.object_swarms(target.id)
        return seen or [rec.raw_id for rec in self._store.swarms()]
