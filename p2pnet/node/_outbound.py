"""The way out: an object this node made is stored durably, then sent into each swarm's stem.

The store holds it (sync does not serve it) until its stem is over here: it
came back by gossip or sync, or this node fluffed it.  The caller learns the
object's id only once it is on disk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import protocol

from ..api import Published
from ..store import Store
from ._errors import ApiError
from ._swarm import Swarms

__all__ = ["Outbound"]

Offload = Callable[..., Awaitable[Any]]
Announce = Callable[[protocol.Signed, bytes], None]


class Outbound:
    """Commits this node's own objects.

    Args:
        store: Where they are stored first.
        swarms: The running swarms whose stems carry them.
        now: The current Unix time.
        offload: Runs a blocking function off the event loop.
        announce: Tells subscribers a new object was stored (object, swarm id).
    """

    def __init__(self, store: Store, swarms: Swarms, now: Callable[[], int], offload: Offload, announce: Announce):
        self._store = store
        self._swarms = swarms
        self._now = now
        self._offload = offload
        self._announce = announce

    async def commit(self, signed: protocol.Signed, swarm_ids: list[bytes]) -> Published:
        """Store ``signed`` (held) in every swarm of ``swarm_ids``, then originate its stem in each running one.

        Raises:
            ApiError: ``refused``, the store refused it (for example, its target was deleted).
        """
        result = await self._offload(self._store.ingest_own, signed, swarm_ids, self._now())
        if result.status == "rejected":
            raise ApiError("refused", f"the node refused this object: {result.reason}")
        if result.is_new:
            self._announce(signed, swarm_ids[0])
        sent = 0
        for swarm_id in swarm_ids:
            runtime = self._swarms.running.get(swarm_id)
            if runtime is not None:
                runtime.stem.originate(signed)
                sent += 1
        return Published(id=signed.id.hex(), published_to=sent)

    async def reshare(self, target: protocol.Signed) -> None:
        """A heart carries a post into the hearter's other swarms, as Secret did with contacts."""
        if not isinstance(target.obj, protocol.Post):
            return
        seen = set(self._store.object_swarms(target.id))
        for runtime in list(self._swarms.running.values()):
            if runtime.id in seen:
                continue
            await self._offload(self._store.ingest, target, runtime.id, self._now())
            runtime.stem.originate(target)  # whoever brings a post into a swarm first looks like its author

    def target_swarms(self, target: protocol.Signed) -> list[bytes]:
        """The swarms a reply, heart, flag or delete of ``target`` goes to: where the target was seen."""
        seen = self._store.object_swarms(target.id)
        return seen or [rec.raw_id for rec in self._store.swarms()]
