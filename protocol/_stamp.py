"""Proof-of-work stamps: what an object costs its sender (docs/protocol.md, section 13).

Nothing in p2pnet costs an identity, so cost goes on objects: a version 2
object carries an 8-byte stamp such that SHA-256("p2pnet/v2/stamp" || id ||
stamp) starts with at least the swarm's difficulty in zero bits.  Minting
takes about 2^difficulty hashes; checking takes one, before the signature.
"""

from __future__ import annotations

import hashlib
from typing import Final

from ._errors import UsageError

__all__ = ["DEFAULT_DIFFICULTY", "MAX_DIFFICULTY", "STAMP_INFO", "mint_stamp", "stamp_bits"]

STAMP_INFO: Final = b"p2pnet/v2/stamp"
DEFAULT_DIFFICULTY: Final = 18  # about 0.2 s of one core for 2^18 SHA-256s in Python (bench/protocol.py)
MAX_DIFFICULTY: Final = 32
_NONCE_SIZE: Final = 8


def stamp_bits(object_id: bytes, stamp: bytes) -> int:
    """How many leading zero bits the stamp's work hash has (0 to 256)."""
    work = int.from_bytes(hashlib.sha256(STAMP_INFO + object_id + stamp).digest(), "big")
    return 256 - work.bit_length()


def mint_stamp(object_id: bytes, difficulty: int, *, start: int = 0, attempts: int | None = None) -> bytes | None:
    """The first stamp from nonce ``start`` on that meets ``difficulty``; None if ``attempts`` ran out first.

    Stamps are tried in order from 0, so one object always gets the same
    stamp for one difficulty, whoever mints it.  ``start`` and ``attempts``
    let a caller mint in slices it can interrupt and report progress on.

    Raises:
        UsageError: the difficulty is outside 0 to :data:`MAX_DIFFICULTY`.
    """
    if not 0 <= difficulty <= MAX_DIFFICULTY:
        raise UsageError(f"a stamp difficulty is 0 to {MAX_DIFFICULTY} bits")
    base = hashlib.sha256(STAMP_INFO + object_id)
    shift = 256 - difficulty
    end = 1 << (8 * _NONCE_SIZE) if attempts is None else min(start + attempts, 1 << (8 * _NONCE_SIZE))
    for nonce in range(start, end):
        stamp = nonce.to_bytes(_NONCE_SIZE, "big")
        work = base.copy()
        work.update(stamp)
        if int.from_bytes(work.digest(), "big") >> shift == 0:
            return stamp
    return None
