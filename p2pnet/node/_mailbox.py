"""Opening private messages: every stored message is tried with this node's live keys, off the event loop.

Every node stores, serves and forwards every message the same way, whoever it
is for (``_inbound``, ``_ingest``): the gossip validator, the store and sync
never ask whether a message opens.  Afterwards, and apart, :class:`Mailbox`
walks the stored messages in arrival order and tries each with every live
key in a worker thread (docs/protocol.md, section 14.5).  What opens is kept
in the store's conversations; nothing that happens here is visible to a peer.

The live keys are this identity's keys a message can be sealed to: those of
its own posts and replies of the last :data:`LIVE_WINDOW`, and of its
conversations active in that window, at most :data:`MAX_LIVE_KEYS` of each.
Trying a message costs one X25519 per live key (bench/dm.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import trio

import protocol

from ..store import Store

__all__ = ["LIVE_WINDOW", "MAX_LIVE_KEYS", "Mailbox"]

log = logging.getLogger(__name__)

LIVE_WINDOW: Final = 30 * 24 * 3600  # a post or conversation can be written to this long after its last sign of life
MAX_LIVE_KEYS: Final = 2048  # of each source: a message costs at most 2 x 2048 X25519s (bench/dm.py)
OPEN_BATCH: Final = 64  # messages tried per worker-thread call
LOCKED_POLL: Final = 1.0  # seconds between looks at a locked identity

Offload = Callable[..., Awaitable[Any]]
Opened = Callable[[bytes], None]


class Mailbox:
    """Tries every stored message with the live keys, and keeps what opens.

    Args:
        store: Where the messages are, and where what opens is kept.
        seed: The identity's seed, or None while there is none (locked).
        now: The current Unix time.
        offload: Runs blocking work (the store, the trial opening) off the event loop.
        opened: Called with a conversation's id when a new line shows in it.

    Attributes:
        tried: Messages tried since start.  ``opened``: how many opened.
            ``broken``: opened, but malformed inside (a broken or hostile sender).
            ``live``: the live keys each message was last tried with.
    """

    def __init__(
        self,
        store: Store,
        seed: Callable[[], bytes | None],
        now: Callable[[], int],
        offload: Offload,
        opened: Opened,
    ) -> None:
        self._store = store
        self._seed = seed
        self._now = now
        self._offload = offload
        self._opened = opened
        self._after = 0  # rid of the last message tried; 0 at start: every stored message is tried once per run
        self._wake = trio.Event()
        self._wake.set()
        self._keys: list[protocol.LiveKey] | None = None  # None: rebuild before the next batch
        self._derived: dict[bytes, protocol.LiveKey] = {}  # object id or conversation basis -> key
        self.tried = self.opened = self.broken = 0
        self.live = 0  # live keys at the last count

    def wake(self) -> None:
        """New messages were stored: try them soon."""
        self._wake.set()

    def keys_changed(self) -> None:
        """A post, reply or conversation of this identity was made: its key is live from now on."""
        self._keys = None

    def live_keys(self, seed: bytes) -> list[protocol.LiveKey]:
        """This identity's live keys now (blocking: call it in a worker thread).

        Each key is derived once and kept while its source stays live.
        """
        objects, bases = self._store.key_sources(self._now() - LIVE_WINDOW, MAX_LIVE_KEYS)
        derived: dict[bytes, protocol.LiveKey] = {}
        for wire, root_wire in objects:
            try:
                signed = protocol.decode(wire, verify=False)  # stored after it was checked, or made here
                root = None if root_wire is None else protocol.decode(root_wire, verify=False)
            except protocol.ProtocolError as exc:
                log.warning("an own object no longer decodes (%s); its key is not live", exc)
                continue
            key = self._derived.get(signed.id)
            if key is None:
                if isinstance(signed.obj, protocol.Reply) and root is None:
                    continue  # a reply whose thread is gone: nothing can be written to it any more
                signing = protocol.own_key(seed, signed, root)
                if signing is None:
                    continue
                key = protocol.live_key(signing)
            derived[signed.id] = key
        for basis in bases:
            derived[basis] = self._derived.get(basis) or protocol.live_key(protocol.conversation_key(seed, basis))
        self._derived = derived
        self.live = len({key.pubkey for key in derived.values()})
        return list({key.pubkey: key for key in derived.values()}.values())

    async def run(self) -> None:
        """Try stored messages whenever woken, until cancelled."""
        while True:
            await self._wake.wait()
            seed = self._seed()
            if seed is None:
                await trio.sleep(LOCKED_POLL)  # no identity yet, or locked: look again, still woken
                continue
            self._wake = trio.Event()
            while batch := await self._offload(self._store.unopened, self._after, OPEN_BATCH):
                if self._keys is None:
                    self._keys = await self._offload(self.live_keys, seed)
                shown = await self._offload(self._open_batch, batch, self._keys, seed)
                self._after = batch[-1][0]
                for cid in shown:
                    self._opened(cid)

    def _open_batch(self, batch: list[tuple[int, bytes]], keys: list[protocol.LiveKey], seed: bytes) -> list[bytes]:
        """Try each message with every key; keep what opens.  Returns the conversations with a new line."""
        shown = []
        for _, wire in batch:
            self.tried += 1
            try:
                signed = protocol.decode(wire, verify=False)
                assert isinstance(signed.obj, protocol.Message)
                opened = protocol.open_message(signed.obj, keys)
            except protocol.ProtocolError as exc:
                self.broken += 1
                log.info("a message opened here is malformed inside: %s", exc)
                continue
            if opened is None:
                continue
            self.opened += 1
            answer = bytes(protocol.conversation_key(seed, opened.sender).verify_key)
            cid = self._store.record_opened(signed.id, opened, answer, self._now())
            if cid is not None:
                shown.append(cid)
                self._keys = None  # a new conversation's key, or one back inside the window
        return shown
