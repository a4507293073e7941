"""Each attack of issue #16 against real daemons, with honest traffic going on: one table.

Starts ``--nodes`` real ``p2pnet daemon`` processes, each on its own
127.0.21.N, in one swarm (stamp difficulty ``--difficulty``: low, so the
attacker mints for nearly nothing and only the rate limits and bans stand in
its way).  A thread posts to the daemons in turn every ``--interval`` seconds
and watches each daemon's SQLite file for the ids, so an honest post's
delivery time is from the moment the author acknowledged it until another
daemon stored it (every author-receiver pair counts).  First a phase without
an attacker, then one per attack, each with an attacker of a fresh key at a
fresh address (127.0.21.6x) in a process of its own (its CPU must not slow
the watching), which makes what it sends before the phase and then runs for
``--seconds``:

* ``valid flood``: validly signed and stamped posts, each with a new key,
  published as fast as gossip takes them, to every daemon;
* ``pinning``: 200 posts dated the next 10-minute step (the future-skew
  allowance), as often as the limits allow;
* ``sync amplification``: four identities loop an empty sync request ("I have
  nothing") at every daemon;
* ``garbage``: gossip that is no object, and objects with broken signatures;
* ``connection flood``: a fresh key per connection, all from one address,
  three times the per-address cap per wave, at every daemon;
* ``stem garbage``: stem frames of the right size holding no object.

Per phase: honest delivery p50/p99 (and p99 over the no-attack p99, target at
most 2x), the attacker's objects stored on each daemon, each daemon's peak
RSS during the phase (VmHWM, reset at its start through ``clear_refs``), and
on how many daemons the attacker ended banned; then a note (page 1 of Latest
for pinning, what sync served the attacker, connections let in).

    python bench/hostile.py [--quick] [--nodes 4] [--seconds 30] [--difficulty 8] [--attacks "valid flood,pinning"]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import trio  # noqa: E402
import trio.lowlevel  # noqa: E402
from harness.daemons import DaemonProcess, start_node  # noqa: E402

import protocol  # noqa: E402
from p2pnet.net import (  # noqa: E402
    STEM_PROTOCOL,
    SYNC_PROTOCOL,
    GossipParams,
    StreamError,
    SwarmConnectError,
    SwarmHost,
    open_swarm_host,
)


def node_ip(i: int) -> str:
    return f"127.0.21.{1 + i}"


@dataclass
class Attacker:
    """What one attack sent, to find it on the daemons afterwards."""

    ip: str
    peer_ids: set[str] = field(default_factory=set)
    ids: set[bytes] = field(default_factory=set)
    note: str = ""


class Honest(threading.Thread):
    """Posts to the daemons in turn and records when each other daemon stored each post."""

    def __init__(self, nodes: list[DaemonProcess], interval: float) -> None:
        super().__init__(daemon=True)
        self.nodes, self.interval = nodes, interval
        self.stop = threading.Event()
        self.posted: dict[bytes, tuple[int, float]] = {}  # id -> (author, acknowledged at)
        self.arrived: dict[tuple[bytes, int], float] = {}
        self.lock = threading.Lock()

    def run(self) -> None:
        watchers = [threading.Thread(target=self.watch, args=(i,), daemon=True) for i in range(len(self.nodes))]
        for w in watchers:
            w.start()
        k = 0
        while not self.stop.wait(self.interval):
            author = k % len(self.nodes)
            k += 1
            with suppress(Exception):  # a busy node's refusal is a missing sample, not the end of the run
                oid = bytes.fromhex(self.nodes[author].call("post", text=f"honest {k}")["id"])
                with self.lock:
                    self.posted[oid] = (author, time.monotonic())

    def watch(self, i: int) -> None:
        db = sqlite3.connect(f"file:{self.nodes[i].home / 'node.sqlite3'}?mode=ro", uri=True, timeout=30)
        while True:
            with self.lock:
                waiting = [oid for oid, (a, _) in self.posted.items() if a != i and (oid, i) not in self.arrived]
            for start in range(0, len(waiting), 500):
                chunk = waiting[start : start + 500]
                with suppress(sqlite3.Error):
                    q = f"SELECT id FROM objects WHERE id IN ({','.join('?' * len(chunk))})"
                    now = time.monotonic()
                    for (oid,) in db.execute(q, chunk).fetchall():
                        with self.lock:
                            self.arrived[(bytes(oid), i)] = now
            time.sleep(0.02)

    def window(self, since: float, until: float) -> tuple[list[float], int]:
        """Delivery times of posts acknowledged in [since, until), and how many pairs never arrived."""
        with self.lock:
            times, missing = [], 0
            for oid, (author, at) in self.posted.items():
                if since <= at < until:
                    for i in range(len(self.nodes)):
                        if i != author:
                            got = self.arrived.get((oid, i))
                            if got is None:
                                missing += 1
                            else:
                                times.append(got - at)
        return times, missing


def stored_of(node: DaemonProcess, ids: set[bytes]) -> int:
    if not ids:
        return 0
    with sqlite3.connect(f"file:{node.home / 'node.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
        db.execute("CREATE TEMP TABLE mine(id BLOB PRIMARY KEY)")
        db.executemany("INSERT OR IGNORE INTO mine VALUES (?)", [(i,) for i in ids])
        return int(db.execute("SELECT count(*) FROM objects JOIN mine USING (id)").fetchone()[0])


def peak_rss_mb(node: DaemonProcess, reset: bool = False) -> float:
    assert node.proc is not None
    if reset:
        Path(f"/proc/{node.proc.pid}/clear_refs").write_text("5")
    for line in Path(f"/proc/{node.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def banned_on(nodes: list[DaemonProcess], attacker: Attacker) -> int:
    count = 0
    for node in nodes:
        bans = node.call("peers")["bans"]
        count += any(b["peer_id"] in attacker.peer_ids or b["ip"] == attacker.ip for b in bans)
    return count


# -- the attacks ---------------------------------------------------------------------


class Swarm:
    def __init__(self, invite: protocol.Invite, addrs: list[str], difficulty: int, stack: AsyncExitStack) -> None:
        self.invite, self.addrs, self.difficulty, self.stack = invite, addrs, difficulty, stack
        self.peer_ids = [a.rsplit("/p2p/", 1)[-1] for a in addrs]
        self.flood: list[protocol.Signed] = []

    async def host(self, attacker: Attacker, *, dial: bool = True) -> SwarmHost:
        host = await self.stack.enter_async_context(
            open_swarm_host(
                host_key_seed=os.urandom(32),
                psk=self.invite.psk,
                topic="p2pnet/v1/" + protocol.swarm_id(self.invite.psk).hex(),
                validator=lambda data: True,  # forwards anything
                listen_ip=attacker.ip,
                params=GossipParams(connect_timeout=5.0, target_peers=0),
            )
        )
        attacker.peer_ids.add(host.peer_id)
        if dial:
            for addr in self.addrs:
                with suppress(SwarmConnectError):
                    await host.connect(addr)
            with trio.move_on_after(10):
                while not host.mesh_peers():
                    await trio.sleep(0.1)
        return host

    def stamped(self, signed: protocol.Signed) -> protocol.Signed:
        return signed.with_stamp(protocol.mint_stamp(signed.id, self.difficulty) or b"")


async def publish_for(host: SwarmHost, wires: Callable[[], bytes], until: float) -> int:
    sent = 0
    while trio.current_time() < until:
        try:
            wire = wires()
        except StopIteration:  # nothing more made: wait out the phase
            break
        with suppress(Exception):  # refused locally, or the connection dropped (a ban): go on
            await host.publish(wire)
            sent += 1
        if sent % 50 == 0:
            await trio.lowlevel.checkpoint()
    return sent


def make_flood(count: int, difficulty: int) -> list[protocol.Signed]:
    """Valid posts, each with a new key and a stamp: made before the phase, so the attacker's minting
    does not take the machine's CPU from the daemons while they are measured."""
    now = int(time.time())
    out = []
    for i in range(count):
        signed = protocol.make_post(os.urandom(32), f"buy now {i}", now=now)
        out.append(signed.with_stamp(protocol.mint_stamp(signed.id, difficulty) or b""))
    return out


