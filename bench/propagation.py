"""Gossip propagation: p2pnet's swarm host against bare py-libp2p gossipsub.

For each network size N, both systems run on the same seeded loopback topology
(node i listens on 127.0.0.(100+i) and dials 3-4 random earlier nodes) and
carry the same series of real ``protocol.make_post`` wires, published from the
same random nodes at the same pace. Per system it prints:

* arrival time from publish until 50 %, 99 % and 100 % of the other N-1 nodes
  have the post (delivered to the application: ``on_message`` for ours, the
  topic subscription for bare), as the median over posts of the per-post 50 %
  time and the p99 over posts of the per-post 99 % / 100 % times;
* copies per node per post: every pubsub message for the topic that reaches a
  node from a peer, duplicates included, counted by wrapping each node's
  ``Pubsub.push_msg`` (the single entry point for every received RPC publish
  message, IWANT replies included; a node's own publish, which enters with
  itself as forwarder, is not counted), summed over all N nodes and divided by
  N-1, so 1.00 would be a perfect spanning tree;
* CPU per post: ``time.process_time()`` over the system's measurement windows
  divided by the number of posts. All nodes of both systems run in ONE trio
  process, so this is the cost of the whole network, not of one node.

Both networks are up at once; posts go out in batches, the systems taking
turns, so that load from other processes on the machine hits both alike.

"ours" is :func:`p2pnet.net.open_swarm_host` with the production
:class:`GossipParams` except ``target_peers=0`` (no peer-exchange dials, so the
graph stays as built) and a validator that fully decodes and verifies every
payload (``protocol.decode``). "bare" is stock ``Pubsub`` + ``GossipSub``:
stock signed envelopes (``from``/``seqno``/``signature``/``key``, strict
signing, ids from+seqno, Ed25519 host keys), no topic validator, stock 32-deep
queues and 32-slot subscription channel, no scoring; it shares ours' D / D_low
/ D_high, heartbeat, gossip window/history and protocol (/meshsub/1.1.0), has
adaptive gossip and eclipse protection off (the first rewrites the heartbeat
to 30-60 s) and its 10 msg/s per-peer rate limiter raised to 10^6/s so that a
burst after a scheduler stall cannot drop messages. Both use the same
transport stack: TCP + the same swarm PSK (pnet) + Noise + yamux, so the
difference measured is the pubsub layer. The process-wide py-libp2p fixes in
``p2pnet.net.libp2p_patches`` (pnet writes, yamux window updates, cached peer records,
task parents; docs/gossip-notes.md) apply to bare too, since both share one process.

Not part of the test suite (tests/ never imports it); run it by hand:

    python bench/propagation.py [--nodes 10,25,50] [--posts 50] [--interval S] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.tools.anyio_service import background_trio_service

import protocol
from p2pnet.net import GossipParams, SwarmHost, open_swarm_host

TOPIC = "p2pnet/bench/propagation"
PSK = bytes(range(100, 132))
FIRST_IP = 100  # node i listens on 127.0.0.(FIRST_IP + i)
PARAMS = GossipParams(target_peers=0)  # production settings, minus peer-exchange dials
RUN_TIMEOUT = 480.0  # one size, both systems, start to close
SETUP_TIMEOUT = 60.0  # connect all nodes
MESH_TIMEOUT = 12.0  # wait for mesh formation at most this long
MESH_STABLE = 3.0  # ... or until the mesh has not changed for this long
DRAIN_TIMEOUT = 6.0  # after a batch, wait this long at most for it to reach every node
SETTLE = 0.5  # after full delivery, let in-flight duplicates land before counting
IDLE_WINDOW = 2.0  # idle CPU measurement before publishing
CLOSE_TIMEOUT = 10.0
DIAL_CONCURRENCY = 8
BATCH = 10  # posts per batch; the systems take turns batch by batch
TARGET_ALL_P99_MS = 1000.0  # p99 of the 100 % arrival time at 50 nodes
TARGET_RATIO = 1.5  # ours / bare


# -- topology and workload --------------------------------------------------


@dataclass(frozen=True)
class Topology:
    n: int
    dials: list[tuple[int, int]]  # (dialer, listener), listener < dialer

    @classmethod
    def random(cls, n: int, seed: int) -> Topology:
        """Node i dials 3 or 4 distinct random earlier nodes (all of them if fewer)."""
        rng = random.Random(seed)
        dials = []
        for i in range(1, n):
            k = min(i, rng.choice((3, 4)))
            dials.extend((i, j) for j in sorted(rng.sample(range(i), k)))
        return cls(n, dials)

    def degrees(self) -> list[int]:
        deg = [0] * self.n
        for a, b in self.dials:
            deg[a] += 1
            deg[b] += 1
        return deg


@dataclass(frozen=True)
class Post:
    publisher: int
    wire: bytes


def make_plan(n: int, posts: int, seed: int) -> list[Post]:
    """Real signed posts, each from a fresh author, each published by a random node."""
    rng = random.Random(seed)
    now = int(time.time())
    words = ["gossip", "mesh", "river", "lantern", "quiet", "orbit", "maple", "signal", "harbor", "velvet"]
    plan = []
    for k in range(posts):
        text = f"post {k}: " + " ".join(rng.choice(words) for _ in range(14))
        signed = protocol.make_post(rng.randbytes(32), text, now=now, nonce=rng.randbytes(16))
        plan.append(Post(rng.randrange(n), signed.wire))
    return plan


def node_seed(system: str, i: int) -> bytes:
    return random.Random(f"{system}/{i}").randbytes(32)


def node_ip(i: int) -> str:
    return f"127.0.0.{FIRST_IP + i}"


# -- recording ---------------------------------------------------------------


@dataclass
class Recorder:
    """Arrival times and copy counts of one run, keyed by the post's wire bytes."""

    n: int
    plan: list[Post]
    index: dict[bytes, int] = field(init=False)
    published: list[float] = field(init=False)
    arrivals: list[dict[int, float]] = field(init=False)
    copies: list[int] = field(init=False)
    missing: int = field(init=False)
    done: list[trio.Event] = field(init=False)  # per post: every other node has it

    def __post_init__(self) -> None:
        self.index = {p.wire: k for k, p in enumerate(self.plan)}
        self.published = [math.nan] * len(self.plan)
        self.arrivals = [{} for _ in self.plan]
        self.copies = [0] * len(self.plan)
        self.missing = len(self.plan) * (self.n - 1)
        self.done = [trio.Event() for _ in self.plan]

    def arrive(self, node: int, data: bytes) -> None:
        k = self.index.get(data)
        if k is None or node == self.plan[k].publisher or node in self.arrivals[k]:
            return
        self.arrivals[k][node] = time.perf_counter()
        self.missing -= 1
        if len(self.arrivals[k]) == self.n - 1:
            self.done[k].set()

    def copy_received(self, data: bytes) -> None:
        k = self.index.get(data)
        if k is not None:
            self.copies[k] += 1


