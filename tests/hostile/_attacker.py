"""What the hostile tests share: valid stamped objects an attacker can make, and a raw host of its own."""

from __future__ import annotations

import os
import time

import protocol


def stamped_posts(count: int, difficulty: int, *, size: int = 10, now: int | None = None) -> list[protocol.Signed]:
    """``count`` valid posts, each with a fresh key and a stamp of ``difficulty`` bits: what an attacker pays for."""
    now = int(time.time()) if now is None else now
    out = []
    for i in range(count):
        signed = protocol.make_post(os.urandom(32), f"flood {i} " + "x" * size, now=now)
        stamp = protocol.mint_stamp(signed.id, difficulty)
        assert stamp is not None
        out.append(signed.with_stamp(stamp))
    return out
