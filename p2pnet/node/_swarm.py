"""One joined swarm at run time: its host, its stem and sync, and keeping its peers connected.

:class:`Swarms` starts a :class:`SwarmRuntime` per joined swarm and keeps it
running: a host that fails after it started is started again after a back-off
(``failures["swarm"]``), known peers are redialled with a per-peer back-off,
and the peers the host is connected to are remembered in the store so a
restarted node finds them again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import trio

import protocol

from ..net import (
    RELAY_DIAL_DELAY,
    RESTART_MAX,
    RESTART_MIN,
    Failures,
    GossipParams,
    Guard,
    LanFinder,
    PortMapper,
    StemRelay,
    SwarmConnectError,
    SwarmHost,
    SwarmSync,
    supervised,
)
from ..store import Store, Swarm
from ._addrs import invite_addrs, invite_ips, port_of
from ._errors import ApiError
from ._inbound import Inbound, Source, Verified
from ._reachnote import private_ip

__all__ = ["OpenHost", "SwarmRuntime", "SwarmSettings", "Swarms", "topic_of"]

log = logging.getLogger(__name__)

Send = Callable[[protocol.Signed, Iterable[bytes]], None]  # an own object to stamp, then stem in these swarms

REDIAL_MIN, REDIAL_MAX = 1.0, 60.0  # seconds of backoff between redials of one peer


class OpenHost(Protocol):
    """Opens a swarm host for an ``async with`` block: :func:`p2pnet.net.open_swarm_host`, or a test's fake."""

    def __call__(
        self,
        *,
        host_key_seed: bytes,
        psk: bytes,
        topic: str,
        validator: Callable[[bytes], bool],
        on_message: Callable[[bytes], Any],
        listen_ip: str,
        port: int,
        params: GossipParams,
        failures: Failures,
        guard: Guard,
    ) -> AbstractAsyncContextManager[SwarmHost]: ...


def topic_of(swarm_id: bytes) -> str:
    """The gossip topic of a swarm."""
    return "p2pnet/v1/" + swarm_id.hex()


@dataclass
class SwarmRuntime:
    """A joined swarm whose host is running."""

    id: bytes
    name: str
    psk: bytes
    difficulty: int  # the stamp every object here needs: what its gossip, stem and sync refuse below
    host: SwarmHost
    stem: StemRelay
    sync: SwarmSync
    port: int
    backoff: dict[str, tuple[float, float]] = field(default_factory=dict)  # peer -> (next try, delay)
    upnp: PortMapper | None = None  # the port mapping asked of the router; None: off

    def mapped(self) -> str:
        """The router's "IP:PORT" that forwards to this host (UPnP), or ""."""
        return self.upnp.external if self.upnp is not None and self.upnp.state == "mapped" else ""


@dataclass
class SwarmSettings:
    """How swarm hosts run; the node's config fills it."""

    listen_ip: str
    announce_ip: str | None
    gossip: GossipParams
    sync_interval: float
    clock: Callable[[], float]
    guard: Guard  # the node's ban list, shared by every swarm host
    offload: Callable[..., Awaitable[Any]]  # runs blocking work (sync's store reads) off the event loop
    lan: bool = True  # find members on the local network by beacons (p2pnet.net._lan)
    upnp: bool = True  # ask the LAN's UPnP gateway to forward each swarm's port (p2pnet.net._upnp)