def count_copies(pubsub: Pubsub, rec: Recorder) -> None:
    """Wrap this Pubsub's push_msg so every message from a peer is counted.

    Pubsub.continuously_read_stream hands each publish message of an incoming
    RPC (mesh forwards and IWANT replies alike) to ``self.push_msg``, which
    looks the attribute up on the instance, before the seen-cache check.
    """
    original = pubsub.push_msg
    me = pubsub.my_id

    async def push_msg(msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        if msg_forwarder != me:
            rec.copy_received(msg.data)
        await original(msg_forwarder, msg)

    pubsub.push_msg = push_msg  # type: ignore[method-assign]


# -- the two systems ---------------------------------------------------------


class BenchNode(Protocol):
    addr: str
    peer_id: str

    async def publish(self, data: bytes) -> None: ...

    def mesh_size(self) -> int: ...

    async def connect(self, addr: str) -> None: ...


class OursNode:
    def __init__(self, host: SwarmHost) -> None:
        self.host = host
        self.addr = host.listen_addrs[0]
        self.peer_id = host.peer_id

    async def publish(self, data: bytes) -> None:
        await self.host.publish(data)

    def mesh_size(self) -> int:
        return len(self.host.mesh_peers())

    async def connect(self, addr: str) -> None:
        await self.host.connect(addr)


def full_validator(data: bytes) -> bool:
    protocol.decode(data)  # raises on anything malformed or badly signed
    return True


@asynccontextmanager
async def open_ours(i: int, rec: Recorder) -> AsyncIterator[OursNode]:
    async def on_message(data: bytes) -> None:
        rec.arrive(i, data)

    async with open_swarm_host(
        host_key_seed=node_seed("ours", i),
        psk=PSK,
        topic=TOPIC,
        validator=full_validator,
        on_message=on_message,
        listen_ip=node_ip(i),
        params=PARAMS,
    ) as host:
        count_copies(host._pubsub, rec)
        yield OursNode(host)


class BareNode:
    def __init__(self, host: Any, pubsub: Pubsub, router: GossipSub) -> None:
        self.host = host
        self.pubsub = pubsub
        self.router = router
        self.peer_id = str(host.get_id())
        self.addr = f"{host.get_addrs()[0]}"
        if "/p2p/" not in self.addr:
            self.addr += f"/p2p/{host.get_id()}"

    async def publish(self, data: bytes) -> None:
        await self.pubsub.publish(TOPIC, data)

    def mesh_size(self) -> int:
        return len(self.router.mesh.get(TOPIC, set()))

    async def connect(self, addr: str) -> None:
        with trio.fail_after(PARAMS.connect_timeout):
            await self.host.connect(info_from_p2p_addr(multiaddr.Multiaddr(addr)))


@asynccontextmanager
async def open_bare(i: int, rec: Recorder) -> AsyncIterator[BareNode]:
    key_pair = create_new_key_pair(node_seed("bare", i))
    host = new_host(
        key_pair=key_pair,
        psk=PSK.hex(),
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)},
    )
    router = GossipSub(
        [PROTOCOL_ID_V11],
        degree=PARAMS.d,
        degree_low=PARAMS.d_low,
        degree_high=PARAMS.d_high,
        gossip_window=PARAMS.gossip_window,
        gossip_history=PARAMS.gossip_history,
        heartbeat_interval=PARAMS.heartbeat_interval,
        adaptive_gossip_enabled=False,
        eclipse_protection_enabled=False,
        max_messages_per_topic_per_second=1e6,
    )
    pubsub = Pubsub(host, router, seen_ttl=PARAMS.seen_ttl)  # strict signing, from+seqno ids
    count_copies(pubsub, rec)

    async def read(sub: Any) -> None:
        async for msg in sub:
            rec.arrive(i, msg.data)

    async with host.run([multiaddr.Multiaddr(f"/ip4/{node_ip(i)}/tcp/0")]):
        try:
            async with background_trio_service(pubsub), background_trio_service(router):
                await pubsub.wait_until_ready()
                sub = await pubsub.subscribe(TOPIC)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(read, sub)
                    try:
                        yield BareNode(host, pubsub, router)
                    finally:
                        nursery.cancel_scope.cancel()
        finally:
            with trio.move_on_after(CLOSE_TIMEOUT) as scope:
                scope.shield = True
                await host.close()


