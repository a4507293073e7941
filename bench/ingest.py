"""How fast a node verifies and stores a burst of posts from gossip, as a mesh delivers them.

A real ``p2pnet daemon`` (its own process) is in a swarm with K publishing
libp2p hosts in this process, each connected to it alone, and every host
sends every post: with K = 5 each post reaches the daemon 5 times, as in a
mesh of degree 5, and the daemon forwards each first copy to the other
hosts, as it would.  A host sends ``--run`` posts per RPC, as a gossiping
peer coalesces what it forwards in a burst (``--run 1``: one RPC, so one
frame, per post); it writes each RPC as it built it, keeps at most a few
queued, and yields to the scheduler between RPCs.  The hosts' own limits
are lifted so the daemon's forwards never get it banned.

The daemon's gossip rate limit is lifted (``P2PNET_GOSSIP_LIMIT``): this
measures the ingest path, not the limit.

Timed from the first post sent (it arrives within a millisecond, on
loopback) until the last is stored, as read from the daemon's SQLite file
by this process (polling costs the daemon nothing); CPU is the
daemon's own process time from /proc.  Printed beside it, measured in the
same run: the Ed25519 verify floor and the decode + verify + store floor in
this process, and the node's ratio to the verify floor (a loaded machine
moves both).

    python bench/ingest.py [--posts 3000] [--copies 1 5] [--run 16]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import nacl.signing
import trio
import trio.lowlevel
from harness.daemons import DaemonProcess, hostile_peer
from libp2p.peer.peerstore import env_to_send_in_RPC
from libp2p.pubsub.pb import rpc_pb2

import protocol
from p2pnet.net import GossipParams, Rate, SwarmHost
from p2pnet.store import Store

NOW = int(time.time())
BATCH = 512
# Objects are minted for a swarm of this many bits, so the node checks each stamp
# as it would any peer's; a low difficulty keeps making the burst quick.
DIFFICULTY = 8
DEADLINE = 600.0  # seconds for one burst to be stored before the run gives up
IDLE_SECONDS = 5.0  # the daemon's idle CPU is measured this long before a burst
QUEUED = 4  # RPCs a publishing host lets wait in its queue to the daemon


def make_wires(n: int) -> list[bytes]:
    seeds = [os.urandom(32) for _ in range(64)]
    texts = ["short", "a post of medium length, a sentence or two about the day " * 2, "long " * 150]
    posts = (
        protocol.make_post(seeds[i % 64], f"{texts[i % 3]} #{i}", now=NOW, bg=protocol.PALETTE[i % 12])
        for i in range(n)
    )
    return [p.with_stamp(protocol.mint_stamp(p.id, DIFFICULTY) or b"").wire for p in posts]


def verify_floor(n: int = 5000) -> float:
    """Bare Ed25519 verifications per CPU second in this process (PyNaCl, as the node uses)."""
    key = nacl.signing.SigningKey.generate()
    signed = key.sign(os.urandom(200))
    verify = key.verify_key.verify
    start = time.process_time()
    for _ in range(n):
        verify(signed)
    return n / (time.process_time() - start)


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
            store.ingest_many([(s, swarm) for s in signed[i : i + BATCH]], NOW, durable=False)  # as the node does
        store_cpu = time.process_time() - start
        store.close()
    finally:
        shutil.rmtree(tmp)
    n = len(wires)
    return n / verify_cpu, n / store_cpu, n / (verify_cpu + store_cpu)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stored_posts(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM posts").fetchone()[0])


@asynccontextmanager
async def publisher(invite: protocol.Invite, ip: str) -> AsyncIterator[SwarmHost]:
    """A host of the invite's swarm connected to its first bootstrap peer (the daemon) alone.

    It dials nobody else (``target_peers=0``), takes any number of the
    daemon's forwards (its first-delivery limit lifted) and writes each RPC
    it is given as one frame (no coalescing of its own).
    """
    params = GossipParams(target_peers=0, gossip_limit=Rate(1e9, 1e9))
    async with hostile_peer(invite, ip, params=params) as host:
        host._pubsub.coalesce_bytes = 0
        yield host


async def send_all(host: SwarmHost, wires: list[bytes], run: int) -> None:
    """Send every wire to the host's one peer, ``run`` to an RPC, a few RPCs queued at most."""
    pubsub = host._pubsub
    (peer,) = pubsub.peers
    queue = pubsub.peer_queues[peer]
    record, _ = env_to_send_in_RPC(pubsub.host)  # as stock puts in every RPC it publishes
    for i in range(0, len(wires), run):
        # A fresh random seqno each, as ours; the daemon's forwards are not checked against them.
        msgs = [rpc_pb2.Message(data=w, topicIDs=[pubsub.topic], seqno=os.urandom(8)) for w in wires[i : i + run]]
        queue.push(rpc_pb2.RPC(publish=msgs, senderRecord=record))
        await trio.lowlevel.checkpoint()
        while len(queue) > QUEUED:
            await trio.sleep(0.001)


