"""Private messages: what trying every message with every live key costs (docs/protocol.md, section 14.5).

Prints, in one run:

* the floor: libsodium's ``crypto_box_seal_open`` alone, with a key that does
  not open the box (what almost every try is), and a bare X25519;
* trial decryption through :func:`protocol.open_message` against that floor
  (target: at least 50 %), for a message not for this node (what almost every
  message is); one for it costs an inner signature check more;
* the cost per incoming message as this node's live keys grow: 1, 100, 1,000,
  10,000 (the node caps them at 2 x 2,048: p2pnet/node/_mailbox.py);
* what deriving one live key costs (HKDF, Ed25519, the X25519 conversion),
  paid once per key and cached.

    python bench/dm.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nacl import bindings
from nacl.exceptions import CryptoError

import protocol

NOW = 1_763_700_123
KEY_COUNTS = (1, 100, 1_000, 10_000)


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls of ``fn`` per second, over about ``seconds``."""
    n, spent = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        spent = time.perf_counter() - start
        if spent > seconds:
            return n / spent
        n = max(n * 2, int(n * seconds / max(spent, 1e-6) * 1.1))


def _raw_opens(sealed: bytes, keys: list[protocol.LiveKey]) -> None:
    """The floor over many keys: libsodium's open per key, nothing else."""
    for key in keys:
        with contextlib.suppress(CryptoError):
            bindings.crypto_box_seal_open(sealed, key.public, key.secret)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()

    author = protocol.new_seed()
    post = protocol.make_post(author, "write to me", now=NOW)
    writer = protocol.conversation_key(protocol.new_seed(), post.obj.pubkey)
    message = protocol.seal_message(writer, post.obj.pubkey, post.id, "hello, author", now=NOW).obj
    assert isinstance(message, protocol.Message)
    strangers = [protocol.live_key(protocol.conversation_key(author, os.urandom(32))) for _ in range(max(KEY_COUNTS))]

    # The floor: one failing sealed-box open, and the X25519 inside it.
    key = strangers[0]

    def seal_open() -> None:
        with contextlib.suppress(CryptoError):
            bindings.crypto_box_seal_open(message.sealed, key.public, key.secret)

    floor = _rate(seal_open, args.seconds)
    x25519 = _rate(lambda: bindings.crypto_scalarmult(key.secret, message.sealed[:32]), args.seconds)
    derive = _rate(lambda: protocol.live_key(protocol.conversation_key(author, os.urandom(32))), args.seconds)

    print(f"{'floor':<40}{'per second':>14}{'us each':>10}")
    print("-" * 64)
    print(f"{'crypto_box_seal_open (wrong key)':<40}{floor:>14,.0f}{1e6 / floor:>10.1f}")
    print(f"{'X25519 alone (crypto_scalarmult)':<40}{x25519:>14,.0f}{1e6 / x25519:>10.1f}")
    print(f"{'deriving one live key (once per key)':<40}{derive:>14,.0f}{1e6 / derive:>10.1f}")

    print(f"\n{'live keys':>10}{'ms, not ours':>14}{'tries/s':>11}{'vs floor':>10}{'ms, ours':>10}{'messages/s':>12}")
    print("-" * 67)
    worst = 1.0
    mine = protocol.own_key(author, post)
    assert mine is not None
    for count in KEY_COUNTS:
        others = strangers[:count]
        # Ours: the recipient's key sits last; every key is tried whoever the message is for.
        ours = [*strangers[: count - 1], protocol.live_key(mine)]
        assert protocol.open_message(message, others) is None and protocol.open_message(message, ours) is not None
        # The floor again, over the same keys, just before: the machine's load moves between rows.
        row_floor = count * _rate(lambda keys=others: _raw_opens(message.sealed, keys), args.seconds)
        not_ours = _rate(lambda keys=others: protocol.open_message(message, keys), args.seconds)
        is_ours = _rate(lambda keys=ours: protocol.open_message(message, keys), args.seconds)
        tries = not_ours * count
        worst = min(worst, tries / row_floor)
        print(
            f"{count:>10,}{1e3 / not_ours:>14.3f}{tries:>11,.0f}{tries / row_floor:>10.0%}"
            f"{1e3 / is_ours:>10.3f}{not_ours:>12,.1f}"
        )
    print(f"\nworst trial decryption (a message not ours) / floor: {worst:.0%} (target >= 50%)")
    cap = 2 * 2048
    print(f"at the node's cap ({cap:,} live keys) a message costs about {1e3 * cap / floor:.0f} ms of one core")


if __name__ == "__main__":
    main()
