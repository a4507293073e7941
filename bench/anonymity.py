"""First-spy precision and stem latency on real p2pnet hosts.

N real swarm hosts (default 50, at least 30) run in ONE trio process on
127.0.6.x: :func:`p2pnet.net.open_swarm_host` with the production gossip
settings (except ``target_peers=0``, so the graph stays as built) and the real
:class:`p2pnet.net._stem.StemRelay` with the production :class:`protocol.StemParams`.
Node i dials 4 random earlier nodes (mean degree about 8).  Posts (real
``protocol.make_post`` wires) go out from random authors, alternately with the
stem on (``StemRelay.originate``) and off (``SwarmHost.publish``), in the same
run on the same network.

Every node records who first handed it each post, by stem (a
``StemRelay.on_stem`` hook) or by gossip (the forwarder of the first copy
reaching ``Pubsub.push_msg``).  Spies are passive, so the run is scored
against many random spy sets of fraction p: the spy that got a post first
guesses its sender as the author; posts by spies are not counted.  The 95 %
interval is Wilson's, counting each post once.

Latency: from the author's call to the moment every other node has the post
in its application (gossip delivery, or its own fluff), p50 and p99 over posts.

``--adversary all|outbound``: one more host, the adversary, dials every node
(an attacker holding the invite key can), relays honestly and guesses, for
each post, that whoever first handed it the post wrote it. Only stem posts
are sent. ``all`` runs the stem as it was before relays were limited to
outbound peers (any connected peer may be picked: the adversary can elect
itself into everyone's stem by dialling in); ``outbound`` runs it as it is
(protocol.md, section 11.3). Reported: the adversary's precision, and that of
an ordinary member (each node alone as the only spy, averaged).

    python bench/anonymity.py [--nodes 50] [--posts 100] [--interval 0.4] [--spy-sets 1000] [--seed 1] [--q Q]
                              [--adversary all|outbound]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio
from anonymity_sim import SPY_FRACTIONS, add_q_option, quantile, wilson
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2

import protocol
from p2pnet.net import GossipParams, StemRelay, SwarmHost, open_swarm_host

PSK = bytes(range(32))
TOPIC = "p2pnet/bench/anonymity"
PARAMS = GossipParams(target_peers=0)
DIALS_PER_NODE = 4
DRAIN_TIMEOUT = 60.0  # seconds to wait for the last posts everywhere


def node_ip(i: int) -> str:
    return f"127.0.6.{1 + i}"


@dataclass
class Record:
    """What the whole network saw of one post."""

    author: int
    stem: bool
    sent: float
    first: dict[int, tuple[float, int, bool]] = field(default_factory=dict)  # node -> (time, sender, by stem)
    hops: int = 0  # stem frames received for it, over all nodes
    delivered: dict[int, float] = field(default_factory=dict)  # node -> time it reached the application
    done: trio.Event = field(default_factory=trio.Event)


class Network:
    def __init__(self, n: int) -> None:
        self.n = n
        self.hosts: list[SwarmHost] = []
        self.relays: list[StemRelay] = []
        self.index: dict[str, int] = {}
        self.records: dict[bytes, Record] = {}  # by object id
        self.ids: dict[bytes, bytes] = {}  # wire -> object id, so recording costs no decoding

    def heard(self, node: int, oid: bytes, sender: str, *, by_stem: bool) -> None:
        rec = self.records.get(oid)
        if rec is not None and by_stem:
            rec.hops += 1
        if rec is not None and node not in rec.first and node != rec.author:
            rec.first[node] = (trio.current_time(), self.index.get(sender, -1), by_stem)

    def delivered(self, node: int, oid: bytes) -> None:
        rec = self.records.get(oid)
        if rec is not None and node != rec.author and node not in rec.delivered:
            rec.delivered[node] = trio.current_time()
            if len(rec.delivered) == self.n - 1:
                rec.done.set()


class SpyRelay(StemRelay):
    def __init__(self, net: Network, i: int, *args: Any, every_peer: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.net, self.i = net, i
        self.every_peer = every_peer

    def on_stem(self, peer: str, signed: protocol.Signed) -> None:
        self.net.heard(self.i, signed.id, peer, by_stem=True)

    def relay_candidates(self) -> list[str]:
        if self.every_peer:  # the rule before outbound-only relays: any connected peer
            return sorted(self.host.connected_peers())
        return super().relay_candidates()


def stem_params(args: argparse.Namespace) -> protocol.StemParams:
    return protocol.StemParams(fluff_probability=args.q)


def check(wire: bytes) -> protocol.Signed | None:
    return protocol.decode(wire)  # raises on anything malformed or badly signed


async def run_node(
    net: Network, i: int, params: protocol.StemParams, stop: trio.Event, every_peer: bool, *, task_status: Any
) -> None:
    async def on_message(data: bytes) -> None:
        oid = net.ids.get(data)
        if oid is not None:
            net.relays[i].seen(oid)
            net.delivered(i, oid)

    async with open_swarm_host(
        host_key_seed=bytes([i % 256, i // 256]) + bytes(30),
        psk=PSK,
        topic=TOPIC,
        validator=lambda data: check(data) is not None,
        on_message=on_message,
        listen_ip=node_ip(i),
        params=PARAMS,
    ) as host:
        pubsub = host._pubsub  # bench-only: see which peer forwarded each gossip message
        original = pubsub.push_msg

        async def push_msg(msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
            oid = net.ids.get(msg.data)
            if msg_forwarder != pubsub.my_id and oid is not None:
                net.heard(i, oid, str(msg_forwarder), by_stem=False)
            await original(msg_forwarder, msg)

        pubsub.push_msg = push_msg  # type: ignore[method-assign]

        async def fluffed(signed: protocol.Signed) -> None:
            net.delivered(i, signed.id)

        relay = SpyRelay(
            net,
            i,
            host,
            check=check,
            fluffed=fluffed,
            params=params,
            rng=random.Random(1000 + i),
            every_peer=every_peer,
        )
        relay.start()
        task_status.started((host, relay))
        await stop.wait()


async def build(
    n: int, seed: int, params: protocol.StemParams, stack: AsyncExitStack, stop: trio.Event, adversary: str | None
) -> Network:
    net = Network(n)
    nursery = await stack.enter_async_context(trio.open_nursery())
    for i in range(n + (adversary is not None)):
        host, relay = await nursery.start(run_node, net, i, params, stop, adversary == "all")
        net.hosts.append(host)
        net.relays.append(relay)
        net.index[host.peer_id] = i
    rng = random.Random(seed)
    limit = trio.Semaphore(8)

    async def dial(a: int, b: int) -> None:
        async with limit:
            await net.hosts[a].connect(net.hosts[b].listen_addrs[0])

    with trio.fail_after(180):
        async with trio.open_nursery() as dials:
            for a in range(1, n):
                for b in rng.sample(range(a), min(a, DIALS_PER_NODE)):
                    dials.start_soon(dial, a, b)
            if adversary is not None:
                for b in range(n):  # the adversary dials everyone
                    dials.start_soon(dial, n, b)
    # Let the meshes form: until every node has min(D_low, degree) mesh peers,
    # or nothing changed for 3 s (py-libp2p can strand a node below D_low).
    last: list[int] = []
    stable_since = trio.current_time()
    with trio.move_on_after(30):
        while True:
            sizes = [len(h.mesh_peers()) for h in net.hosts]
            want = [min(PARAMS.d_low, len(h.connected_peers())) for h in net.hosts]
            if all(s >= w for s, w in zip(sizes, want, strict=True)):
                break
            if sizes != last:
                last, stable_since = sizes, trio.current_time()
            elif trio.current_time() - stable_since >= 3.0:
                break
            await trio.sleep(0.1)
    return net


@dataclass
class Score:
    """Right guesses of one cell, pooled over the spy sets, and how the spy got the post."""

    total: int = 0
    by_stem: int = 0  # the author handed it to a spy on the stem (a spy was its relay)
    after_one_hop: int = 0  # by gossip from the author, after its first relay fluffed at once
    after_longer: int = 0  # by gossip from the author, after a longer stem (or none)

    @property
    def hits(self) -> int:
        return self.by_stem + self.after_one_hop + self.after_longer

    def share(self, part: int) -> float:
        return part / self.total if self.total else 0.0


def precision(records: list[Record], n: int, fraction: float, sets: int, rng: random.Random) -> Score:
    score = Score()
    orders = [sorted(rec.first.items(), key=lambda item: item[1]) for rec in records]  # earliest first
    for _ in range(sets):
        spies = set(rng.sample(range(n), round(fraction * n)))
        for rec, order in zip(records, orders, strict=True):
            if rec.author in spies:
                continue
            first = next((hit for node, hit in order if node in spies), None)
            if first is None:
                continue
            score.total += 1
            _, sender, by_stem = first
            if sender != rec.author:
                continue
            if by_stem:
                score.by_stem += 1
            elif rec.hops == 1:
                score.after_one_hop += 1
            else:
                score.after_longer += 1
    return score


async def amain(args: argparse.Namespace) -> None:
    stop = trio.Event()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    try:
        async with AsyncExitStack() as stack:
            await measure(args, rng, started, stack, stop)
    except* RuntimeError as group:
        # py-libp2p can still be handing a closing host messages ("Nursery is
        # closed to new arrivals"); the figures were printed before teardown.
        print(f"(teardown: py-libp2p raised {len(group.exceptions)} error(s) while closing the hosts; ignored)")


async def measure(
    args: argparse.Namespace, rng: random.Random, started: float, stack: AsyncExitStack, stop: trio.Event
) -> None:
    net = await build(args.nodes, args.seed, stem_params(args), stack, stop, args.adversary)
    setup = time.perf_counter() - started
    degrees = [len(h.connected_peers()) for h in net.hosts[: args.nodes]]
    meshes = [len(h.mesh_peers()) for h in net.hosts[: args.nodes]]
    now = int(time.time())
    for k in range(args.posts if args.adversary else 2 * args.posts):
        stem = args.adversary is not None or k % 2 == 1
        author = rng.randrange(args.nodes)
        signed = protocol.make_post(os.urandom(32), f"post {k} " + "x" * rng.randrange(200), now=now)
        net.records[signed.id] = Record(author, stem, trio.current_time())
        net.ids[signed.wire] = signed.id
        if stem:
            net.relays[author].originate(signed)
        else:
            await net.hosts[author].publish(signed.wire)
        await trio.sleep(args.interval)
    with trio.move_on_after(DRAIN_TIMEOUT):
        for rec in net.records.values():
            await rec.done.wait()
    if args.adversary:
        report_adversary(args, net, setup, degrees, started)
    else:
        report(args, rng, net, setup, degrees, meshes, started)
    stop.set()


def single_spy(records: list[Record], spy: int) -> tuple[int, int]:
    """Posts (not its own) one node saw, and how many it would have pinned on their author."""
    seen = right = 0
    for rec in records:
        first = rec.first.get(spy)
        if rec.author == spy or first is None:
            continue
        seen += 1
        right += first[1] == rec.author
    return seen, right


def report_adversary(args: argparse.Namespace, net: Network, setup: float, degrees: list[int], started: float) -> None:
    records = list(net.records.values())
    adversary = args.nodes
    seen, right = single_spy(records, adversary)
    by_stem = sum(1 for r in records if adversary in r.first and r.first[adversary][1:] == (r.author, True))
    lo, hi = wilson(right, seen)
    members = [single_spy(records, j) for j in range(args.nodes)]
    mean = sum(r / s for s, r in members if s) / sum(1 for s, _ in members if s)
    relays_of = "any connected peer (before)" if args.adversary == "all" else "outbound peers only (after)"
    print(
        f"{args.nodes} SwarmHosts + 1 adversary that dials all of them, ONE trio process, setup {setup:.0f} s; "
        f"honest degree min/mean/max {min(degrees)}/{sum(degrees) / len(degrees):.1f}/{max(degrees)}; "
        f"stem relays among {relays_of}; {args.posts} stem posts, one every {args.interval} s"
    )
    print()
    print("| relays among | adversary precision | 95% CI | it was the author's stem relay | ordinary member |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.adversary} | {right / seen:.1%} ({right}/{seen}) | {lo:.1%}-{hi:.1%} | "
        f"{by_stem / seen:.1%} | {mean:.1%} |"
    )
    reached = sum(1 for r in records if len(r.delivered) == args.nodes)  # the adversary counts among them
    print(f"\nposts that reached every node: {reached} / {len(records)}")
    print(f"(wall {time.perf_counter() - started:.0f} s)", flush=True)


def report(
    args: argparse.Namespace,
    rng: random.Random,
    net: Network,
    setup: float,
    degrees: list[int],
    meshes: list[int],
    started: float,
) -> None:
    records = list(net.records.values())
    print(
        f"Real p2pnet hosts: {args.nodes} SwarmHosts with StemRelay in ONE trio process on 127.0.6.x "
        f"(setup {setup:.0f} s);"
    )
    print(
        f"degree min/mean/max {min(degrees)}/{sum(degrees) / len(degrees):.1f}/{max(degrees)}, "
        f"mesh min/mean {min(meshes)}/{sum(meshes) / len(meshes):.1f}; {args.posts} posts per mode, "
        f"alternating, one every {args.interval} s; {args.spy_sets} random spy sets per cell"
    )
    params = stem_params(args)
    print(
        f"stem q = {params.fluff_probability}, "
        f"embargo {params.embargo_min:.0f} s + Exp(mean {params.embargo_mean:.0f} s)"
    )
    print()
    print("| spies p | stem | first-spy precision | 95% CI | precision / p | target <= 1.3 p |")
    print("|---|---|---|---|---|---|")
    scores = {}
    for fraction in SPY_FRACTIONS:
        for stem in (False, True):
            score = scores[fraction, stem] = precision(
                [r for r in records if r.stem == stem], args.nodes, fraction, args.spy_sets, rng
            )
            prec, counted = score.share(score.hits), round(score.total / args.spy_sets)
            lo, hi = wilson(round(prec * counted), counted)
            verdict = ("met" if prec <= 1.3 * fraction else "MISSED") if stem else "-"
            print(
                f"| {fraction:.0%} | {'on' if stem else 'off'} | {prec:.1%} | {lo:.1%}-{hi:.1%} "
                f"| {prec / fraction:.2f} | {verdict} |"
            )
    print()
    print("Right guesses with the stem on, by how the first spy got the post (share of counted posts):")
    print()
    print(
        "| spies p | a spy was the author's relay | gossip from the author after a 1-hop stem | after a longer stem |"
    )
    print("|---|---|---|---|")
    for fraction in SPY_FRACTIONS:
        score = scores[fraction, True]
        print(
            f"| {fraction:.0%} | {score.share(score.by_stem):.1%} | {score.share(score.after_one_hop):.1%} "
            f"| {score.share(score.after_longer):.1%} |"
        )
    print()
    print(f"| stem | posts | reached all {args.nodes} | p50 time to all | p99 time to all | target p99 <= 2 s |")
    print("|---|---|---|---|---|---|")
    for stem in (False, True):
        mine = [r for r in records if r.stem == stem]
        full = [max(r.delivered.values()) - r.sent for r in mine if len(r.delivered) == args.nodes - 1]
        p99 = quantile(full, 0.99) if full else float("nan")
        verdict = ("met" if len(full) == len(mine) and p99 <= 2.0 else "MISSED") if stem else "-"
        print(
            f"| {'on' if stem else 'off'} | {len(mine)} | {len(full)} | "
            f"{quantile(full, 0.5) if full else float('nan'):.2f} s | {p99:.2f} s | {verdict} |"
        )
    reach = sorted(len(r.delivered) for r in records)
    print(f"\nnodes reached per post (min/median): {reach[0]}/{reach[len(reach) // 2]} of {args.nodes - 1}")
    stats = sum((r.stats for r in net.relays), start=type(net.relays[0].stats)())
    print(f"\nstem counters over all nodes: {dict(stats)}")
    print(f"(wall {time.perf_counter() - started:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--posts", type=int, default=100, help="posts per mode (stem on, stem off)")
    parser.add_argument("--interval", type=float, default=0.4, help="seconds between posts")
    parser.add_argument("--spy-sets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--adversary", choices=["all", "outbound"], help="add a node that dials everyone (see above)")
    add_q_option(parser)
    args = parser.parse_args()
    if args.nodes < 30:
        parser.error("at least 30 nodes")
    logging.basicConfig(level=logging.ERROR)
    trio.run(amain, args)


if __name__ == "__main__":
    main()