SYSTEMS: dict[str, Callable[[int, Recorder], Any]] = {"ours": open_ours, "bare": open_bare}


# -- one run -----------------------------------------------------------------


@dataclass
class RunResult:
    system: str
    n: int
    posts: int
    interval: float
    setup_s: float
    mesh_s: float
    mesh_before: str
    mesh_after: str
    t50: list[float]  # per post, seconds; inf if never reached
    t99: list[float]
    t100: list[float]
    delivered: float  # fraction of (post, other node) pairs delivered
    copies: list[float]  # per post, copies per receiving node
    cpu_per_post: float
    cpu_net_per_post: float
    idle_cpu_rate: float
    wall_s: float
    runqueue_wait_s: float  # runnable but not running (another process had the CPU)
    warnings: str  # py-libp2p pubsub warnings naming this system's peers, counted


def runqueue_wait() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux schedstat)."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return math.nan


def _time_to_fraction(deltas: list[float], others: int, fraction: float) -> float:
    need = max(1, math.ceil(fraction * others - 1e-9))
    return deltas[need - 1] if len(deltas) >= need else math.inf


@dataclass
class Network:
    """One system's N running nodes and what its measurement windows added up to."""

    system: str
    rec: Recorder
    nodes: list[BenchNode]
    setup_s: float = 0.0
    mesh_s: float = 0.0
    mesh_before: str = ""
    cpu: float = 0.0
    wall: float = 0.0
    waited: float = 0.0


