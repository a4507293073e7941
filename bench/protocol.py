"""Protocol core throughput: encode, sign, decode+verify per object kind; what minting a stamp costs.

Prints one row per kind with operations per second and, beside decode+verify,
the floor: PyNaCl's Ed25519 verify alone over the same bytes.  The target is
decode+verify at no less than 70 % of that floor.  Then the time to mint a
proof-of-work stamp at a few difficulties over many objects (target for the
default: about 0.2 to 0.5 s), and what checking one costs.

    python bench/protocol.py [--seconds 0.5] [--stamps 40]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nacl.signing import SigningKey, VerifyKey

import protocol
from protocol import _keys

NOW = 1_763_700_123
SEED = bytes(range(32))


def _calibrate(fn: Callable[[], object], seconds: float) -> int:
    n = 1
    while n < 1 << 22:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start > seconds / 10:
            break
        n *= 2
    return n


def rates(fns: dict[str, Callable[[], object]], seconds: float, rounds: int = 5) -> dict[str, float]:
    """Best calls-per-second of each function, measured in interleaved rounds.

    Interleaving means a burst of load from elsewhere on the machine hurts
    every column alike instead of one, which keeps the ratios honest.
    """
    counts = {name: _calibrate(fn, seconds) for name, fn in fns.items()}
    best = dict.fromkeys(fns, 0.0)
    for _ in range(rounds):
        for name, fn in fns.items():
            n = counts[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            best[name] = max(best[name], n / (time.perf_counter() - start))
    return best


def samples() -> dict[str, tuple[protocol.Signed, SigningKey]]:
    root = protocol.make_post(
        SEED,
        "a thought of a hundred characters or so, which is what most posts are. " * 1,
        now=NOW,
        bg="teal",
        nonce=bytes(16),
    )
    long = protocol.make_post(SEED, "long " * 200, now=NOW, nonce=bytes(16))
    reply = protocol.make_reply(SEED, root, "a short reply", now=NOW)
    heart = protocol.make_heart(SEED, root.id, now=NOW)
    flag = protocol.make_flag(SEED, root.id, now=NOW)
    delete = protocol.make_delete(SEED, root, now=NOW)
    post_key = _keys.post_key(SEED, bytes(16))
    return {
        "post (100 ch)": (root, post_key),
        "post (1000 ch)": (long, post_key),
        "reply": (reply, protocol.thread_key(SEED, root)),
        "heart": (heart, _keys.heart_key(SEED, root.id)),
        "flag": (flag, _keys.flag_key(SEED, root.id)),
        "delete": (delete, post_key),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="rough time per measurement round")
    parser.add_argument("--stamps", type=int, default=40, help="objects to mint a stamp for, per difficulty")
    args = parser.parse_args()
    header = (
        f"{'object':<16}{'bytes':>6}{'encode/s':>12}{'sign/s':>10}"
        f"{'decode+verify/s':>17}{'floor verify/s':>16}{'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    worst = 1.0
    for name, (s, key) in samples().items():
        obj, signed, sig, wire = s.obj, s.signed_bytes, s.signature, s.wire
        vk = bytes(key.verify_key)
        r = rates(
            {
                "encode": lambda obj=obj: protocol.encode_signed(obj),
                "sign": lambda obj=obj, key=key: protocol.sign(obj, key),
                "decode": lambda wire=wire: protocol.decode(wire),
                "floor": lambda vk=vk, signed=signed, sig=sig: VerifyKey(vk).verify(signed, sig),
            },
            args.seconds,
        )
        enc, sgn, dec, floor = r["encode"], r["sign"], r["decode"], r["floor"]
        worst = min(worst, dec / floor)
        print(f"{name:<16}{len(wire):>6}{enc:>12,.0f}{sgn:>10,.0f}{dec:>17,.0f}{floor:>16,.0f}{dec / floor:>7.0%}")
    print(f"\nworst decode+verify / floor: {worst:.0%} (target >= 70%)")
    stamps(args.stamps)


def stamps(count: int) -> None:
    """Mint ``count`` stamps per difficulty on distinct objects: minting time is geometric, so spread matters."""
    print(f"\n{'difficulty':<12}{'median s':>10}{'p90 s':>9}{'max s':>9}   ({count} objects each)")
    for difficulty in (16, protocol.DEFAULT_DIFFICULTY, 20):
        times = []
        for i in range(count):
            oid = hashlib.sha256(b"bench %d" % i).digest()
            start = time.perf_counter()
            protocol.mint_stamp(oid, difficulty)
            times.append(time.perf_counter() - start)
        times.sort()
        mark = "  <- default" if difficulty == protocol.DEFAULT_DIFFICULTY else ""
        p90 = times[int(0.9 * (count - 1))]
        print(f"{difficulty:<12}{statistics.median(times):>10.3f}{p90:>9.3f}{times[-1]:>9.3f}{mark}")
    heart = protocol.make_heart(SEED, bytes(32), now=NOW)
    stamp = protocol.mint_stamp(heart.id, 12) or b""
    check = rates({"check": lambda: protocol.stamp_bits(heart.id, stamp)}, 0.2)["check"]
    print(f"checking a stamp: {1e6 / check:.2f} us (one SHA-256, before the signature)")


if __name__ == "__main__":
    main()