class Swarms:
    """The running swarms of one node.

    Args:
        settings: Listen address, gossip settings, sync interval.
        store: The node's store (peers, held objects, sync reads).
        inbound: Where objects from peers go.
        open_host: How a host is opened (the real one, or a test's fake network).
        failures: Where survived failures are counted.
        now: The current Unix time.
        send: Where own objects still held at a swarm's start go: stamped
            (again, if the stored stamp is too weak), then into its stem.
    """

    def __init__(
        self,
        settings: SwarmSettings,
        store: Store,
        inbound: Inbound,
        open_host: OpenHost,
        failures: Failures,
        now: Callable[[], int],
        send: Send,
    ) -> None:
        self.settings = settings
        self._store = store
        self._inbound = inbound
        self._open_host = open_host
        self._failures = failures
        self._now = now
        self._send = send
        self.running: dict[bytes, SwarmRuntime] = {}
        # Running or waiting to restart: cancelling the scope stops it; the event says it is gone.
        self._scopes: dict[bytes, tuple[trio.CancelScope, trio.Event]] = {}
        self._nursery: trio.Nursery | None = None

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the nursery swarms run in, until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def start(self, seed: bytes, rec: Swarm) -> SwarmRuntime:
        """Start a joined swarm's host; returns once it listens.

        Raises:
            ApiError: ``listen_failed``, no port to listen on.
        """
        assert self._nursery is not None, "serve() first"
        runtime: SwarmRuntime = await self._nursery.start(self._run, seed, rec)
        return runtime

    async def start_all(self, seed: bytes) -> None:
        """Start every joined swarm that is not running."""
        for rec in self._store.swarms():
            if rec.raw_id not in self._scopes:
                await self.start(seed, rec)

    async def stop(self, swarm_id: bytes) -> None:
        """Stop a swarm's host (leaving it, or giving up a join) and wait until it is closed.

        A restart waiting is called off too.  Once this returns the host's
        port and peer id are free again, so the swarm can be joined anew.
        """
        entry = self._scopes.get(swarm_id)
        if entry is not None:
            scope, gone = entry
            scope.cancel()
            await gone.wait()

    def announce(self, ip: str | None) -> None:
        """Name ``ip`` (None: none) as the address invites carry; running hosts ask members to dial it back."""
        self.settings.announce_ip = ip
        for runtime in self.running.values():
            runtime.host.announce(ip)

    def invite_ips(self) -> list[str]:
        """The IP addresses invites name; empty when none is one a friend on another machine could dial."""
        return invite_ips(self.settings.listen_ip, self.settings.announce_ip)

    def invite_addrs(self, runtime: SwarmRuntime) -> list[str]:
        """The addresses an invite to this swarm names: its own (see :meth:`invite_ips`), then its relay addresses."""
        own = invite_addrs(runtime.host.listen_addrs, self.invite_ips(), mapped=runtime.mapped())
        return own + runtime.host.relay_addrs()

    def save_peers(self) -> None:
        """Remember the peers each swarm is connected to, with their dialable addresses."""
        now = self._now()
        for runtime in list(self.running.values()):
            connected = set(runtime.host.connected_peers())
            for pid, addrs in runtime.host.known_peer_addrs().items():
                if pid in connected:
                    self._store.save_peer(runtime.id, pid, addrs, now)

    # -- one swarm ---------------------------------------------------------------------

    async def _run(self, seed: bytes, rec: Swarm, *, task_status: Any) -> None:
        """Run one swarm until it is stopped; a host that fails once it ran is started again."""
        ran: list[SwarmRuntime] = []

        def started(runtime: SwarmRuntime) -> None:
            if not ran:
                task_status.started(runtime)
            ran[:] = [runtime]

        port, delay = rec.port, RESTART_MIN
        gone = trio.Event()
        with trio.CancelScope() as scope:
            self._scopes[rec.raw_id] = (scope, gone)
            try:
                while True:
                    began = trio.current_time()
                    try:
                        await self._serve_one(seed, rec, port, started)
                        return
                    except Exception:
                        if not ran:
                            raise  # never ran: the caller asked for this swarm and sees why
                        self._failures["swarm"] += 1
                        if trio.current_time() - began > RESTART_MAX:
                            delay = RESTART_MIN
                        log.exception("swarm %s failed; it starts again in %.0f s", rec.name, delay)
                    port = ran[0].port
                    await trio.sleep(delay)
                    delay = min(delay * 2, RESTART_MAX)
            finally:
                self._scopes.pop(rec.raw_id, None)
                gone.set()

    async def _serve_one(self, seed: bytes, rec: Swarm, port: int, started: Callable[[SwarmRuntime], None]) -> None:
        swarm_id = rec.raw_id
        runtime: SwarmRuntime | None = None

        async def on_message(data: bytes) -> None:
            item = self._inbound.gossip_delivered(swarm_id, data)
            if runtime is not None:
                runtime.stem.seen(item.signed.id)  # its stem is over: no embargo; ours may be served now
            await self._inbound.submit(item)

        opened = False
        for try_port in (port, 0) if port else (0,):
            try:
                async with self._host(seed, rec, try_port, on_message) as host:
                    opened = True
                    actual = port_of(host.listen_addrs) or try_port
                    runtime = self._runtime(rec, host, actual)
                    host.announce(self.settings.announce_ip)
                    if actual != rec.port:
                        self._store.set_swarm_port(swarm_id, actual)
                    self.running[swarm_id] = runtime
                    try:
                        self._resend_held(runtime)
                        started(runtime)
                        if self.settings.lan and LanFinder.wanted(self.settings.listen_ip):
                            finder = LanFinder(host, rec.psk, actual, self.settings.listen_ip, self._now)
                            host.start_soon(finder.run)
                        if self.settings.upnp and LanFinder.wanted(self.settings.listen_ip):
                            runtime.upnp = PortMapper(actual, self._failures, private_ip, host.advertise_first)
                            host.start_soon(runtime.upnp.run)
                        await supervised(self._redial_loop, runtime, failures=self._failures, restart=True)
                    finally:
                        self.running.pop(swarm_id, None)
                return
            except OSError as exc:
                if opened:
                    raise
                # the port a swarm used last time is taken now: take any free one
                log.warning("swarm %s: port %s unavailable (%s)", rec.name, try_port, exc)
        raise ApiError("listen_failed", f"could not listen for swarm {rec.name!r} on {self.settings.listen_ip}")

    def _host(
        self, seed: bytes, rec: Swarm, port: int, on_message: Callable[[bytes], Any]
    ) -> AbstractAsyncContextManager[SwarmHost]:
        return self._open_host(
            host_key_seed=protocol.swarm_host_seed(seed, rec.psk),
            psk=rec.psk,
            topic=topic_of(rec.raw_id),
            validator=partial(self._inbound.validate_gossip, difficulty=rec.difficulty),
            on_message=on_message,
            listen_ip=self.settings.listen_ip,
            port=port,
            params=self.settings.gossip,
            failures=self._failures,
            guard=self.settings.guard,
        )

    def _runtime(self, rec: Swarm, host: SwarmHost, port: int) -> SwarmRuntime:
        swarm_id = rec.raw_id

        async def fluffed(signed: protocol.Signed) -> None:
            # Our own publish never comes back to on_message: store what we fluffed here.
            await self._inbound.submit(Verified(signed, swarm_id, Source.STEM))

        check = partial(self._inbound.check, difficulty=rec.difficulty)
        stem = StemRelay(
            host, check=check, released=self._store.release, fluffed=fluffed, limit=self.settings.gossip.stem_limit
        )

        async def accept(wires: Sequence[bytes]) -> int:
            valid = await self._inbound.check_batch(wires, rec.difficulty)
            for signed in valid:
                # A peer stores only fluffed objects, so one of ours it hands
                # back has spread: its stem is over here, as for gossip.
                stem.seen(signed.id)
                await self._inbound.submit(Verified(signed, swarm_id, Source.SYNC))
            return len(valid)

        sync = SwarmSync(
            host,
            items=lambda: self._store.object_ids(swarm_id),
            wires=self._store.wires,
            accept=accept,
            interval=self.settings.sync_interval,
            clock=self.settings.clock,
            offload=self.settings.offload,
        )
        stem.start()
        sync.start()
        return SwarmRuntime(swarm_id, rec.name, rec.psk, rec.difficulty, host, stem, sync, port)

    def _resend_held(self, runtime: SwarmRuntime) -> None:
        """Own objects held when the node stopped start their stem again (or wait for a peer).

        Each goes by way of the stamp: one stored before it was minted, or
        weaker than its swarms ask, is minted first.
        """
        for wire, swarm_ids in self._store.held():
            if runtime.id in swarm_ids:
                try:
                    self._send(protocol.decode(wire, verify=False), [runtime.id])
                except protocol.ProtocolError as exc:
                    log.warning("held object no longer decodes: %s", exc)

    async def _redial_loop(self, runtime: SwarmRuntime) -> None:
        """Keep known peers connected, backing off per peer from 1 s to 60 s."""
        while True:
            connected = set(runtime.host.connected_peers())
            now = trio.current_time()
            for peer in self._store.peers(runtime.id):
                pid = peer.peer_id
                if pid in connected or pid == runtime.host.peer_id:
                    runtime.backoff.pop(pid, None)
                    continue
                next_try, delay = runtime.backoff.get(pid, (0.0, REDIAL_MIN))
                if now < next_try:
                    continue
                if await self._dial_any(runtime, pid, peer.addrs):
                    runtime.backoff.pop(pid, None)
                else:
                    self._store.note_peer_failure(runtime.id, pid)
                    runtime.backoff[pid] = (now + delay, min(delay * 2, REDIAL_MAX))
            await trio.sleep(REDIAL_MIN)

    async def _dial_any(self, runtime: SwarmRuntime, pid: str, addrs: Sequence[str]) -> bool:
        # All at once: direct addresses race relay ones (SwarmHost.connect).
        with trio.move_on_after(self.settings.gossip.connect_timeout + RELAY_DIAL_DELAY):
            try:
                await runtime.host.connect(*addrs)
                return True
            except (SwarmConnectError, ValueError, OSError) as exc:
                log.debug("redial %s failed: %s", pid, exc)
        return False