async def start_network(
    system: str, topo: Topology, plan: list[Post], hosts: trio.Nursery, stop: trio.Event
) -> Network:
    rec = Recorder(topo.n, plan)
    opener = SYSTEMS[system]

    async def run_node(i: int, *, task_status: trio.TaskStatus[BenchNode]) -> None:
        # Each node lives in its own task so that all of them close at once.
        async with opener(i, rec) as node:
            task_status.started(node)
            await stop.wait()

    t_setup = time.perf_counter()
    nodes: list[BenchNode] = [await hosts.start(run_node, i) for i in range(topo.n)]
    limit = trio.Semaphore(DIAL_CONCURRENCY)

    async def dial(a: int, b: int) -> None:
        async with limit:
            await nodes[a].connect(nodes[b].addr)

    with trio.fail_after(SETUP_TIMEOUT):
        async with trio.open_nursery() as dials:
            for a, b in topo.dials:
                dials.start_soon(dial, a, b)
    net = Network(system, rec, nodes, setup_s=time.perf_counter() - t_setup)
    return net


async def publish_batch(net: Network, posts: range, interval: float) -> None:
    """Publish some posts on the pace, wait for them everywhere, add up the window."""
    cpu0, wall0, wait0 = time.process_time(), time.perf_counter(), runqueue_wait()
    clock0 = trio.current_time()
    for j, k in enumerate(posts):
        net.rec.published[k] = time.perf_counter()
        await net.nodes[net.rec.plan[k].publisher].publish(net.rec.plan[k].wire)
        await trio.sleep_until(clock0 + (j + 1) * interval)
    with trio.move_on_after(DRAIN_TIMEOUT):
        for k in posts:
            await net.rec.done[k].wait()
    await trio.sleep(SETTLE)
    net.cpu += time.process_time() - cpu0
    net.wall += time.perf_counter() - wall0
    net.waited += runqueue_wait() - wait0


async def run_size(topo: Topology, plan: list[Post], interval: float, batch: int) -> tuple[dict[str, RunResult], str]:
    """Run both systems side by side at one size, publishing in alternating batches.

    Returns:
        Each system's result, and the pubsub warnings that name neither system's nodes.
    """
    # One deadline around everything, hosts included: a cancel scope must not
    # close while hosts opened inside it are still running.
    with trio.fail_after(RUN_TIMEOUT):
        stop = trio.Event()
        async with trio.open_nursery() as hosts:
            try:
                nets = [await start_network(system, topo, plan, hosts, stop) for system in SYSTEMS]
                for net in nets:
                    t_mesh = time.perf_counter()
                    net.mesh_before = await wait_for_mesh(net.nodes, topo)
                    net.mesh_s = time.perf_counter() - t_mesh
                # Idle CPU rate of both networks (heartbeats, mesh upkeep) just before publishing.
                c0, w0 = time.process_time(), time.perf_counter()
                await trio.sleep(IDLE_WINDOW)
                idle_rate = (time.process_time() - c0) / (time.perf_counter() - w0)
                for b, first in enumerate(range(0, len(plan), batch)):
                    posts = range(first, min(first + batch, len(plan)))
                    for net in nets if b % 2 == 0 else nets[::-1]:
                        await publish_batch(net, posts, interval)
                mesh_after = {net.system: mesh_summary(net.nodes, topo) for net in nets}
                warnings = WARNINGS.take({net.system: {node.peer_id for node in net.nodes} for net in nets})
            finally:
                stop.set()
    WARNINGS.take({})  # drop teardown noise
    results = {
        net.system: result(net, topo, interval, idle_rate, mesh_after[net.system], warnings[net.system]) for net in nets
    }
    return results, warnings["?"]


def result(
    net: Network, topo: Topology, interval: float, idle_rate: float, mesh_after: str, warnings: str
) -> RunResult:
    rec, others, posts = net.rec, topo.n - 1, len(net.rec.plan)
    t50, t99, t100 = [], [], []
    for k in range(posts):
        deltas = sorted(t - rec.published[k] for t in rec.arrivals[k].values())
        t50.append(_time_to_fraction(deltas, others, 0.50))
        t99.append(_time_to_fraction(deltas, others, 0.99))
        t100.append(_time_to_fraction(deltas, others, 1.00))
    return RunResult(
        system=net.system,
        n=topo.n,
        posts=posts,
        interval=interval,
        setup_s=net.setup_s,
        mesh_s=net.mesh_s,
        mesh_before=net.mesh_before,
        mesh_after=mesh_after,
        t50=t50,
        t99=t99,
        t100=t100,
        delivered=1 - rec.missing / (posts * others),
        copies=[c / others for c in rec.copies],
        cpu_per_post=net.cpu / posts,
        cpu_net_per_post=max(0.0, net.cpu - idle_rate * net.wall) / posts,
        idle_cpu_rate=idle_rate,
        wall_s=net.wall,
        runqueue_wait_s=net.waited,
        warnings=warnings,
    )


