"""Keeps every swarm within its store quota: woken when objects are stored, evicts in batches off the event loop.

The store decides what goes (docs/storage.md, section 7); this only runs it,
one transaction per batch in a worker thread, so ingest and reads go on
between batches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio.lowlevel

from ..store import Store

__all__ = ["Evictor"]

Offload = Callable[..., Awaitable[Any]]


class Evictor:
    """Evicts from the swarms over their quota whenever it is woken.

    Args:
        store: The node's store.
        now: The current Unix time.
        offload: Runs a blocking function off the event loop.

    Attributes:
        erased: Objects erased by evictions since start (expired ones included).
    """

    def __init__(self, store: Store, now: Callable[[], int], offload: Offload) -> None:
        self._store = store
        self._now = now
        self._offload = offload
        self._wanted = trio.Event()
        self._wanted.set()  # a quota may have been passed before this start, or lowered
        self.erased = 0

    def wake(self) -> None:
        """Objects were stored, or a quota changed: check the quotas soon (cheap; call it freely)."""
        self._wanted.set()

    async def run(self) -> None:
        """Check and evict each time :meth:`wake` was called, until cancelled."""
        while True:
            await self._wanted.wait()
            self._wanted = trio.Event()
            for swarm_id in await self._offload(self._store.over_quota):
                while erased := await self._offload(self._store.evict, swarm_id, self._now()):
                    self.erased += erased
                    await trio.lowlevel.checkpoint()  # a batch at a time: the store serves others in between
