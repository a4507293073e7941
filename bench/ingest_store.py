"""Store throughput: ingest_many of a burst of pre-signed posts, and read latency.

Prints posts per second for the store alone (``Store.ingest_many`` of objects
already decoded), for ``protocol.decode`` with signature verification of the
same wires, and for both together, each the best of a few rounds on a fresh
database; then the latency of the reads a front-end makes on the filled store.
The node's target is 2,000 posts/s verified and stored on one core, so the
store alone should manage 10,000/s.

    python bench/ingest_store.py [--posts 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import protocol
from p2pnet.store import Store

NOW = 1_763_700_000
SEED = bytes(range(32))
PSK = bytes(range(100, 132))
# A few hundred made-up words, so a search hits some posts rather than all.
WORDS = [
    a + b
    for a in ("ri", "lan", "qui", "or", "ma", "si", "em", "har", "vel", "sum", "co", "mea")
    for b in ("ver", "tern", "et", "bit", "ple", "gnal", "ber", "bor", "vet", "mit", "balt", "dow", "ra", "lo")
]


def make_wires(n: int) -> list[bytes]:
    """``n`` signed posts of about 100 characters, spread over the last 30 days."""
    wires = []
    for i in range(n):
        rng = random.Random(i)
        text = " ".join(rng.choices(WORDS, k=14)) + f" #{i}"
        wires.append(protocol.make_post(SEED, text, now=NOW - (i % 4320) * 600, nonce=i.to_bytes(16, "big")).wire)
    return wires


def best_rate(n: int, rounds: int, run: Callable[[Path], float]) -> float:
    """Best items/s over ``rounds`` runs, each given a fresh directory and returning its own elapsed time."""
    best = 0.0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            best = max(best, n / run(Path(tmp)))
    return best


def median_ms(fn: Callable[[], object], repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.posts

    print(f"signing {n:,} posts ...", file=sys.stderr)
    wires = make_wires(n)
    decoded = [protocol.decode(w, verify=False) for w in wires]

    def decode_only(_: Path) -> float:
        start = time.perf_counter()
        for w in wires:
            protocol.decode(w)
        return time.perf_counter() - start

    def store_only(tmp: Path) -> float:
        with Store.open(tmp / "bench.db") as store:
            sid = store.add_swarm("bench", PSK, 0, NOW).raw_id
            items = [(s, sid) for s in decoded]
            start = time.perf_counter()
            store.ingest_many(items, NOW)
            return time.perf_counter() - start

    def combined(tmp: Path) -> float:
        with Store.open(tmp / "bench.db") as store:
            sid = store.add_swarm("bench", PSK, 0, NOW).raw_id
            start = time.perf_counter()
            store.ingest_many([(protocol.decode(w), sid) for w in wires], NOW)
            return time.perf_counter() - start

    rows = [
        ("store only (ingest_many, one transaction)", best_rate(n, args.rounds, store_only)),
        ("decode + verify (protocol.decode)", best_rate(n, args.rounds, decode_only)),
        ("decode + verify + store", best_rate(n, args.rounds, combined)),
    ]
    print(f"\n{'ingest of ' + format(n, ',') + ' posts':<52} {'posts/s':>10}")
    print("-" * 63)
    for name, rate in rows:
        print(f"{name:<52} {rate:>10,.0f}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        with Store.open(path) as store:
            sid = store.add_swarm("bench", PSK, 0, NOW).raw_id
            store.ingest_many([(s, sid) for s in decoded], NOW)
            replies = [protocol.make_reply(bytes([k]) * 32, decoded[0], f"reply {k}", now=NOW) for k in range(20)]
            store.ingest_many([(r, sid) for r in replies], NOW)
        start = time.perf_counter()
        store = Store.open(path)
        timings = [("open the store (PRAGMA quick_check)", (time.perf_counter() - start) * 1000)]
        first = store.feed(now=NOW)
        popular = store.feed(popular=True, now=NOW)
        for _ in range(3):
            popular = store.feed(popular=True, now=NOW, before=popular.next)
        reads: list[tuple[str, Callable[[], object]]] = [
            ("feed Latest, page 1", lambda: store.feed(now=NOW)),
            ("feed Latest, page 2 (keyset cursor)", lambda: store.feed(now=NOW, before=first.next)),
            ("feed Latest, one swarm", lambda: store.feed(swarm=sid, now=NOW)),
            ("feed Popular, page 1", lambda: store.feed(popular=True, now=NOW)),
            ("feed Popular, page 5", lambda: store.feed(popular=True, now=NOW, before=popular.next)),
            ("thread with 20 replies", lambda: store.thread(decoded[0].id, now=NOW)),
            ("search one word", lambda: store.search("lanbit", now=NOW)),
            ("get by 8-char prefix", lambda: store.get(decoded[1].id.hex()[:8])),
        ]
        timings += [(name, median_ms(fn)) for name, fn in reads]
        victim = decoded[n // 2]
        key = protocol.own_key(SEED, victim)
        assert key is not None
        delete = protocol.sign(protocol.Delete(victim.obj.pubkey, victim.id, NOW), key)
        start = time.perf_counter()
        store.ingest(delete, sid, NOW)
        timings.append(("delete one post (erase, FTS optimize, checkpoint)", (time.perf_counter() - start) * 1000))
        store.close()
    print(f"\n{'on a store of ' + format(n, ',') + ' posts':<52} {'ms':>10}")
    print("-" * 63)
    for name, ms in timings:
        print(f"{name:<52} {ms:>10.2f}")


if __name__ == "__main__":
    main()
