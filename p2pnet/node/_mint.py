"""Minting: the proof-of-work stamp of what this node sends, found after it is stored (docs/protocol.md, section 13).

An own object is stored unminted and its id returned at once, so the author
never waits for the work.  :class:`Minter` then finds each stamp in a worker
thread, one object at a time and oldest first, in slices of
:data:`MINT_SLICE` attempts so that shutdown can cancel it between two; it
stores the minted wire and only then starts the object's stem in each running
swarm it is for.  Own objects still held after a restart, and a post a heart
carries into a harder swarm, take the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import trio

import protocol

from ..store import StampNeed, Store
from ._swarm import SwarmRuntime

__all__ = ["MINT_SLICE", "Minter"]

log = logging.getLogger(__name__)

# Attempts per worker-thread call: some tens of milliseconds, the longest shutdown waits for a stamp.
MINT_SLICE: Final = 1 << 16

Offload = Callable[..., Awaitable[Any]]


@dataclass
class _Job:
    signed: protocol.Signed
    swarms: set[bytes]  # where its stem starts once it is stamped


class Minter:
    """Stamps objects one at a time, oldest first, then starts their stems.

    Args:
        store: Where each stamp's need is read and the minted wire stored.
        running: The running swarms by id, whose stems carry the objects.
        offload: Runs blocking work (store calls, minting) off the event loop.
    """

    def __init__(self, store: Store, running: Callable[[], Mapping[bytes, SwarmRuntime]], offload: Offload) -> None:
        self._store = store
        self._running = running
        self._offload = offload
        self._jobs: dict[bytes, _Job] = {}  # insertion order: oldest first
        self._wake = trio.Event()

    def send(self, signed: protocol.Signed, swarm_ids: Iterable[bytes]) -> None:
        """Stamp ``signed`` as every swarm it is in asks, then originate it in each of ``swarm_ids`` that runs.

        An object already waiting keeps its place in the queue and gains the swarms.
        """
        job = self._jobs.setdefault(signed.id, _Job(signed, set()))
        job.swarms.update(swarm_ids)
        self._wake.set()

    async def run(self) -> None:
        """Work through the queue until cancelled; a job that fails stays first for the next run."""
        while True:
            if not self._jobs:
                self._wake = trio.Event()
                await self._wake.wait()
                continue
            object_id = next(iter(self._jobs))
            stamped = await self._stamped(self._jobs[object_id].signed)
            job = self._jobs.pop(object_id)  # popped only now: it may have gained swarms meanwhile
            if stamped is None:
                continue
            running = self._running()
            for swarm_id in sorted(job.swarms):
                runtime = running.get(swarm_id)
                if runtime is not None:
                    runtime.stem.originate(stamped)

    async def _stamped(self, signed: protocol.Signed) -> protocol.Signed | None:
        """The object as stored, with a stamp that meets every swarm it is in; None if it is not to be sent."""
        need: StampNeed | None = await self._offload(self._store.stamp_need, signed.id)
        if need is None:
            return None  # erased while it waited (deleted, expired), or its swarms were left
        try:
            stored = protocol.decode(need.wire, verify=False)  # verified, or made here, before it was stored
        except protocol.ProtocolError as exc:
            log.warning("stored object %s no longer decodes (%s); not sent", signed.id.hex(), exc)
            return None
        if need.work >= need.difficulty:
            return stored
        if stored.stamp is None:
            # Made before stamps: no peer of a swarm that asks for one may take it.
            log.warning(
                "object %s is version 1 and cannot carry the %d-bit stamp its swarms ask; not sent",
                signed.id.hex(),
                need.difficulty,
            )
            return None
        start = 0
        mint = partial(protocol.mint_stamp, signed.id, need.difficulty, attempts=MINT_SLICE)
        while (stamp := await self._offload(partial(mint, start=start))) is None:
            start += MINT_SLICE
            await trio.lowlevel.checkpoint()  # shutdown cancels here, even where offload runs inline
        minted = stored.with_stamp(stamp)
        await self._offload(self._store.restamp, minted)
        return minted
