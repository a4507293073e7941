"""The node's one secret: the seed in its home's identity file.

Creating, restoring and unlocking an identity runs Argon2id (hundreds of
milliseconds by design) in a worker thread, so the node keeps serving while a
passphrase is checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import protocol

from ..api import Home, locked_note
from ._errors import ApiError

__all__ = ["Identity"]

State = Literal["none", "locked", "ready"]
Offload = Callable[..., Awaitable[Any]]


class Identity:
    """The identity of one node home: none yet, locked behind a passphrase, or ready (the seed is known).

    Args:
        home: Where the identity file lives.
        offload: Runs a blocking function off the event loop (``trio.to_thread.run_sync``).
    """

    def __init__(self, home: Home, offload: Offload) -> None:
        self.home = home
        self._offload = offload
        self.seed: bytes | None = None
        self.state: State = "none"

    def load(self, passphrase: str | None) -> None:
        """Read the identity file at start-up; a sealed one stays locked without a passphrase.

        Raises:
            protocol.IdentityError: the file is damaged, or the passphrase is wrong.
        """
        path = self.home.identity
        if not path.exists():
            return
        data = path.read_bytes()
        if protocol.identity_file_is_sealed(data) and not passphrase:
            self.state = "locked"
            return
        self._ready(protocol.decode_identity_file(data, passphrase))

    def require(self) -> bytes:
        """The seed, or the error that tells the user what to do first."""
        if self.seed is None:
            if self.state == "locked":
                raise ApiError("locked", locked_note(self.home))
            raise ApiError(
                "no_identity", "this node has no identity yet: create one first with: " + self.home.command("init")
            )
        return self.seed

    async def create(self, passphrase: str | None) -> bytes:
        """Make a new seed and write it (sealed if a passphrase is given); returns the seed."""
        self._refuse_if_any()
        seed = protocol.new_seed()
        await self._write(seed, passphrase)
        return seed

    async def restore(self, phrase: str, passphrase: str | None) -> bytes:
        """Write the seed of a backup phrase; returns the seed.

        Raises:
            protocol.BadPhrase: the phrase is not a valid backup phrase.
        """
        self._refuse_if_any()
        seed = protocol.phrase_to_seed(phrase)
        await self._write(seed, passphrase)
        return seed

    async def unlock(self, passphrase: str) -> bool:
        """Open a locked identity; False if it was not locked.

        Raises:
            ApiError: ``bad_passphrase``.
        """
        if self.state != "locked":
            return False
        data = self.home.identity.read_bytes()
        try:
            seed = await self._offload(protocol.decode_identity_file, data, passphrase)
        except protocol.WrongPassphrase as exc:
            raise ApiError("bad_passphrase", str(exc)) from None
        self._ready(seed)
        return True

    def _refuse_if_any(self) -> None:
        if self.state != "none":
            raise ApiError("identity_exists", "this node already has an identity")

    async def _write(self, seed: bytes, passphrase: str | None) -> None:
        data = await self._offload(protocol.encode_identity_file, seed, passphrase)
        self.home.write_private(self.home.identity, data)
        self._ready(seed)

    def _ready(self, seed: bytes) -> None:
        self.seed = seed
        self.state = "ready"
