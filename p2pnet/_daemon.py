"""``p2pnet daemon``: run one node in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import sys

import trio

import protocol

from ._home import Home, HomeLocked
from ._node import Node, NodeConfig
from ._store import StoreError

__all__ = ["run_daemon"]


async def _serve(node: Node) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def on_signal() -> None:
                async for _ in signals:
                    node.shutdown()
                    return

            nursery.start_soon(on_signal)
            await nursery.start(node.run)
            print(f"p2pnet node running for {node.home.root} (control socket {node.home.socket})", flush=True)
            await node.stopped.wait()
            nursery.cancel_scope.cancel()


def run_daemon(home: Home, *, listen_ip: str = "0.0.0.0", announce_ip: str | None = None) -> int:
    """Run a node for ``home``; returns the process exit code."""
    # py-libp2p's yamux answers every read with a window update (an extra
    # encrypted frame per message); go-yamux's half-window hysteresis is the
    # documented alternative and costs nothing in throughput.
    os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")
    logging.basicConfig(
        level=os.environ.get("P2PNET_LOG", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        lock = home.acquire_lock()
    except HomeLocked as exc:
        print(f"p2pnet: error: {exc}", file=sys.stderr)
        return 1
    try:
        config = NodeConfig(
            home, listen_ip=listen_ip, announce_ip=announce_ip, passphrase=os.environ.get("P2PNET_PASSPHRASE") or None
        )
        if os.environ.get("P2PNET_SYNC_INTERVAL"):
            config.sync_interval = float(os.environ["P2PNET_SYNC_INTERVAL"])
        node = Node(config)
        try:
            node.open()
        except (protocol.ProtocolError, StoreError) as exc:
            print(f"p2pnet: error: {exc}", file=sys.stderr)
            return 1
        trio.run(_serve, node)
    finally:
        lock.close()
    print("p2pnet node stopped", flush=True)
    return 0
