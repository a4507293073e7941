"""``p2pnet demo``: a small live swarm on this machine, so a newcomer sees it work.

Starts a few real headless daemons on 127.0.0.x, each with its own home under
``<home>/demo``, joins them into one swarm with an invite key, posts, replies
and hearts, then prints how to open the TUI on one of them.  Ctrl-C stops them.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import subprocess
import sys
import time

from .api import ControlClient, ControlError, Home, NodeNotRunning

__all__ = ["run_demo"]

POSTS = [
    ("I still sleep with the light on. I'm 34.", "indigo"),
    ("Sometimes I order for two so the delivery guy doesn't think I'm lonely.", "tangerine"),
    ("I pretend to be busy at work, but I finished everything by 11.", "teal"),
    ("My cat is the only one who knows I sing in the shower.", "rose"),
    ("I took the job for the free snacks. No regrets.", "amber"),
    ("I have never once read the terms and conditions.", "forest"),
]
REPLIES = ["same here", "this is oddly comforting", "honestly relatable", "you're not alone ♥", "lol yes"]


def _wait_socket(home: Home, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"demo node exited early; see {home.log}")
        try:
            with ControlClient(home.socket, timeout=5) as client:
                client.call("status")
                return
        except (NodeNotRunning, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"demo node did not start; see {home.log}")


def run_demo(home: Home, *, nodes: int = 4) -> int:
    """Run the demo swarm in the foreground; returns the exit code."""
    if not 2 <= nodes <= 8:
        print("p2pnet: error: --nodes must be between 2 and 8", file=sys.stderr)
        return 2
    base = home.root / "demo"
    if base.exists():
        shutil.rmtree(base)
    homes = [Home(base / f"node{i}") for i in range(nodes)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, h in enumerate(homes):
            h.create()
            subprocess.run(
                [sys.executable, "-m", "p2pnet", "--home", str(h.root), "init"], check=True, capture_output=True
            )
            with open(h.log, "ab") as log:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "p2pnet",
                            "--home",
                            str(h.root),
                            "daemon",
                            "--listen-ip",
                            f"127.0.0.{2 + i}",
                        ],
                        stdout=log,
                        stderr=log,
                        stdin=subprocess.DEVNULL,
                    )
                )
            _wait_socket(h, procs[-1])
            print(f"started demo node {i} on 127.0.0.{2 + i}")
        clients = [ControlClient(h.socket) for h in homes]
        invite = clients[0].call("swarm.create", name="demo")["invite"]
        for i, client in enumerate(clients[1:], 1):
            client.call("swarm.join", invite=invite)
            print(f"demo node {i} joined the swarm")
        rng = random.Random(2014)
        ids = []
        for text, bg in POSTS:
            author = rng.choice(clients)
            ids.append(author.call("post", text=text, bg=bg)["id"])
        time.sleep(2)  # let gossip carry the posts before others react to them
        for post_id in ids:
            for client in rng.sample(clients, k=rng.randint(1, len(clients))):
                with contextlib.suppress(ControlError):  # that node has not received the post yet
                    client.call("heart", id=post_id)
                    if rng.random() < 0.4:
                        client.call("reply", id=post_id, text=rng.choice(REPLIES))
        for client in clients:
            client.close()
        print()
        print("The demo swarm is running. Open the TUI on one of its nodes with:")
        print(f"    p2pnet --home {homes[0].root}")
        print("Press Ctrl-C here to stop the demo nodes.")
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass  # Ctrl-C (or SIGTERM) is how the demo is meant to end
    except (ControlError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"p2pnet: error: demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("demo nodes stopped")
    return 0
