"""Joining a friend's swarm across home routers, in the network lab: one table per NAT pair.

Each trial builds a fresh lab (tests/netlab: network namespaces, an
"internet" on documentation addresses, home routers doing NAT with nftables)
and starts real ``p2pnet daemon`` processes in it:

* A, the inviter, and B, the friend who joins, each placed public, behind a
  cone NAT (endpoint-independent) or behind a symmetric NAT (random ports);
* where neither A nor B is public, a public member R: R makes the swarm and A
  joins it first, as a friend with a public node would have set things up.
  Where one of them is public, it is A, the inviter, and there is no R.

Then B joins with A's invite key alone (``p2pnet swarm join KEY``), A posts
and B posts, and the trial measures:

* ``join``: the join command succeeded and both posts were stored by the other
  side within the deadline;
* ``first post s``: from the start of B's join until A's first post is in B's
  SQLite file;
* ``direct``: within ``--direct-wait`` seconds of delivery, the kernel in A's
  namespace shows an established TCP connection straight to B's outside
  address (B's router, or B): no relay in between;
* ``A says``: how many trials A's ``status`` called its path to B direct
  (``direct`` or ``hole_punched``), to check its word against the kernel's;
* ``R bytes/post``: bytes through R's TCP connections (``ss -ti``, both
  directions) per post while A sends ``--posts`` more posts to B, R's own
  copy of each post as a member included.

    python bench/nat.py [--trials 20] [--pairs cone-cone,symmetric-symmetric] [--direct-wait 20] [--posts 10]

Needs root, ``ip`` and ``nft`` (as the lab tests); prints one clear line and
exits 2 otherwise.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness.daemons import LOW_DIFFICULTY, DaemonProcess, running
from harness.polling import DEADLINE
from netlab import Host, Lab, Nat, lab_unavailable, open_lab

PLACES = {"public": None, "cone": Nat.CONE, "symmetric": Nat.SYMMETRIC}
PAIRS = ["public-public", "public-cone", "public-symmetric", "cone-cone", "cone-symmetric", "symmetric-symmetric"]


@dataclass
class Trial:
    joined: bool = False
    first_post: float | None = None
    direct: bool = False
    path: str = ""  # A's own word for its path to B (status ``paths``), beside the kernel's
    relay_bytes_per_post: float | None = None
    error: str = ""


def _place(lab: Lab, where: str) -> tuple[Host, str]:
    """A host placed as ``where`` says, and the address others see it at (its router's, behind NAT)."""
    nat = PLACES[where]
    if nat is None:
        host = lab.public_host()
        return host, host.ip
    router = lab.home_router(nat)
    return lab.lan_host(router), router.ip


def _daemon(host: Host, home: Path) -> DaemonProcess:
    node = DaemonProcess(home, host.ip, wrap=host.wrap([]))
    node.home.mkdir(parents=True)
    node.cli("init")
    return node


def _until(check: object, deadline: float) -> bool:
    """Poll ``check`` (a callable) every 0.2 s until it is true or ``deadline`` (monotonic) passes."""
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def _established(host: Host, peer_ip: str | None = None) -> list[str]:
    """``ss -Htni`` lines (socket, then its info line) for established TCP connections in ``host``."""
    out = host.run("ss", "-Htni", "state", "established", check=True).stdout.splitlines()
    pairs = [(out[i], out[i + 1] if i + 1 < len(out) else "") for i in range(0, len(out), 2)]
    return [f"{a} {b}" for a, b in pairs if peer_ip is None or a.split()[-1].startswith(f"{peer_ip}:")]


def _tcp_bytes(host: Host) -> int:
    """Bytes sent and received over every established TCP connection in ``host``."""
    total = 0
    for line in _established(host):
        for key in ("bytes_sent", "bytes_received"):
            m = re.search(rf"\b{key}:(\d+)", line)
            total += int(m.group(1)) if m else 0
    return total


def trial(pair: str, base: Path, direct_wait: float, posts: int) -> Trial:
    where_a, where_b = pair.split("-")
    result = Trial()
    with open_lab() as lab, ExitStack() as stack:
        host_a, _ = _place(lab, where_a)
        host_b, b_outside = _place(lab, where_b)
        relay = lab.public_host() if PLACES[where_a] is not None and PLACES[where_b] is not None else None
        hosts = [("a", host_a), ("b", host_b)] + ([("r", relay)] if relay else [])
        nodes = {name: _daemon(host, base / name) for name, host in hosts}
        stack.enter_context(running(*nodes.values()))
        for node in nodes.values():
            node.start()
        a, b = nodes["a"], nodes["b"]
        if relay is not None:
            made = nodes["r"].cli("swarm", "create", "friends", "--difficulty", LOW_DIFFICULTY)
            a.cli_json("swarm", "join", made.stdout.strip().splitlines()[-1])
            invite = a.cli("swarm", "invite", "friends").stdout.strip().splitlines()[-1]
        else:
            made = a.cli("swarm", "create", "friends", "--difficulty", LOW_DIFFICULTY)
            invite = made.stdout.strip().splitlines()[-1]
        start = time.monotonic()
        joined = b.cli("swarm", "join", invite, "--json", check=False)
        if joined.returncode != 0:
            result.error = joined.stderr.strip().splitlines()[-1] if joined.stderr.strip() else "join failed"
            return result
        from_a = a.call("post", text="hello from A")["id"]
        from_b = b.call("post", text="hello from B")["id"]
        deadline = start + DEADLINE
        if not _until(lambda: from_a in b.stored_ids(), deadline):
            result.error = "A's post never reached B"
            return result
        result.first_post = time.monotonic() - start
        if not _until(lambda: from_b in a.stored_ids(), deadline):
            result.error = "B's post never reached A"
            return result
        result.joined = True
        result.direct = _until(lambda: bool(_established(host_a, b_outside)), time.monotonic() + direct_wait)
        [b_swarm], [a_swarm] = b.call("status")["swarms"], a.call("status")["swarms"]
        result.path = a_swarm["paths"].get(b_swarm["peer_id"], "none")
        if relay is not None:
            before = _tcp_bytes(relay)
            ids = [a.call("post", text=f"more from A {i}")["id"] for i in range(posts)]
            if _until(lambda: set(ids) <= b.stored_ids(), time.monotonic() + DEADLINE):
                result.relay_bytes_per_post = (_tcp_bytes(relay) - before) / posts
    return result


def _q(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per NAT pair (default 20)")
    parser.add_argument("--pairs", default=",".join(PAIRS), help=f"comma-separated, of: {', '.join(PAIRS)}")
    parser.add_argument("--direct-wait", type=float, default=20.0, help="seconds to wait for a direct path")
    parser.add_argument("--posts", type=int, default=10, help="posts sent to count bytes through R")
    args = parser.parse_args()
    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()]
    unknown = [p for p in pairs if p not in PAIRS]
    if unknown or args.trials < 1 or args.posts < 1 or args.direct_wait < 0:
        parser.error(f"unknown pair(s) {', '.join(unknown)}" if unknown else "--trials and --posts must be >= 1")
    reason = lab_unavailable()
    if reason:
        print(f"bench/nat.py: {reason}", file=sys.stderr)
        return 2
    rows = []
    for pair in pairs:
        results = []
        for n in range(args.trials):
            with tempfile.TemporaryDirectory(prefix="p2pnet-nat-") as tmp:
                results.append(trial(pair, Path(tmp), args.direct_wait, args.posts))
            last = results[-1]
            print(
                f"  {pair} #{n + 1}: {'ok' if last.joined else 'FAILED ' + last.error}"
                f"{', direct' if last.direct else ''}",
                file=sys.stderr,
                flush=True,
            )
        rows.append((pair, results))
    print(
        f"\n{'A-B (inviter-joiner)':<22}{'joined':>9}{'first post s p50/p95':>23}{'direct':>9}{'A says':>9}"
        f"{'R bytes/post':>14}"
    )
    for pair, results in rows:
        ok = [r for r in results if r.joined]
        times = [r.first_post for r in ok if r.first_post is not None]
        direct = sum(r.direct for r in ok)
        said = sum(r.path in ("direct", "hole_punched") for r in ok)
        per_post = [r.relay_bytes_per_post for r in ok if r.relay_bytes_per_post is not None]
        timing = f"{_q(times, 50):.1f} / {_q(times, 95):.1f}" if times else "-"
        print(
            f"{pair:<22}{len(ok):>4}/{len(results):<4}{timing:>23}"
            f"{f'{direct}/{len(ok)}' if ok else '-':>9}"
            f"{f'{said}/{len(ok)}' if ok else '-':>9}"
            f"{f'{statistics.median(per_post):,.0f}' if per_post else '-':>14}"
        )
        for r in results:
            if r.error:
                print(f"    failed: {r.error[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