def mesh_summary(nodes: list[BenchNode], topo: Topology) -> str:
    sizes = [node.mesh_size() for node in nodes]
    want = [min(PARAMS.d_low, d) for d in topo.degrees()]
    short = sum(s < w for s, w in zip(sizes, want, strict=True))
    return f"mesh size min/mean {min(sizes)}/{statistics.fmean(sizes):.1f}, {short} node(s) below min(D_low, degree)"


async def wait_for_mesh(nodes: list[BenchNode], topo: Topology) -> str:
    """Wait until every node has min(D_low, degree) mesh peers, or the mesh stops changing.

    py-libp2p's mesh upkeep can strand a node below D_low for the 60 s prune
    back-off (a hub with more than D_high peers prunes it), so "stable for
    MESH_STABLE seconds" also ends the wait; the deadline is MESH_TIMEOUT.
    """
    want = [min(PARAMS.d_low, d) for d in topo.degrees()]
    last: list[int] = []
    stable_since = trio.current_time()
    with trio.move_on_after(MESH_TIMEOUT):
        while True:
            sizes = [node.mesh_size() for node in nodes]
            if all(s >= w for s, w in zip(sizes, want, strict=True)):
                return "ready: " + mesh_summary(nodes, topo)
            now = trio.current_time()
            if sizes != last:
                last, stable_since = sizes, now
            elif now - stable_since >= MESH_STABLE:
                return "stable but short: " + mesh_summary(nodes, topo)
            await trio.sleep(0.05)
    return "NOT ready at the deadline: " + mesh_summary(nodes, topo)


# -- report ------------------------------------------------------------------


