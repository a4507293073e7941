"""Real p2pnet daemons for tests: separate processes, own homes, own 127.0.0.N.

Used by the integration, CLI and TUI tests.  Nothing here fakes the node: each
:class:`DaemonProcess` is ``python -m p2pnet daemon`` talking over real sockets.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import protocol
from p2pnet.api import ControlClient, NodeNotRunning

from .polling import DEADLINE, wait_for

if TYPE_CHECKING:
    from p2pnet.net import GossipParams, SwarmHost

T = TypeVar("T")
# The stamp difficulty of swarms in daemon tests that are not about stamps: at
# the default (18 bits, about 0.1 s a post on one core) a burst of hundreds of
# posts is a minute of minting.  tests/test_stamps.py runs the default.
LOW_DIFFICULTY = "8"


class DaemonProcess:
    """One ``p2pnet daemon`` process with its own home and loopback address.

    ``wrap`` goes before the daemon's command line: the network lab runs it
    inside a namespace with ``ip netns exec NS``.  The control socket is a
    file in the home, so the CLI and the tests reach it from outside.
    """

    def __init__(
        self,
        home: Path,
        ip: str,
        env: dict[str, str] | None = None,
        wrap: Sequence[str] = (),
        args: Sequence[str] = (),
    ) -> None:
        self.home = home
        self.ip = ip
        self.env = env or {}
        self.wrap = list(wrap)
        self.args = list(args)  # more of the daemon's options
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home / "test-daemon.log"

    @property
    def socket(self) -> Path:
        return self.home / "control.sock"

    def cli(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real ``p2pnet`` command line against this node's home."""
        out = subprocess.run(
            self._command(*args),
            capture_output=True,
            text=True,
            input=input,
            timeout=DEADLINE * 2,
            env={**os.environ, **self.env},
        )
        if check and out.returncode != 0:
            raise AssertionError(f"p2pnet {' '.join(args)} failed ({out.returncode}): {out.stderr}")
        return out

    def _command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "p2pnet", "--home", str(self.home), *args]

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def start(self) -> DaemonProcess:
        if "PYTEST_CURRENT_TEST" in os.environ and not os.environ.get("P2PNET_TEST_INTEGRATION"):
            raise AssertionError("a test that starts daemon processes must be marked @pytest.mark.integration")
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [*self.wrap, *self._command("daemon", "--listen-ip", self.ip, *self.args)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "P2PNET_LOG": "INFO", **self.env},
        )
        log.close()
        wait_for(self._answers, what=f"daemon at {self.home} to answer")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log.read_text()}")
        try:
            with ControlClient(self.socket, timeout=5) as client:
                client.call("status")
            return True
        except (NodeNotRunning, ConnectionError, OSError):
            return False

    def call(self, method: str, **params: Any) -> Any:
        with ControlClient(self.socket, timeout=DEADLINE) as client:
            return client.call(method, **params)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def in_mesh(self, swarm: str) -> bool:
        """The node has a gossip mesh peer in this swarm, so what it publishes now reaches them."""
        return any(s["swarm"] == swarm and s["mesh"] for s in self.call("peers")["swarms"])

    def stored_ids(self) -> set[str]:
        """Every object id (hex) in the node's store, read from its SQLite file (running or not)."""
        with sqlite3.connect(f"file:{self.home / 'node.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
            return {bytes(i).hex() for (i,) in db.execute("SELECT id FROM objects")}


@contextmanager
def running(*nodes: DaemonProcess) -> Iterator[None]:
    """Stop every one of ``nodes`` on the way out, however the block ends."""
    try:
        yield
    finally:
        for node in nodes:
            node.stop()


def join_swarm(first: DaemonProcess, others: list[DaemonProcess]) -> str:
    """``first`` creates the swarm "friends" (:data:`LOW_DIFFICULTY`); every one of ``others`` joins by its invite."""
    invite = first.cli("swarm", "create", "friends", "--difficulty", LOW_DIFFICULTY).stdout.strip().splitlines()[-1]
    for node in others:
        node.cli_json("swarm", "join", invite)
    return invite


def post_in_thread(
    node: DaemonProcess, prefix: str, count: int, acked: list[str], stop: threading.Event | None = None
) -> threading.Thread:
    """Post ``count`` posts (or until ``stop``) in a thread; the ids the node acknowledged go to ``acked``."""

    def run() -> None:
        for i in range(count):
            if stop is not None and stop.is_set():
                return
            acked.append(node.call("post", text=f"{prefix} {i}")["id"])
            if stop is not None:
                stop.wait(0.1)  # a steady trickle rather than a flood

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def start_node(home: Path, ip: str, *, init: bool = True) -> DaemonProcess:
    """A daemon for ``home`` on ``ip``, with an identity made by ``p2pnet init`` unless ``init`` is False."""
    node = DaemonProcess(home, ip)
    node.home.mkdir(parents=True, exist_ok=True)
    if init:
        node.cli("init")
    return node.start()


@contextmanager
def daemons(base: Path, count: int, *, first_ip: int = 2, ip_prefix: str = "127.0.0") -> Iterator[list[DaemonProcess]]:
    """Start ``count`` daemons with identities, on <ip_prefix>.<first_ip>..; stop them all after."""
    nodes: list[DaemonProcess] = []
    try:
        for i in range(count):
            nodes.append(start_node(base / f"node{i}", f"{ip_prefix}.{first_ip + i}"))
        yield nodes
    finally:
        for node in nodes:
            node.stop()


@asynccontextmanager
async def hostile_peer(
    invite: protocol.Invite, ip: str, *, dial: int = 1, params: GossipParams | None = None
) -> AsyncIterator[SwarmHost]:
    """A raw libp2p host in the invite's swarm that checks nothing it sends or forwards.

    It dials the first ``dial`` bootstrap peers of the invite and is yielded
    once it has a gossip mesh peer, so what it publishes reaches the swarm.
    ``params``: its gossip settings (the defaults if None).
    """
    import trio

    from p2pnet.net import open_swarm_host

    async with open_swarm_host(
        host_key_seed=os.urandom(32),
        psk=invite.psk,
        topic="p2pnet/v1/" + protocol.swarm_id(invite.psk).hex(),
        validator=lambda data: True,  # the attacker forwards anything
        listen_ip=ip,
        params=params,
    ) as host:
        with trio.fail_after(DEADLINE):
            for addr in invite.bootstrap[:dial]:
                await host.connect(addr)
            while not host.mesh_peers():
                await trio.sleep(0.1)
        yield host
