"""The node: wires its identity, store, swarms and the two pipelines, and serves the control API.

The path of an object (docs/architecture.md): from a peer, through
:class:`~._inbound.Inbound` into store batches; made here, through
:class:`~._outbound.Outbound` onto disk, then through :class:`~._mint.Minter`
to its proof-of-work stamp and into each swarm's stem.  Every
long-running task is supervised: no exception ends the node.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import msgspec
import trio

import protocol

from .. import api
from ..api import Home
from ..net import SYNC_INTERVAL, Ban, Failures, GossipParams, Guard, GuardParams, open_swarm_host, supervised
from ..store import AmbiguousId, BanRow, IngestResult, Store, StoreError, Swarm
from . import _methods, _shape
from ._addrs import load_announce_ip, port_of
from ._control import EventHub, serve_control
from ._errors import ApiError
from ._evict import Evictor
from ._identity import Identity
from ._inbound import Inbound, Source, Verified
from ._mailbox import Mailbox
from ._mint import Minter
from ._outbound import Outbound
from ._reachnote import private_ip, reach_note
from ._swarm import OpenHost, SwarmRuntime, Swarms, SwarmSettings

__all__ = ["Node", "NodeConfig"]

log = logging.getLogger(__name__)

PEER_SAVE_INTERVAL = 10.0
PURGE_INTERVAL = 60.0
STOPPING_GRACE = 1.0  # seconds subscribers get to be told the node stops

Offload = Callable[..., Awaitable[Any]]


@dataclass
class NodeConfig:
    """How one node runs; the CLI fills it from flags, tests from what they test.

    Attributes:
        home: The node's home directory.
        listen_ip: IPv4 address the swarm hosts listen on.
        announce_ip: Address invites name instead of the listen address; None:
            the one set with the ``announce`` method (the home's settings.json), if any.
        passphrase: Unlocks a sealed identity at start.
        gossip: Gossip settings of every swarm host.
        guard: When peers are banned, and for how long.
        clock: Wall-clock time (object times, expiry).
        sync_interval: Mean seconds between periodic sync sessions (0: only on connect).
        peer_save_interval: Seconds between saves of connected peers.
        open_host: Opens a swarm host: the real libp2p one, or a test's fake network.
        lan: Find members of joined swarms on the local network (encrypted beacons).
        upnp: Ask the LAN's UPnP gateway to forward each swarm's port (``p2pnet.net._upnp``).
        offload: Runs blocking work (the store, Argon2, batches of signature checks)
            off the event loop; tests on a MockClock run it inline.
    """

    home: Home
    listen_ip: str = "0.0.0.0"
    announce_ip: str | None = None
    passphrase: str | None = None
    gossip: GossipParams = field(default_factory=GossipParams)
    guard: GuardParams = field(default_factory=GuardParams)
    clock: Callable[[], float] = time.time
    sync_interval: float = SYNC_INTERVAL
    peer_save_interval: float = PEER_SAVE_INTERVAL
    open_host: OpenHost = open_swarm_host
    offload: Offload = trio.to_thread.run_sync
    lan: bool = True
    upnp: bool = True


class Node:
    """One running node; make it with :meth:`open`, then :meth:`run` it until :meth:`shutdown`."""

    def __init__(self, config: NodeConfig, store: Store, identity: Identity) -> None:
        """Use :meth:`open`; this only wires an opened store and a loaded identity together."""
        self.config = config
        self.home = config.home
        self.store = store
        self.identity = identity
        self.offload = config.offload
        self.hub = EventHub()
        # Failures of long-running tasks, by name: none of them may end the node.
        self.failures = Failures()
        self.inbound = Inbound(store, self.now, self.offload, self._stored)
        # Bans outlive restarts: those in force come back from the store, new ones go into it.
        self.guard = Guard(
            config.guard,
            bans=[Ban(b.peer_id, b.ip, b.until, b.reason) for b in store.bans(self.now())],
            on_ban=lambda ban: store.save_ban(BanRow(ban.peer_id, ban.ip, int(ban.until), ban.reason)),
            now=config.clock,
        )
        settings = SwarmSettings(
            config.listen_ip,
            config.announce_ip or load_announce_ip(config.home),
            config.gossip,
            config.sync_interval,
            config.clock,
            self.guard,
            self.offload,
            config.lan,
            config.upnp,
        )
        self.minter = Minter(store, lambda: self.swarms.running, self.offload)
        self.swarms = Swarms(
            settings, store, self.inbound, config.open_host, self.failures, self.now, send=self.minter.send
        )
        self.outbound = Outbound(store, self.swarms, self.minter, self.now, self.offload, self._announce)
        self.evictor = Evictor(store, self.now, self.offload)
        self.mailbox = Mailbox(
            store,
            lambda: self.identity.seed,
            self.now,
            self.offload,
            lambda cid: self.hub.publish(api.DmEvent(conversation=cid.hex())),
        )
        self.started = 0.0
        self._nursery: trio.Nursery | None = None
        self._shutdown = trio.Event()
        self.stopped = trio.Event()

    @classmethod
    def open(cls, config: NodeConfig) -> Node:
        """Open the home's store and read its identity; errors here are the user's to see.

        Raises:
            StoreError: the database is damaged or from a newer p2pnet.
            protocol.IdentityError: the identity file is damaged or the passphrase is wrong.
        """
        config.home.create()
        store = Store.open(config.home.database)
        identity = Identity(config.home, config.offload)
        try:
            identity.load(config.passphrase)
        except BaseException:
            store.close()
            raise
        return cls(config, store, identity)

    def now(self) -> int:
        return int(self.config.clock())

    # -- lifecycle --------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Start the swarms and serve the control API until shut down; closes the store after."""
        self.started = self.config.clock()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for loop in (
                    self.inbound.run,
                    self.minter.run,
                    self.evictor.run,
                    self.mailbox.run,
                    self._maintenance_loop,
                ):
                    nursery.start_soon(partial(supervised, loop, failures=self.failures, restart=True))
                await nursery.start(self.swarms.serve)
                if self.identity.seed is not None:
                    await self.swarms.start_all(self.identity.seed)
                await nursery.start(serve_control, self.home.socket, self.dispatch, self.hub)
                task_status.started()
                await self._shutdown.wait()
                # Asked to stop, not failing: front-ends hear it before the socket closes.
                self.hub.publish(api.StoppingEvent())
                with trio.move_on_after(STOPPING_GRACE):
                    await self.hub.drained()
                nursery.cancel_scope.cancel()
        finally:
            self.store.close()
            self.stopped.set()

    def shutdown(self) -> None:
        self._shutdown.set()

    def shutdown_after_reply(self) -> None:
        """Shut down in a moment: the control server sends the caller's reply first."""

        async def later() -> None:
            await trio.sleep(0.1)
            self.shutdown()

        assert self._nursery is not None
        self._nursery.start_soon(later)

    async def _maintenance_loop(self) -> None:
        last_purge = -PURGE_INTERVAL
        while True:
            await trio.sleep(self.config.peer_save_interval)
            self.swarms.save_peers()
            if trio.current_time() - last_purge >= PURGE_INTERVAL:
                last_purge = trio.current_time()
                purged = await self.offload(self.store.purge_expired, self.now())
                if purged:
                    self.hub.publish(api.Purged(count=purged))
                await self.offload(self.store.forget_evicted, self.now())

    # -- the control API -----------------------------------------------------------------

    async def dispatch(self, method: str, params: dict[str, Any]) -> api.Result:
        """Run a control-API method with raw JSON params (the control socket's door)."""
        return await _methods.dispatch(self, method, params)

    async def request(self, request: api.Request[Any]) -> Any:
        """Run a typed control-API request in process; returns its typed result."""
        return await _methods.run(self, request)

    async def status(self) -> api.StatusResult:
        # The store's part off the event loop: its lock may be held by an ingest
        # batch, and counting rows takes longer as the store grows.
        counts, minting, usage = await self.offload(lambda: (self.store.counts(), self.store.minting(), self._usage()))
        gossip = self.inbound.counts[Source.GOSSIP]
        return api.StatusResult(
            version=1,
            home=str(self.home.root),
            pid=os.getpid(),
            identity=self.identity.state,
            uptime=int(self.config.clock() - self.started),
            counts=api.Counts(**counts),
            minting=minting,
            usage=usage,
            gossip=api.GossipCounts(received=gossip["received"], stored=gossip["stored"], invalid=gossip["invalid"]),
            failures=dict(self.failures),
            bans=len(self.guard.active()),
            mailbox=api.MailboxStatus(
                live_keys=self.mailbox.live,
                tried=self.mailbox.tried,
                opened=self.mailbox.opened,
                broken=self.mailbox.broken,
            ),
            swarms=[
                api.SwarmStatus(
                    name=r.name,
                    peer_id=r.host.peer_id,
                    peers=len(r.host.connected_peers()),
                    sync=msgspec.convert(r.sync.stats.to_dict(), api.SyncStatus),
                    reachability=r.host.reachability(),
                    public_peers=self.public_peers(r),
                    reach_note=self.reach_note(r),
                    upnp=r.upnp.state if r.upnp is not None else "off",
                    upnp_addr=r.mapped(),
                    upnp_via=r.upnp.via if r.upnp is not None else "",
                    paths=r.host.paths(),
                    relay_addrs=r.host.relay_addrs(),
                    relaying=r.host.relaying(),
                )
                for r in self.swarms.running.values()
            ],
        )

    def _usage(self) -> list[api.SwarmUsage]:
        names = {rec.raw_id: rec.name for rec in self.store.swarms()}
        return [
            api.SwarmUsage(
                swarm=names[row.swarm], objects=row.objects, bytes=row.bytes, quota=row.quota, evicted=row.evicted
            )
            for row in self.store.usage()
            if row.swarm in names
        ]

    # -- what the methods share ---------------------------------------------------------------

    def swarm_named(self, name: str) -> Swarm:
        rec = self.store.swarm_by_name(name)
        if rec is None:
            raise ApiError(
                "no_swarm", f"you are not in a swarm called {name!r} (see: {self.home.command('swarm', 'list')})"
            )
        return rec

    def require_invite_ips(self) -> list[str]:
        """The IP addresses invites name, or the error that says how to give one."""
        ips = self.swarms.invite_ips()
        if not ips:
            raise ApiError(
                "no_address",
                "this machine has no address a friend on another machine could reach (only 127.0.0.1), so no "
                "invite key can name one: connect to a network, or name the address friends reach you at with: "
                + self.home.command("announce", "IP"),
            )
        return ips

    def public_peers(self, runtime: SwarmRuntime) -> int:
        """Connected peers we dialled at an address outside the private ranges: reachable from outside."""
        return sum(not private_ip(runtime.host.peer_ip(p)) for p in runtime.host.outbound_peers())

    def reach_note(self, runtime: SwarmRuntime) -> str:
        """What stands between friends elsewhere and this node in this swarm, with what to do ("": nothing known)."""
        return reach_note(
            reachability=runtime.host.reachability(),
            invite_ips=self.swarms.invite_ips(),
            seen_at=runtime.host.seen_at(),
            public_peers=self.public_peers(runtime),
            relays=len(runtime.host.relay_addrs()),
            port=port_of(runtime.host.listen_addrs),
            announce=self.home.command("announce", "IP"),
            mapped=runtime.mapped(),
        )

    def invite(self, runtime: SwarmRuntime, expires: int | None = None) -> str:
        self.require_invite_ips()
        addrs = self.swarms.invite_addrs(runtime)[: protocol.MAX_INVITE_ADDRS]
        return protocol.encode_invite(
            protocol.Invite(runtime.name, runtime.psk, tuple(addrs), expires, runtime.difficulty)
        )

    def get(self, ident: str) -> protocol.Signed:
        """The stored object with this id or unique prefix."""
        try:
            signed = self.store.get(ident)
        except AmbiguousId as exc:
            raise ApiError("ambiguous_id", str(exc)) from None
        except StoreError as exc:
            raise ApiError("bad_request", str(exc)) from None
        if signed is None:
            raise ApiError("not_found", f"no post or reply with id {ident!r} is known here")
        return signed

    def root_of(self, signed: protocol.Signed) -> protocol.Signed:
        """The thread's first post of a reply; a post itself."""
        if isinstance(signed.obj, protocol.Reply):
            root = self.store.get(signed.obj.root.hex())
            if root is None:
                raise ApiError("not_found", "the thread's first post has not arrived here yet")
            return root
        return signed

    # -- events ------------------------------------------------------------------------------

    def _stored(self, batch: list[tuple[Verified, IngestResult]]) -> None:
        new = [(item.signed, item.swarm) for item, result in batch if result.is_new]
        if new:
            self.evictor.wake()
        for signed, swarm_id in new:
            if isinstance(signed.obj, protocol.Delete):
                self.outbound.carry(signed, swarm_id)
        if any(isinstance(signed.obj, protocol.Message) for signed, _ in new):
            self.mailbox.wake()  # tried apart and afterwards: storing and forwarding do not wait for it
        self._announce_all(new)

    def _announce(self, signed: protocol.Signed, swarm_id: bytes) -> None:
        self.evictor.wake()
        if isinstance(signed.obj, protocol.Post | protocol.Reply):
            self.mailbox.keys_changed()  # its key can be written to from now on
        self._announce_all([(signed, swarm_id)])

    def _announce_all(self, new: list[tuple[protocol.Signed, bytes]]) -> None:
        """Tell subscribers of new objects, each with the root post it concerns as it stands now.

        An object the user muted, or one about a post they muted (a hidden
        thread, a muted writer or word), is not announced.  Two store reads
        per batch, and none while nobody listens.
        """
        if not self.hub.listening:
            return
        # A sealed message is no post: what opens here is announced by the mailbox, to this node alone.
        new = [(s, swarm_id) for s, swarm_id in new if not isinstance(s.obj, protocol.Message)]
        if not new:
            return
        concerns = {signed.id: _concerns(signed.obj) or signed.id for signed, _ in new}
        muted = self.store.muted_among(list({*concerns, *concerns.values()}))
        new = [(s, swarm_id) for s, swarm_id in new if not {s.id, concerns[s.id]} & muted]
        items = self.store.feed_items(list(set(concerns.values())), now=self.now())
        for signed, swarm_id in new:
            obj = signed.obj
            runtime = self.swarms.running.get(swarm_id)
            item = None if isinstance(obj, protocol.Delete) else items.get(concerns[signed.id])
            self.hub.publish(
                api.ObjectEvent(
                    id=signed.id.hex(),
                    kind=_shape.KIND_NAMES[signed.kind],
                    swarm=runtime.name if runtime else None,
                    root=obj.root.hex() if isinstance(obj, protocol.Reply) else None,
                    target=None if isinstance(obj, protocol.Post | protocol.Reply) else concerns[signed.id].hex(),
                    item=None if item is None else _shape.feed_item(item),
                )
            )


def _concerns(obj: protocol.WireObject) -> bytes | None:
    """The post an object is about: a reply's root, what a heart, flag or delete targets."""
    if isinstance(obj, protocol.Reply):
        return obj.root
    if isinstance(obj, protocol.Heart | protocol.Flag | protocol.Delete):
        return obj.target
    return None