class WarningCounter(logging.Handler):
    """Counts py-libp2p pubsub warnings instead of printing each one.

    Both systems run at once, so a warning is put down to the system whose
    node's peer id appears among its arguments ("?" if none does).
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, set[str]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        template = re.sub(r"%[sdr]", "<>", str(record.msg))
        self.records.append((template, {str(a) for a in args}))

    def take(self, peer_ids: dict[str, set[str]]) -> dict[str, str]:
        counts: dict[str, Counter[str]] = {system: Counter() for system in [*peer_ids, "?"]}
        for template, args in self.records:
            system = next((s for s, ids in peer_ids.items() if args & ids), "?")
            counts[system][template] += 1
        self.records.clear()
        return {
            system: ", ".join(f'"{msg}" x{n}' for msg, n in c.most_common()) or "none" for system, c in counts.items()
        }


WARNINGS = WarningCounter()


def quantile(values: Iterable[float], q: float) -> float:
    """Nearest-rank quantile; inf values (never reached) sort last."""
    xs = sorted(values)
    return xs[max(0, math.ceil(q * len(xs)) - 1)]


@dataclass(frozen=True)
class Row:
    label: str
    key: str
    unit: str  # "ms", "x", "%"
    target: str = ""


def figures(r: RunResult) -> dict[str, float]:
    return {
        "p50": statistics.median(r.t50) * 1000,
        "p99": quantile(r.t99, 0.99) * 1000,
        "p100": quantile(r.t100, 0.99) * 1000,
        "p100_med": statistics.median(r.t100) * 1000,
        "copies": statistics.fmean(r.copies),
        "cpu": r.cpu_per_post * 1000,
        "cpu_net": r.cpu_net_per_post * 1000,
        "busy": r.cpu_per_post / r.interval * 100,
        "delivered": r.delivered * 100,
    }


def fmt(value: float, unit: str) -> str:
    if math.isinf(value):
        return "never"
    if unit == "x":
        return f"{value:.2f}"
    if unit == "%":
        return f"{value:.1f}%"
    return f"{value:.1f}"


def ratio(a: float, b: float) -> float:
    if math.isinf(a) or math.isinf(b) or b == 0:
        return math.nan
    return a / b


def print_table(topo: Topology, ours: RunResult, bare: RunResult, other_warnings: str) -> list[str]:
    """Print one N's table; return the verdict lines for the summary."""
    deg = topo.degrees()
    print(
        f"\n=== N = {topo.n} nodes, {len(topo.dials)} links, degree min/mean/max "
        f"{min(deg)}/{statistics.fmean(deg):.1f}/{max(deg)}; {ours.posts} posts, one every "
        f"{ours.interval * 1000:.0f} ms from random nodes ==="
    )
    print(
        f"  both networks up, idle: {ours.idle_cpu_rate * 100:.0f}% of a core; "
        f"py-libp2p pubsub warnings naming no node: {other_warnings}"
    )
    for r in (ours, bare):
        print(f"  {r.system}: connected in {r.setup_s:.1f} s; {r.mesh_s:.1f} s later mesh {r.mesh_before}")
        print(
            f"        measured {r.wall_s:.1f} s, of which {r.runqueue_wait_s:.2f} s runnable but waiting for a CPU "
            f"(other processes); at the end {r.mesh_after}"
        )
        print(f"        py-libp2p pubsub warnings: {r.warnings}")
    fo, fb = figures(ours), figures(bare)
    target_all = f"<= {TARGET_ALL_P99_MS:.0f} ms at N>=50" if topo.n >= 50 else ""
    ratio_target = f"ours/bare <= {TARGET_RATIO}x"
    rows = [
        Row("50% arrival: median over posts (ms)", "p50", "ms"),
        Row("99% arrival: p99 over posts (ms)", "p99", "ms"),
        Row("100% arrival: median over posts (ms)", "p100_med", "ms"),
        Row("100% arrival: p99 over posts (ms)", "p100", "ms", f"{target_all}; {ratio_target}".strip("; ")),
        Row("copies received per node per post", "copies", "x", ratio_target),
        Row("CPU per post, all N nodes (ms)", "cpu", "ms", ratio_target),
        Row("  same, net of idle CPU (ms)", "cpu_net", "ms"),
        Row("process busy (CPU/post / interval)", "busy", "%"),
        Row("delivered (post, other node) pairs", "delivered", "%", "100%"),
    ]
    header = f"  {'metric':<38}{'ours':>10}{'bare':>10}{'ours/bare':>11}   target"
    print(header)
    print("  " + "-" * (len(header) + 28))
    for row in rows:
        o, b = fo[row.key], fb[row.key]
        rt = ratio(o, b)
        rt_s = "" if row.unit == "%" else ("n/a" if math.isnan(rt) else f"{rt:.2f}x")
        print(f"  {row.label:<38}{fmt(o, row.unit):>10}{fmt(b, row.unit):>10}{rt_s:>11}   {row.target}")

    verdicts = []

    def check(name: str, ok: bool, detail: str) -> None:
        verdicts.append(f"  N={topo.n:<3} {'PASS' if ok else 'FAIL'}  {name}: {detail}")

    if topo.n >= 50:
        check(
            "ours 100% arrival p99 <= 1 s",
            fo["p100"] <= TARGET_ALL_P99_MS,
            f"{fmt(fo['p100'], 'ms')} ms (bare {fmt(fb['p100'], 'ms')} ms)",
        )
    for key, name in (("p100", "100% arrival p99"), ("copies", "copies/node/post"), ("cpu", "CPU/post")):
        rt = ratio(fo[key], fb[key])
        check(
            f"{name} ours <= {TARGET_RATIO}x bare",
            not math.isnan(rt) and rt <= TARGET_RATIO,
            f"{rt:.2f}x ({fmt(fo[key], 'x')} vs {fmt(fb[key], 'x')})",
        )
    # Ours only: stock py-libp2p (bare) can cut a late node off for a minute (gossip-notes, pitfall 35).
    check(
        "ours delivers everything",
        fo["delivered"] >= 100,
        f"ours {fo['delivered']:.1f}%, bare {fb['delivered']:.1f}%",
    )
    return verdicts


# -- main --------------------------------------------------------------------

PUBLISH_BUDGET = 30.0  # default posts: at most this many seconds of publishing per size and system


