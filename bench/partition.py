"""Partition healing: how long after two halves meet every node holds every post.

Runs the scenario of ``tests/partition.py`` (four real ``p2pnet daemon``
processes on 127.0.9.1-4 with production settings; each half posts while
apart; node 1 restarts knowing one address of the other half) and times from
node 1 answering again until all four hold the same set. Two ways to heal:

* after the stems: both authors hold nothing back, so what is timed is sync
  on connect, periodic sync and peer exchange;
* at once: node 1 restarts straight after the last post, losing the stem
  objects it was relaying; node 0's embargo (10 s plus an exponential part
  of mean 5 s, ``docs/protocol.md`` §11) must bring those back.

Target (issue "Catch-up and durability"): the same set everywhere within 60 s.

    python bench/partition.py [--runs 3] [--posts 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness.daemons import DaemonProcess
from harness.partition import partition

ROOT = Path(__file__).resolve().parent.parent
IPS = [f"127.0.9.{n}" for n in range(1, 5)]
TARGET = 60.0
GIVE_UP = 300.0


def heal_time(posts: int, settle: bool) -> float | None:
    """Seconds from the heal until every node holds every post; None if not within ``GIVE_UP``."""
    with tempfile.TemporaryDirectory(prefix="p2pnet-partition-") as tmp:
        nodes = []
        for i, ip in enumerate(IPS):
            node = DaemonProcess(Path(tmp) / f"n{i}", ip, env={"PYTHONPATH": str(ROOT)})
            node.home.mkdir(parents=True)
            node.cli("init")
            nodes.append(node)
        with partition(nodes, posts, settle=settle) as run:
            while time.monotonic() - run.since < GIVE_UP:
                if run.healed():
                    return time.monotonic() - run.since
                time.sleep(0.1)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs of each way to heal (default 3)")
    ap.add_argument("--posts", type=int, default=200, help="posts each half makes while apart (default 200)")
    args = ap.parse_args()
    if args.runs < 1 or args.posts < 1:
        ap.error("--runs and --posts must be at least 1")

    target = f"target <= {TARGET:.0f} s"
    print(f"| heal             | runs | posts/half | median  | max     | {target} |")
    print(f"| ---------------- | ---- | ---------- | ------- | ------- | {'-' * len(target)} |")
    for label, settle in (("after the stems", True), ("at once", False)):
        times = [heal_time(args.posts, settle) for _ in range(args.runs)]
        healed = [t for t in times if t is not None]
        if len(healed) < len(times):
            median = maximum = f"> {GIVE_UP:.0f} s"
        else:
            median, maximum = f"{statistics.median(healed):.1f} s", f"{max(healed):.1f} s"
        met = "met" if len(healed) == len(times) and max(healed) <= TARGET else "MISSED"
        cells = f"| {label:<16} | {args.runs:<4} | {args.posts:<10} | {median:<7} | {maximum:<7} |"
        print(f"{cells} {met:<{len(target)}} |")


if __name__ == "__main__":
    main()
