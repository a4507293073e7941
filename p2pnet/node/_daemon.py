"""``p2pnet daemon``: run one node in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import signal
import sys
from typing import IO

import trio

import protocol

from ..api import Home, HomeLocked, locked_note
from ..net import Rate
from ..store import Store, StoreCorrupt, StoreError
from ._addrs import check_announce_ip
from ._errors import ApiError
from ._logs import configure_logging
from ._node import Node, NodeConfig

__all__ = ["recover", "run_daemon"]

log = logging.getLogger(__name__)


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
            if node.identity.state == "locked":
                print(locked_note(node.home), flush=True)
                log.warning("%s", locked_note(node.home))
            await node.stopped.wait()
            nursery.cancel_scope.cancel()


def _lock(home: Home, hint: str = "") -> IO[str] | None:
    """The home's daemon lock, or None (said on stderr) if a node holds it."""
    try:
        return home.acquire_lock()
    except HomeLocked as exc:
        print(f"p2pnet: error: {exc}{hint}", file=sys.stderr)
        return None


def _rate(text: str) -> Rate | None:
    """``RATE/BURST`` (objects a second / at once), both positive; None if it is not that."""
    try:
        rate, burst = (float(part) for part in text.split("/"))
    except ValueError:
        return None
    return Rate(rate=rate, burst=burst) if 0 < rate < math.inf and 0 < burst < math.inf else None


def run_daemon(
    home: Home, *, listen_ip: str = "0.0.0.0", announce_ip: str | None = None, lan: bool = True, upnp: bool = True
) -> int:
    """Run a node for ``home``; returns the process exit code."""
    configure_logging(os.environ.get("P2PNET_LOG", "WARNING"))
    if announce_ip is not None:
        try:
            announce_ip = check_announce_ip(announce_ip)
        except ApiError as exc:
            print(f"p2pnet: error: --announce-ip: {exc}", file=sys.stderr)
            return 2
    lock = _lock(home)
    if lock is None:
        return 1
    try:
        config = NodeConfig(
            home,
            listen_ip=listen_ip,
            announce_ip=announce_ip,
            passphrase=os.environ.get("P2PNET_PASSPHRASE") or None,
            lan=lan,
            upnp=upnp,
        )
        if os.environ.get("P2PNET_SYNC_INTERVAL"):
            config.sync_interval = float(os.environ["P2PNET_SYNC_INTERVAL"])
        if os.environ.get("P2PNET_GOSSIP_LIMIT"):
            limit = _rate(os.environ["P2PNET_GOSSIP_LIMIT"])
            if limit is None:
                print("p2pnet: error: P2PNET_GOSSIP_LIMIT must be RATE/BURST, e.g. 20/1000", file=sys.stderr)
                return 1
            config.gossip = dataclasses.replace(config.gossip, gossip_limit=limit)
        try:
            node = Node.open(config)
        except StoreCorrupt as exc:
            print(f"p2pnet: error: {exc}", file=sys.stderr)
            print(f"p2pnet: to move it aside and start afresh, run: {home.command('recover')}", file=sys.stderr)
            return 1
        except (protocol.ProtocolError, StoreError) as exc:
            print(f"p2pnet: error: {exc}", file=sys.stderr)
            return 1
        trio.run(_serve, node)
    finally:
        lock.close()
    print("p2pnet node stopped", flush=True)
    return 0


def recover(home: Home) -> int:
    """``p2pnet recover``: check the database fully; move it aside if it is damaged.

    Never deletes: a damaged file is renamed (``Store.quarantine``) so the next
    start begins empty and the old bytes stay for a recovery tool.
    """
    lock = _lock(home, f"; stop the node first: {home.command('stop')}")
    if lock is None:
        return 1
    try:
        path = home.database
        if not path.exists():
            print(f"no database at {path}; nothing to recover")
            return 0
        corrupt = False
        try:
            Store.open(path).close()
        except StoreCorrupt:
            corrupt = True
        except StoreError as exc:
            print(f"p2pnet: error: {exc}", file=sys.stderr)
            return 1
        problems = Store.integrity_check(path) or (["it fails the check at open"] if corrupt else [])
        if not problems:
            print(f"{path}: integrity check ok; nothing to recover")
            return 0
        kept, keyring_problem = Store.memberships_to_keep(path)
        if keyring_problem:
            print(f"p2pnet: warning: {keyring_problem}", file=sys.stderr)
        moved = Store.quarantine(path)
        with Store.open(path) as fresh:
            rejoined = fresh.restore_memberships(kept)
        print(f"{path} is damaged: " + "; ".join(problems[:3]))
        print(f"It was moved to {moved} (nothing was deleted); the node starts afresh next time.")
        if rejoined:
            print(f"Swarm memberships kept: {', '.join(rejoined)}.")
        rejoin = "." if rejoined else "; join your swarms again with their invite keys."
        print("Posts come back from peers by sync" + rejoin)
        return 0
    finally:
        lock.close()