def auto_interval(n: int) -> float:
    """One post every 30 ms per node (150 ms at least).

    CPU per post grows about linearly with N (roughly 13 ms x N here) and all
    nodes share one Python thread, so a fixed 150 ms pace would saturate the
    process from ~12 nodes on and measure queueing instead of gossip; this keeps
    it about half busy.
    """
    return max(0.15, 0.03 * n)


async def amain(sizes: list[int], posts: int | None, interval: float | None, seed: int) -> None:
    print(
        "propagation bench: all nodes of both systems run in ONE trio process (one Python thread) on this "
        f"machine ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}). Per size both networks are up at "
        f"once on the same topology; the same posts from the same publishers go out in batches of {BATCH}, the "
        "systems taking turns batch by batch (alternating who goes first), so only one system is publishing at "
        "any time and load from elsewhere on the machine falls on both alike."
    )
    print(
        "  arrival: delivery to the application (ours: on_message; bare: the topic subscription) at each of the "
        "N-1 nodes other than the publisher. Per post, the time from publish() until 50%/99%/100% of them have "
        "it; then over posts the median, or the nearest-rank p99 (with <= 100 posts: the worst post)."
    )
    print(
        "  copies: every pubsub message for the topic a node receives from a peer (duplicates and IWANT replies "
        "included; counted by wrapping each node's Pubsub.push_msg), summed over all N nodes, divided by N-1."
    )
    print(
        "  CPU: time.process_time() of the whole process (all nodes) over the system's batch windows (first "
        "publish of the batch until all of it arrived + 0.5 s), divided by posts; it includes the other, idle "
        "network's heartbeats, which 'net of idle' subtracts (idle rate of both networks, measured just before)."
    )
    print(
        "  caveat: one thread handles every copy at every node, so a post reaches the last node only after most "
        "of the whole network's CPU for it (~ CPU/post) has been spent; with N machines that work runs in "
        "parallel. Latency here is an upper bound that grows with N; the ours/bare ratios are the comparison."
    )
    print(f"  load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    verdicts: list[str] = []
    started = time.perf_counter()
    for n in sizes:
        topo = Topology.random(n, seed + n)
        step = interval if interval is not None else auto_interval(n)
        count = posts if posts is not None else max(10, min(50, int(PUBLISH_BUDGET / step)))
        plan = make_plan(n, count, seed + 1000 + n)
        results, other_warnings = await run_size(topo, plan, step, BATCH)
        verdicts += print_table(topo, results["ours"], results["bare"], other_warnings)
    print(
        f"\n=== summary (total {time.perf_counter() - started:.0f} s; load average at end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}) ==="
    )
    for line in verdicts:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="10,25,50", help="comma-separated network sizes (default 10,25,50)")
    parser.add_argument(
        "--posts",
        type=int,
        default=None,
        help=f"posts per size and system (default: 50, or fewer so publishing takes <= {PUBLISH_BUDGET:.0f} s)",
    )
    parser.add_argument(
        "--interval", type=float, default=None, help="seconds between posts (default: max(0.15, 0.03 * N))"
    )
    parser.add_argument("--seed", type=int, default=1, help="topology / workload seed")
    parser.add_argument("--quick", action="store_true", help="only sizes <= 25, at most 15 posts")
    args = parser.parse_args()
    sizes = [int(x) for x in args.nodes.split(",") if x.strip()]
    posts = args.posts
    if args.quick:
        sizes, posts = [n for n in sizes if n <= 25] or [10], min(posts or 15, 15)
    if posts is not None and posts < 1:
        raise SystemExit("--posts must be at least 1")
    for n in sizes:
        if n < 2 or FIRST_IP + n > 255:
            raise SystemExit(f"--nodes: {n} is out of range (2..{255 - FIRST_IP})")
    # py-libp2p logs teardown noise ("Error getting transport addresses") on the
    # root logger at WARNING: show errors only. Pubsub warnings (rate limits,
    # drops, GRAFT floods) are counted and reported per run instead.
    logging.basicConfig(level=logging.ERROR)
    pubsub_log = logging.getLogger("libp2p.pubsub")
    pubsub_log.setLevel(logging.WARNING)
    pubsub_log.addHandler(WARNINGS)
    pubsub_log.propagate = False
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(amain, sizes, posts, args.interval, args.seed)


if __name__ == "__main__":
    main()
