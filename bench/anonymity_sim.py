"""First-spy precision of p2pnet's stem, simulated over thousands of nodes.

The stem decisions are the real ones: every simulated node runs its own
:class:`protocol.StemState` (routes per epoch and inbound edge, fluff with
probability q, the originator always stems) with the production
:class:`protocol.StemParams`.  What is modelled:

* the network: a random graph of N nodes of degree 8 (configuration model;
  the few self-loops and double edges are dropped), each edge with a fixed
  one-way latency drawn uniformly from 20-120 ms;
* gossip: flooding over every edge, so each node first hears a fluffed object
  along the fastest path from the fluffing node (Dijkstra); gossipsub sends
  on 6 of 8 links plus IHAVE gossip, which only adds randomness the spies
  cannot exploit;
* a fluff waits the real publish jitter; stems are honest (no black holes), so
  no embargo fires.

Spies are passive: they relay like everyone else and record, for each object,
who first handed it to them (by stem or by gossip).  The adversary takes the
spy that got an object first and guesses that its sender is the author.
Because spies do not change what anyone does, one simulated run is scored
against many random spy sets; objects written by a spy are not counted.
Precision is the share of counted objects whose author was guessed right; the
95 % interval is Wilson's, counting each object once (conservative, as every
object is scored against many spy sets).

    python bench/anonymity_sim.py [--nodes 1000] [--posts 1000] [--spy-sets 20] [--seed 1] [--q Q]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import protocol

DEGREE = 8
LATENCY = (0.020, 0.120)  # seconds, one way, per edge
POST_INTERVAL = 1.0  # simulated seconds between posts: ~600 posts per stem epoch
SPY_FRACTIONS = (0.10, 0.20)


@dataclass
class Graph:
    neighbours: list[list[int]]
    latency: dict[tuple[int, int], float]

    @classmethod
    def random(cls, n: int, rng: random.Random) -> Graph:
        stubs = [i for i in range(n) for _ in range(DEGREE)]
        rng.shuffle(stubs)
        adj: list[set[int]] = [set() for _ in range(n)]
        for a, b in zip(stubs[::2], stubs[1::2], strict=True):
            if a != b:
                adj[a].add(b)
                adj[b].add(a)
        latency: dict[tuple[int, int], float] = {}
        for a in range(n):
            for b in adj[a]:
                if a < b:
                    latency[a, b] = latency[b, a] = rng.uniform(*LATENCY)
        return cls([sorted(s) for s in adj], latency)


@dataclass
class Spread:
    """How one object reached every node: when, and from whom first."""

    author: int
    first_time: list[float]
    first_from: list[int]
    stem_hops: int


def flood(graph: Graph, source: int) -> tuple[list[float], list[int]]:
    """Earliest arrival time and first sender at every node when ``source`` gossips at time 0."""
    n = len(graph.neighbours)
    dist = [math.inf] * n
    pred = [-1] * n
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v in graph.neighbours[u]:
            nd = d + graph.latency[u, v]
            if nd < dist[v]:
                dist[v], pred[v] = nd, u
                heapq.heappush(heap, (nd, v))
    return dist, pred


class Sim:
    def __init__(self, n: int, seed: int, params: protocol.StemParams) -> None:
        self.rng = random.Random(seed)
        self.graph = Graph.random(n, self.rng)
        self.params = params
        self.states = [protocol.StemState(random.Random(seed * 1_000_003 + i), params) for i in range(n)]
        self._floods: dict[int, tuple[list[float], list[int]]] = {}

    def flood_from(self, source: int) -> tuple[list[float], list[int]]:
        if source not in self._floods:
            self._floods[source] = flood(self.graph, source)
        return self._floods[source]

    def spread(self, k: int, author: int, *, stem: bool) -> Spread:
        n = len(self.graph.neighbours)
        now = k * POST_INTERVAL
        oid = k.to_bytes(32, "big")
        stem_at: dict[int, tuple[float, int]] = {}
        hops = 0
        fluff_node, fluff_time = author, now
        if stem:
            action: protocol.Forward | protocol.Fluff | None = self.states[author].originate(
                oid, b"", [str(p) for p in self.graph.neighbours[author]], now
            )
            node, t = author, now
            while isinstance(action, protocol.Forward):
                nxt = int(action.peer)
                t += self.graph.latency[node, nxt]
                hops += 1
                stem_at.setdefault(nxt, (t, node))
                action = self.states[nxt].receive(oid, b"", str(node), [str(p) for p in self.graph.neighbours[nxt]], t)
                node = nxt
            assert action is not None, "honest stems end in a fluff"
            fluff_node, fluff_time = node, t + self.rng.uniform(0.0, self.params.publish_jitter)
        dist, pred = self.flood_from(fluff_node)
        first_time, first_from = [0.0] * n, [-1] * n
        for v in range(n):
            gossip = (fluff_time + dist[v], pred[v])
            first_time[v], first_from[v] = min(stem_at.get(v, gossip), gossip)
        for v in stem_at:
            self.states[v].seen(oid)  # gossip reaches every stem hop: its entry ends
        self.states[author].seen(oid)
        return Spread(author, first_time, first_from, hops)


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def first_spy_precision(
    spreads: list[Spread], n: int, fraction: float, sets: int, rng: random.Random
) -> tuple[float, float, float, int]:
    """Pooled precision over ``sets`` random spy sets, its Wilson interval, and the objects counted."""
    orders = [sorted(range(n), key=s.first_time.__getitem__) for s in spreads]
    hits = total = 0
    for _ in range(sets):
        spies = set(rng.sample(range(n), round(fraction * n)))
        for s, order in zip(spreads, orders, strict=True):
            if s.author in spies:
                continue
            first = next(v for v in order if v in spies)
            hits += s.first_from[first] == s.author
            total += 1
    precision = hits / total
    objects = round(total / sets)
    lo, hi = wilson(round(precision * objects), objects)
    return precision, lo, hi, objects


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def add_q_option(parser: argparse.ArgumentParser) -> None:
    """``--q``: the fluff probability to measure, by default the production one."""

    def probability(text: str) -> float:
        value = float(text)
        if not 0.0 < value <= 1.0:
            raise argparse.ArgumentTypeError(f"{text} is not in (0, 1]")
        return value

    parser.add_argument(
        "--q", type=probability, default=protocol.StemParams().fluff_probability, help="fluff probability"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--spy-sets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    add_q_option(parser)
    args = parser.parse_args()
    params = protocol.StemParams(fluff_probability=args.q)
    started = time.process_time()
    rng = random.Random(args.seed)
    results: dict[bool, list[Spread]] = {}
    for stem in (False, True):
        sim = Sim(args.nodes, args.seed, params)  # the same graph for both
        authors = random.Random(args.seed + 7)
        results[stem] = [sim.spread(k, authors.randrange(args.nodes), stem=stem) for k in range(args.posts)]
    degrees = [len(nb) for nb in Sim(args.nodes, args.seed, params).graph.neighbours]

    print(f"Simulated first-spy adversary: {args.nodes} nodes, mean degree {statistics.mean(degrees):.2f}, ")
    print(f"edge latency {LATENCY[0] * 1000:.0f}-{LATENCY[1] * 1000:.0f} ms, {args.posts} posts per mode, ")
    print(
        f"{args.spy_sets} random spy sets per cell; stem q = {params.fluff_probability}, epoch {params.epoch:.0f} s, "
        f"{params.relays} relays/epoch, publish jitter 0-{params.publish_jitter} s"
    )
    print()
    print("| spies p | stem | first-spy precision | 95% CI | precision / p | target <= 1.3 p |")
    print("|---|---|---|---|---|---|")
    for fraction in SPY_FRACTIONS:
        for stem in (False, True):
            prec, lo, hi, _ = first_spy_precision(results[stem], args.nodes, fraction, args.spy_sets, rng)
            verdict = ("met" if prec <= 1.3 * fraction else "MISSED") if stem else "-"
            print(
                f"| {fraction:.0%} | {'on' if stem else 'off'} | {prec:.1%} | {lo:.1%}-{hi:.1%} "
                f"| {prec / fraction:.2f} | {verdict} |"
            )
    print()
    print("| stem | mean stem hops | p99 stem hops | p50 time to all | p99 time to all |")
    print("|---|---|---|---|---|")
    for stem in (False, True):
        spreads = results[stem]
        to_all = [max(s.first_time) - k * POST_INTERVAL for k, s in enumerate(spreads)]
        hops = [float(s.stem_hops) for s in spreads]
        print(
            f"| {'on' if stem else 'off'} | {statistics.mean(hops):.2f} | {quantile(hops, 0.99):.0f} "
            f"| {quantile(to_all, 0.5):.2f} s | {quantile(to_all, 0.99):.2f} s |"
        )
    print(f"\n(simulated time; {time.process_time() - started:.1f} s of CPU)")


if __name__ == "__main__":
    main()