async def node_burst(
    wires: list[bytes], home: Path, copies: int, run: int, ip_base: int
) -> tuple[float, float, float, float]:
    """Posts per wall second, per daemon CPU second, the same net of its idle CPU, per publishers' CPU second."""
    env = {"P2PNET_GOSSIP_LIMIT": "1000000/1000000", "P2PNET_LOG": "WARNING", "P2PNET_SYNC_INTERVAL": "0"}
    node = DaemonProcess(home, f"127.0.0.{ip_base}", env=env)
    home.mkdir(parents=True)
    node.cli("init")
    node.start()
    try:
        created = node.cli("swarm", "create", "bench", "--difficulty", str(DIFFICULTY))
        invite = protocol.decode_invite(created.stdout.strip().splitlines()[-1], now=int(time.time()))
        async with AsyncExitStack() as stack:
            hosts = [
                await stack.enter_async_context(publisher(invite, f"127.0.0.{ip_base + 1 + i}")) for i in range(copies)
            ]
            assert node.proc is not None
            db = home / "node.sqlite3"
            done = trio.Event()

            async def watch() -> None:
                with trio.fail_after(DEADLINE):
                    while True:
                        count = await trio.to_thread.run_sync(stored_posts, db)
                        if count >= len(wires):
                            done.set()
                            return
                        await trio.sleep(0.02)

            # What the daemon spends idle (heartbeats, maintenance), to take out of the burst's figure.
            idle0, t_idle = cpu_seconds(node.proc.pid), time.perf_counter()
            await trio.sleep(IDLE_SECONDS)
            idle_rate = (cpu_seconds(node.proc.pid) - idle0) / (time.perf_counter() - t_idle)
            cpu0, ours0, t0 = cpu_seconds(node.proc.pid), time.process_time(), time.perf_counter()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                for host in hosts:
                    nursery.start_soon(send_all, host, wires, run)
                await done.wait()
            end = time.perf_counter()
            wall, cpu = end - t0, cpu_seconds(node.proc.pid) - cpu0
            ours = time.process_time() - ours0
            busy = max(cpu - idle_rate * (end - t0), 1e-9)
        return len(wires) / wall, len(wires) / cpu, len(wires) / busy, len(wires) / ours
    finally:
        node.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 5], help="copies of each post the node gets")
    parser.add_argument("--run", type=int, default=16, help="posts per RPC each publishing host sends (default 16)")
    args = parser.parse_args()
    if args.posts < 1 or args.run < 1 or any(not 1 <= k <= 8 for k in args.copies):
        parser.error("--posts and --run must be at least 1 and each of --copies between 1 and 8")
    wires = make_wires(args.posts)
    tmp = Path(tempfile.mkdtemp(prefix="p2pnet-ingest-"))
    try:
        ed25519 = verify_floor()
        verify_rate, store_rate, floor_rate = floor(wires, os.urandom(32))
        runs = [
            (k, trio.run(node_burst, wires, tmp / f"node{k}", k, args.run, 30 + 10 * i))
            for i, k in enumerate(args.copies)
        ]
    finally:
        shutil.rmtree(tmp)
    print(f"burst of {args.posts} posts (sizes {sorted({len(w) for w in wires})} bytes), {args.run} per RPC\n")
    rows = [
        ("floor: Ed25519 verify only (this process, CPU)", ed25519, ""),
        ("floor: decode+verify only (this process, CPU)", verify_rate, ""),
        ("floor: store.ingest_many only (batches of 512, CPU)", store_rate, ""),
        ("floor: decode+verify + store (CPU)", floor_rate, ""),
    ]
    for k, (wall, cpu, busy, ours) in runs:
        copies = f"node, {k} cop{'y' if k == 1 else 'ies'} of each post"
        rows.append((f"{copies}: per wall second", wall, ""))
        rows.append((f"{copies}: per daemon CPU second", cpu, f"{cpu / ed25519:.3f}"))
        rows.append((f"{copies}: same, net of its idle CPU", busy, f"{busy / ed25519:.3f}"))
        rows.append((f"{copies}: per CPU second of the publishers here", ours, ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'path':<{width}}  {'posts/s':>9}  {'/ verify floor':>14}")
    print("-" * (width + 27))
    for name, rate, ratio in rows:
        print(f"{name:<{width}}  {rate:>9,.0f}  {ratio:>14}")
    print("\n(wall seconds are bounded by the daemon or by the publishers, whichever has less CPU per post)")
    print("targets: per daemon CPU second >= 0.20 of the verify floor with 1 copy, >= 0.08 with 5")


if __name__ == "__main__":
    main()
