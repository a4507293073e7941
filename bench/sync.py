"""Catch-up sync: a node that missed the last 10,000 posts of a 50,000-post swarm.

Builds two node homes directly with ``Store`` (no network): *full* holds all
posts, *behind* holds the oldest 40,000, as if it had been offline while the
last 10,000 were made. Then it starts both as real ``p2pnet daemon``
processes on 127.0.7.1 and 127.0.7.2 (periodic sync off, so the one session
started on connect does the work), and measures from the moment they are
connected until *behind* holds every post. Prints the time, the sessions it
took (an answer carries at most 1 MiB, so a big gap takes several), the
round trips and bytes of the last one, and the wire size of the missing
objects, next to the targets. First, a table of the reconciliation alone (in memory,
no signing, 256-byte objects) for a few shapes of difference.

    python bench/sync.py [--posts 50000] [--missing 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import protocol
from p2pnet.api import ControlClient, NodeNotRunning
from p2pnet.net import peer_id_from_seed
from p2pnet.store import Store
from tests._vectors import sync_transcript

IPS = ("127.0.7.1", "127.0.7.2")
PORTS = (47101, 47102)
PSK = bytes(range(100, 132))
DIFFICULTY = 8  # posts are minted for it, so sync offers and checks them as in any swarm; low, to build fast
WORDS = ["ri", "lan", "qui", "or", "ma", "si", "em", "har", "vel", "sum", "co", "mea", "tern", "bit", "gnal"]


def make_wires(n: int, now: int) -> list[protocol.Signed]:
    """``n`` posts of about 100 characters, one every 50 s up to ``now``, oldest first."""
    seed = bytes(range(32))
    out = []
    for i in range(n):
        text = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] + WORDS[(i + k) % len(WORDS)] for k in range(16))
        post = protocol.make_post(seed, f"{text} #{i}", now=now - (n - i) * 50, nonce=i.to_bytes(16, "big"))
        out.append(post.with_stamp(protocol.mint_stamp(post.id, DIFFICULTY) or b""))
    return out


def build_home(root: Path, posts: list[protocol.Signed], port: int, peer: tuple[str, str] | None, now: int) -> None:
    root.mkdir(parents=True)
    (root / "identity.json").write_bytes(protocol.encode_identity_file(os.urandom(32)))
    os.chmod(root / "identity.json", 0o600)
    with Store.open(root / "node.sqlite3") as store:
        swarm = store.add_swarm("bench", PSK, port, now, DIFFICULTY).raw_id
        for start in range(0, len(posts), 5000):
            store.ingest_many([(p, swarm) for p in posts[start : start + 5000]], now)
        if peer:
            store.save_peer(swarm, peer[0], [peer[1]], now)


def seed_of(root: Path) -> bytes:
    return protocol.decode_identity_file((root / "identity.json").read_bytes())


def status(root: Path) -> dict[str, Any] | None:
    try:
        with ControlClient(root / "control.sock", timeout=10) as client:
            return client.call("status")  # type: ignore[no-any-return]
    except (NodeNotRunning, OSError):
        return None


def wait(pred: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def protocol_table(n: int, missing: int) -> None:
    """Round trips and bytes of the state machine alone, for a few shapes of difference."""
    items = [(1_700_000_000 + i // 12 * 600, hashlib.sha256(i.to_bytes(4, "big")).digest()) for i in range(n)]
    rng = random.Random(7)
    lose_a = set(rng.sample(range(n), missing // 2))
    lose_b = set(rng.sample(range(n), missing // 2))
    shapes = [
        ("newest missing on one side", items, items[:-missing]),
        (
            "scattered, both sides miss some",
            [x for i, x in enumerate(items) if i not in lose_a],
            [x for i, x in enumerate(items) if i not in lose_b],
        ),
        ("equal sets", items, items),
    ]
    object_frame = len(protocol.SyncSession([]).objects_frames([bytes(256)] * 1000)[0]) / 1000
    print(f"reconciliation alone ({n:,} items, 256-byte objects):")
    print(f"{'difference':<32} {'starts':>7} {'RTs':>4} {'objects':>8} {'bytes':>11} {'x objects':>9} {'cpu s':>6}")
    for name, a, b in shapes:
        for first, (x, y) in (("full", (a, b)), ("behind", (b, a))):
            t0 = time.process_time()
            turns, sides = sync_transcript(sorted(x), sorted(y))
            cpu = time.process_time() - t0
            moved = sum(len(t["push"]) for t in turns)
            total = sides["a"].bytes_out + sides["b"].bytes_out + int(moved * object_frame)
            ratio = f"{total / (moved * 256):.3f}" if moved else "-"
            print(f"{name:<32} {first:>7} {sides['a'].round_trips:>4} {moved:>8,} {total:>11,} {ratio:>9} {cpu:>6.2f}")
            if x is y:
                break
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=50_000)
    ap.add_argument("--missing", type=int, default=10_000)
    args = ap.parse_args()
    protocol_table(args.posts, args.missing)
    now = int(time.time())
    tmp = Path(tempfile.mkdtemp(prefix="p2pnet-bench-sync-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        t0 = time.perf_counter()
        posts = make_wires(args.posts, now)
        print(f"signed {len(posts):,} posts in {time.perf_counter() - t0:.1f} s", flush=True)
        missing = posts[-args.missing :]
        missing_bytes = sum(len(p.wire) for p in missing)
        full, behind = tmp / "full", tmp / "behind"
        t0 = time.perf_counter()
        build_home(full, posts, PORTS[0], None, now)
        full_id = peer_id_from_seed(protocol.swarm_host_seed(seed_of(full), PSK))
        addr = f"/ip4/{IPS[0]}/tcp/{PORTS[0]}/p2p/{full_id}"
        build_home(behind, posts[: -args.missing], PORTS[1], (full_id, addr), now)
        print(f"built both stores in {time.perf_counter() - t0:.1f} s", flush=True)

        env = {**os.environ, "P2PNET_SYNC_INTERVAL": "0", "P2PNET_LOG": "WARNING"}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
        for root, ip in ((full, IPS[0]), (behind, IPS[1])):
            log = open(root / "daemon.log", "ab")  # noqa: SIM115 - closed below, the process keeps its copy
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "p2pnet", "--home", str(root), "daemon", "--listen-ip", ip],
                    stdout=log,
                    stderr=log,
                    env=env,
                )
            )
            log.close()
            if root is full:
                wait(lambda: status(full), 60, "the full node")
        # 'behind' dials 'full' as soon as it is up; the clock starts at the connection.
        wait(lambda: (s := status(behind)) and s["swarms"] and s["swarms"][0]["peers"] >= 1, 60, "the connection", 0.01)
        start = time.perf_counter()
        expected = args.posts

        def caught_up() -> bool:
            s = status(behind)
            return bool(s and s["counts"]["objects"] >= expected)

        wait(caught_up, 300, "the catch-up", 0.05)
        elapsed = time.perf_counter() - start

        def initiator_session() -> dict[str, Any] | None:
            for s in (status(full), status(behind)):
                last = s and s["swarms"][0]["sync"]["last"]
                if last and last["initiator"]:
                    return last  # type: ignore[no-any-return]
            return None

        last = wait(initiator_session, 60, "the session's figures")
        initiator = "behind" if last["peer"] == full_id else "full"
        starter = status(behind if initiator == "behind" else full)
        sessions = starter["swarms"][0]["sync"]["sessions_ok"] if starter else 0
        rows = [
            ("posts in the swarm", f"{args.posts:,}", ""),
            ("missing on the restarted node", f"{args.missing:,}", ""),
            ("wire size of the missing objects", f"{missing_bytes:,} B", ""),
            ("sessions started by", initiator, ""),
            ("time to catch up (connected -> stored)", f"{elapsed:.2f} s", "<= 10 s"),
            ("sessions (at most 1 MiB each way)", str(sessions), ""),
            ("round trips in the last session", str(last["round_trips"]), "<= 4"),
            ("last session: bytes, initiator -> responder", f"{last['bytes_out']:,} B", ""),
            ("last session: bytes, responder -> initiator", f"{last['bytes_in']:,} B", ""),
            ("last session time (first frame -> last)", f"{last['seconds']:.2f} s", ""),
        ]
        width = max(len(r[0]) for r in rows)
        print()
        print(f"{'measure':<{width}}  {'value':>18}  target")
        print("-" * (width + 30))
        for name, value, target in rows:
            print(f"{name:<{width}}  {value:>18}  {target}")
        print("\nbytes are sync frame payloads (no libp2p, Noise or pnet framing).")
        ok = elapsed <= 10 and last["round_trips"] <= 4
        print("all targets met" if ok else "TARGET MISSED")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
