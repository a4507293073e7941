"""How fast a node verifies and stores a burst of posts from gossip.

A real ``p2pnet daemon`` (its own process, 127.0.0.30) is in a swarm with a
raw libp2p host in this process (127.0.0.31) that publishes a burst of
pre-signed posts as fast as it can.  Printed beside it, measured in the same
run: the floor, which is ``protocol.decode`` (parse, stamp check, Ed25519 verify) plus
``Store.ingest_many`` in batches, with nothing else, in this process.

The node figure is posts per second of wall time and per second of the
daemon's own CPU time (read from /proc), since ingest runs on one core.

    python bench/ingest.py [--posts 5000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import trio
from harness.daemons import hostile_peer, start_node

import protocol
from p2pnet.store import Store

NOW = int(time.time())
BATCH = 512
# Objects are minted for a swarm of this many bits, so the node checks each stamp
# as it would any peer's; a low difficulty keeps making the burst quick.
DIFFICULTY = 8


def make_wires(n: int) -> list[bytes]:
    seeds = [os.urandom(32) for _ in range(64)]
    texts = ["short", "a post of medium length, a sentence or two about the day " * 2, "long " * 150]
    posts = (
        protocol.make_post(seeds[i % 64], f"{texts[i % 3]} #{i}", now=NOW, bg=protocol.PALETTE[i % 12])
        for i in range(n)
    )
    return [p.with_stamp(protocol.mint_stamp(p.id, DIFFICULTY) or b"").wire for p in posts]


def floor(wires: list[bytes], swarm_psk: bytes) -> tuple[float, float, float]:
    """(decode+verify posts/s, store posts/s, both posts/s) in this process, CPU time."""
    start = time.process_time()
    signed = [protocol.decode(w, difficulty=DIFFICULTY) for w in wires]
    verify_cpu = time.process_time() - start
    tmp = Path(tempfile.mkdtemp(prefix="p2pnet-floor-"))
    try:
        store = Store.open(tmp / "floor.sqlite3")
        swarm = store.add_swarm("bench", swarm_psk, 0, NOW, DIFFICULTY).raw_id
        start = time.process_time()
        for i in range(0, len(signed), BATCH):
            store.ingest_many([(s, swarm) for s in signed[i : i + BATCH]], NOW)
        store_cpu = time.process_time() - start
        store.close()
    finally:
        shutil.rmtree(tmp)
    n = len(wires)
    return n / verify_cpu, n / store_cpu, n / (verify_cpu + store_cpu)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def node_burst(wires: list[bytes], home: Path) -> tuple[float, float]:
    """(posts/s wall, posts per daemon CPU second) for a real daemon ingesting the burst."""
    node = start_node(home, "127.0.0.30")
    try:
        created = node.cli("swarm", "create", "bench", "--difficulty", str(DIFFICULTY))
        invite_text = created.stdout.strip().splitlines()[-1]
        invite = protocol.decode_invite(invite_text, now=int(time.time()))
        async with hostile_peer(invite, "127.0.0.31") as host:  # publishes without checking, as fast as it can
            assert node.proc is not None
            cpu0, t0 = cpu_seconds(node.proc.pid), time.perf_counter()
            for wire in wires:
                await host.publish(wire)
            with trio.fail_after(300):
                while (await trio.to_thread.run_sync(node.call, "status"))["counts"]["posts"] < len(wires):
                    await trio.sleep(0.05)
            wall, cpu = time.perf_counter() - t0, cpu_seconds(node.proc.pid) - cpu0
        return len(wires) / wall, len(wires) / cpu
    finally:
        node.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5000)
    args = parser.parse_args()
    wires = make_wires(args.posts)
    tmp = Path(tempfile.mkdtemp(prefix="p2pnet-ingest-"))
    try:
        verify_rate, store_rate, floor_rate = floor(wires, os.urandom(32))
        wall_rate, cpu_rate = trio.run(node_burst, wires, tmp / "node")
    finally:
        shutil.rmtree(tmp)
    print(f"burst of {args.posts} posts (sizes {sorted({len(w) for w in wires})} bytes)\n")
    rows = [
        ("floor: decode+verify only (this process, CPU)", verify_rate),
        ("floor: store.ingest_many only (batches of 512, CPU)", store_rate),
        ("floor: decode+verify + store (CPU)", floor_rate),
        ("node: gossip in -> validated -> stored (wall clock)", wall_rate),
        ("node: per second of the daemon's CPU time", cpu_rate),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'path':<{width}}  {'posts/s':>9}")
    print("-" * (width + 11))
    for name, rate in rows:
        print(f"{name:<{width}}  {rate:>9,.0f}")
    print(f"\nnode / floor (CPU): {cpu_rate / floor_rate:.0%}; target: node >= 2,000 posts/s on one core")


if __name__ == "__main__":
    main()