async def valid_flood(swarm: Swarm, attacker: Attacker, until: float) -> None:
    host = await swarm.host(attacker)
    flood = iter(swarm.flood)

    def wire() -> bytes:
        signed = next(flood)
        attacker.ids.add(signed.id)
        return signed.wire

    limit = GossipParams().gossip_limit
    sent = await publish_for(host, wire, until)
    attacker.note = f"{sent} published; a daemon takes {limit.burst:.0f}, then {limit.rate:.0f}/s first from one peer"


async def pinning(swarm: Swarm, attacker: Attacker, until: float) -> None:
    host = await swarm.host(attacker)
    later = int(time.time()) + protocol.TIME_QUANTUM  # the next 10-minute step
    pins = [swarm.stamped(protocol.make_post(os.urandom(32), f"pinned {i}", now=later)) for i in range(200)]
    attacker.ids.update(p.id for p in pins)
    while trio.current_time() < until:
        for p in pins:
            with suppress(Exception):
                await host.publish(p.wire)
        await trio.sleep(1)


async def sync_amplification(swarm: Swarm, attacker: Attacker, until: float) -> None:
    pulled = {"objects": 0, "bytes": 0, "sessions": 0, "busy": 0}

    async def loop(host: SwarmHost) -> None:
        while trio.current_time() < until:
            for peer in host.connected_peers():
                with suppress(StreamError, protocol.ProtocolError, trio.TooSlowError):
                    with trio.fail_after(30):
                        async with host.open_stream(peer, SYNC_PROTOCOL) as stream:
                            session = protocol.SyncSession([])  # "I have nothing"
                            for frame in session.start().frames:
                                await stream.send(frame)
                            pulled["sessions"] += 1
                            while not session.finished:
                                frame = await stream.receive(session.limits.max_frame)
                                pulled["bytes"] += len(frame)
                                got = session.receive(frame)
                                pulled["objects"] += len(got.objects)
                                pulled["busy"] += bool(got.retry_after)
                                if got.reply is not None:
                                    for reply in got.reply.frames:
                                        await stream.send(reply)
            await trio.sleep(0.05)

    hosts = [await swarm.host(attacker) for _ in range(4)]
    async with trio.open_nursery() as nursery:
        for host in hosts:
            nursery.start_soon(loop, host)
    attacker.note = (
        f"{pulled['sessions']} sessions, {pulled['busy']} BUSY, {pulled['objects']} objects "
        f"/ {pulled['bytes'] / 1e6:.2f} MB served to it"
    )


async def garbage(swarm: Swarm, attacker: Attacker, until: float) -> None:
    host = await swarm.host(attacker)
    good = swarm.stamped(protocol.make_post(os.urandom(32), "x", now=int(time.time())))
    sig = len(good.signed_bytes)
    k = 0

    def wire() -> bytes:
        nonlocal k
        k += 1
        if k % 2:
            return os.urandom(300)
        forged = bytearray(good.wire)  # a broken signature, a new one each time (a new gossip id)
        forged[sig + k % 64] ^= 1 + (k // 64) % 255
        return bytes(forged)

    attacker.note = f"{await publish_for(host, wire, until)} published"


async def connection_flood(swarm: Swarm, attacker: Attacker, until: float) -> None:
    cap = GossipParams().max_inbound_per_ip
    hosts: list[SwarmHost] = []

    async def dial(host: SwarmHost, addr: str) -> None:
        with suppress(SwarmConnectError):
            await host.connect(addr)

    while trio.current_time() < until and len(hosts) < 6 * cap:  # two waves of three times the cap
        wave = [await swarm.host(attacker, dial=False) for _ in range(3 * cap)]
        hosts += wave
        async with trio.open_nursery() as nursery:
            for host in wave:
                for addr in swarm.addrs:
                    nursery.start_soon(dial, host, addr)
        kept = max(sum(pid in h.connected_peers() for h in hosts) for pid in swarm.peer_ids)
        attacker.note = f"{len(hosts)} keys from one address; at most {kept} kept by a daemon (cap {cap})"
    await trio.sleep_until(until)


async def stem_garbage(swarm: Swarm, attacker: Attacker, until: float) -> None:
    host = await swarm.host(attacker)
    frames = 0
    while trio.current_time() < until:
        for peer in host.connected_peers():
            with suppress(StreamError, Exception):
                async with host.open_stream(peer, STEM_PROTOCOL) as stream:
                    await stream.send(b"\x01" + os.urandom(256))
                    frames += 1
        await trio.sleep(0.1)
    attacker.note = f"{frames} frames sent"


ATTACKS: dict[str, Callable[[Swarm, Attacker, float], Awaitable[None]]] = {
    "valid flood": valid_flood,
    "pinning": pinning,
    "sync amplification": sync_amplification,
    "garbage": garbage,
    "connection flood": connection_flood,
    "stem garbage": stem_garbage,
}


# -- the run -------------------------------------------------------------------------


def pinned(nodes: list[DaemonProcess], attacker: Attacker, honest: Honest, ended: float) -> str:
    """Page 1 of Latest on each daemon: the attacker's posts on it, and those above an honest post written later."""
    later = {oid for oid, (_, at) in honest.posted.items() if at >= ended}
    on_page = above = 0
    for node in nodes:
        page = [bytes.fromhex(p["id"]) for p in node.call("feed", limit=50)["posts"]]
        last_later = max((k for k, oid in enumerate(page) if oid in later), default=-1)
        on_page = max(on_page, sum(oid in attacker.ids for oid in page))
        above = max(above, sum(oid in attacker.ids for oid in page[:last_later]))
    return f"page 1 of Latest: at most {on_page}/50 theirs, {above} above an honest post written after the attack"


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def amain(args: argparse.Namespace, base: Path) -> None:
    nodes = [start_node(base / f"n{i}", node_ip(i)) for i in range(args.nodes)]
    try:
        await run(args, nodes)
    finally:
        exits = [(i, n.proc.poll()) for i, n in enumerate(nodes) if n.proc is not None and n.proc.poll() is not None]
        for n in nodes:
            n.stop()
        print("daemons that exited by themselves during the run:", exits or "none")


async def run(args: argparse.Namespace, nodes: list[DaemonProcess]) -> None:
    first, others = nodes[0], nodes[1:]
    invite_text = first.call("swarm.create", name="bench", difficulty=args.difficulty)["invite"]
    for node in others:
        node.call("swarm.join", invite=invite_text)
    addrs = [a for n in nodes for a in n.call("swarm.list")["swarms"][0]["addrs"][:1]]
    while any(len(n.call("peers")["swarms"][0]["connected"]) < len(nodes) - 1 for n in nodes):
        await trio.sleep(0.5)
    honest = Honest(nodes, args.interval)
    honest.start()
    rows = []
    phases: list[str | None] = [None, *(args.attacks.split(",") if args.attacks else ATTACKS)]
    for k, name in enumerate(phases):
        attacker = Attacker(ip=f"127.0.21.{60 + k}")
        child = None
        if name is not None:  # in a process of its own, so its CPU does not slow this one's watchers
            child = await trio.to_thread.run_sync(spawn_attacker, args, name, attacker.ip, invite_text, addrs)
        for n in nodes:
            peak_rss_mb(n, reset=True)
        started = time.monotonic()
        until = trio.current_time() + args.seconds
        if child is not None:
            child.stdin.write(b"go\n")  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
        await trio.sleep_until(until)
        ended = time.monotonic()
        await trio.sleep(args.settle)  # honest posts of the phase arrive; bans land
        if child is not None:
            out, _ = await trio.to_thread.run_sync(child.communicate)
            got = json.loads(out.decode().strip().splitlines()[-1])
            attacker.peer_ids, attacker.note = set(got["peer_ids"]), got["note"]
            attacker.ids = {bytes.fromhex(i) for i in got["ids"]}
        times, missing = honest.window(started, ended)
        rss = [peak_rss_mb(n) for n in nodes]
        stored = [stored_of(n, attacker.ids) for n in nodes]
        banned = banned_on(nodes, attacker) if name else 0
        if name == "pinning":
            attacker.note = pinned(nodes, attacker, honest, ended)
        rows.append((name or "no attack", times, missing, stored, rss, banned, attacker.note))
        print(f"  {name or 'no attack'}: {len(times)} deliveries, done", flush=True)
    honest.stop.set()
    report(args, rows)


def spawn_attacker(
    args: argparse.Namespace, name: str, ip: str, invite: str, addrs: list[str]
) -> subprocess.Popen[bytes]:
    """Start the attacker process and wait until it is ready (connected, its objects made)."""
    cmd = [sys.executable, __file__, "--attack", name, "--ip", ip, "--invite", invite, "--addrs", ",".join(addrs)]
    cmd += ["--seconds", str(args.seconds), "--difficulty", str(args.difficulty), "--flood", str(args.flood)]
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdout is not None
    if child.stdout.readline().strip() != b"ready":
        raise RuntimeError(f"the {name} attacker did not start")
    return child


async def attack_process(args: argparse.Namespace) -> None:
    """The attacker's side: make what it needs, say ready, wait for go, attack, print what it sent as JSON."""
    invite = protocol.decode_invite(args.invite, now=int(time.time()))
    attacker = Attacker(ip=args.ip)
    flood = make_flood(args.flood, args.difficulty) if args.attack == "valid flood" else []
    print("ready", flush=True)
    await trio.to_thread.run_sync(sys.stdin.readline)
    until = trio.current_time() + args.seconds
    with trio.move_on_at(until + 10):
        async with AsyncExitStack() as stack:  # its hosts close with the attack
            swarm = Swarm(invite, args.addrs.split(","), args.difficulty, stack)
            swarm.flood = flood
            await ATTACKS[args.attack](swarm, attacker, until)
    print(
        json.dumps(
            {"peer_ids": sorted(attacker.peer_ids), "ids": [i.hex() for i in attacker.ids], "note": attacker.note}
        )
    )


def report(args: argparse.Namespace, rows: list[Any]) -> None:
    base_p99 = pct(rows[0][1], 0.99)
    n = args.nodes
    print()
    print(
        f"{n} daemons, {args.seconds:.0f} s a phase, an honest post every {args.interval} s, "
        f"difficulty {args.difficulty}"
    )
    head = (
        f"{'attack':<20} {'p50 ms':>7} {'p99 ms':>7} {'p99/base':>8} {'lost':>5}  "
        f"{'attacker objects stored':<24} {'peak RSS MB':<24} {'banned':>6}  note"
    )
    print(head)
    print("-" * len(head))
    for name, times, missing, stored, rss, banned, note in rows:
        p50, p99 = pct(times, 0.5) * 1000, pct(times, 0.99) * 1000
        ratio = pct(times, 0.99) / base_p99 if base_p99 else float("nan")
        ban = "-" if name == "no attack" else f"{banned}/{n}"
        print(
            f"{name:<20} {p50:>7.0f} {p99:>7.0f} {ratio:>8.2f} {missing:>5}  {'/'.join(map(str, stored)):<24} "
            f"{'/'.join(f'{r:.0f}' for r in rss):<24} {ban:>6}  {note}"
        )
    worst = max(pct(r[1], 0.99) for r in rows[1:]) / base_p99 if base_p99 else float("nan")
    print(f"\nworst p99 under attack: {worst:.2f}x the no-attack p99 (target: at most 2x)")
    print(f"median delivery over all phases: {statistics.median([t for r in rows for t in r[1]]) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--settle", type=float, default=8.0)
    parser.add_argument("--difficulty", type=int, default=8)
    parser.add_argument("--flood", type=int, default=20000, help="valid posts the flooder has ready")
    parser.add_argument("--attacks", help="comma-separated names of the attacks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="3 daemons, 10 s per phase")
    parser.add_argument("--attack", help=argparse.SUPPRESS)  # the attacker process
    parser.add_argument("--ip", help=argparse.SUPPRESS)
    parser.add_argument("--invite", help=argparse.SUPPRESS)
    parser.add_argument("--addrs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        trio.run(attack_process, args)
        return
    if args.quick:
        args.nodes, args.seconds, args.settle, args.flood = 3, 10.0, 5.0, 10000
    with tempfile.TemporaryDirectory(prefix="p2pnet-hostile-") as tmp:
        trio.run(amain, args, Path(tmp))


if __name__ == "__main__":
    main()
