"""The running host of one swarm: the small trio API the rest of the node sees, over py-libp2p 0.8.1.

Publishing with back-pressure, connecting, extra stream protocols, tasks that
live as long as the host, and what the defences tell (scores, floods, bans:
a gossip score below the graylist threshold becomes a ban, since py-libp2p
forgets scores on disconnect).  :func:`p2pnet.net.open_swarm_host` (``_open``)
builds it; ``docs/gossip-notes.md`` says why each piece is there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import multiaddr
import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.peer.peerstore import PeerStoreError
from libp2p.pubsub.gossipsub import GossipSub

from . import libp2p_patches
from ._addrs import advertised_addrs, announced_addrs, with_p2p
from ._conns import Connections
from ._dialback import DialBack
from ._guard import Guard
from ._params import GossipParams
from ._peer_exchange import PeerExchange
from ._pubsub import MAX_DATA_LEN, AnonPubsub
from ._reach import Reachability, reachability, seen_at
from ._relay import Path, Relays
from ._stream import Stream, StreamError, dial
from ._tasks import Failures, supervised

__all__ = ["SwarmHost"]

logger = logging.getLogger(__name__)


class SwarmHost:
    """A running libp2p host for one swarm; create it with :func:`p2pnet.net.open_swarm_host`."""

    def __init__(
        self,
        host: IHost,
        pubsub: AnonPubsub,
        router: GossipSub,
        params: GossipParams,
        failures: Failures,
        nursery: trio.Nursery,
        guard: Guard,
        psk: str,
        external: list[multiaddr.Multiaddr] | None = None,
    ) -> None:
        self._host = host
        self._external = external if external is not None else []  # advertised first (the host's addrs_factory)
        self.announced: list[str] = []  # IPs friends are told to dial us at (``p2pnet announce``), advertised next
        self._pubsub = pubsub
        self._router = router
        self._params = params
        self._nursery = nursery
        self._closing = False
        self._topic = pubsub.topic
        self.peer_id: str = str(host.get_id())
        # Failures of this host's tasks and inbound streams, by name, for status.
        self.failures = failures
        self.guard = guard
        self._conns = Connections(host, guard, self._spawn)
        self.relays = Relays(
            host,
            psk,
            params,
            self.reachability,
            self._conns.outbound,
            self._conns.ip_of,
            dialled_back=lambda: self.dialback.said() == "reachable",
        )
        self.dialback = DialBack(
            host, psk, params, self._dialback_candidates, lambda ip: self.relays.reachable(ip), self._conns.ip_of
        )
        self._conns.callbacks.append(self.dialback.connected)
        libp2p_patches.watch_inbound(host, self.dialback.dialled_in)  # an ok counts once its dial is seen
        self._peer_exchange = PeerExchange(
            host, self._topic, params, failures, self._conns.outbound, via_relay=self.relays.dial
        )
        host.get_network().register_notifee(self._conns)
        pubsub.penalised = self._penalised

    @property
    def listen_addrs(self) -> list[str]:
        """Full multiaddrs we listen on, each ending in ``/p2p/<peer id>``.

        Not the mapped address (UPnP), the announced ones nor the circuit
        addresses: all are advertised too, but invites name them apart
        (``mapped``, the announced IP, :meth:`relay_addrs`).
        """
        outside = {str(a) for a in [*self._external, *self.announced_addrs()]}
        return [
            str(a)
            for a in self._host.get_addrs()
            if str(a).split("/p2p/")[0] not in outside and "/p2p-circuit" not in str(a)
        ]

    def advertise_first(self, addr: str | None) -> None:
        """Advertise ``addr`` (a router's address that forwards to us) before the listen addresses; None: stop."""
        self._external[:] = [multiaddr.Multiaddr(addr)] if addr else []
        libp2p_patches.addrs_changed(self._host)
        self.dialback.recheck()  # members are asked to dial that address

    def announce(self, ip: str | None) -> None:
        """The IP friends are told to dial us at (``p2pnet announce``), at our listen port; None: none.

        It goes into our signed record, after a mapped address, so members
        that learn of us by peer exchange dial it as friends with an invite
        do; and members are asked to dial us back there (``_dialback``): a port
        forwarded on the router proves itself, and the host then relays
        rather than reserving relays.
        """
        announced = [ip] if ip else []
        if announced != self.announced:
            self.announced = announced
            libp2p_patches.addrs_changed(self._host)  # into our signed record (the host's addrs_factory)
            self.dialback.recheck()

    def announced_addrs(self) -> list[multiaddr.Multiaddr]:
        """The announced IP at each of our listen ports, where that is not an address we listen on."""
        listen = self._host.get_transport_addrs()
        own = {str(a) for a in advertised_addrs(listen)}
        return [a for a in announced_addrs(self.announced, listen) if str(a) not in own]

    async def connect(self, *addrs: str) -> None:
        """Connect to a peer of this swarm at any of its addresses.

        Direct addresses are dialled at once and relay (circuit) addresses a
        moment later, all racing: the first connection wins (``_stream.dial``).

        Args:
            addrs: Multiaddrs of one peer, each ending in ``/p2p/<peer id>``;
                circuit addresses (``…/p2p/R/p2p-circuit/p2p/<peer id>``) too.

        Raises:
            ValueError: No address, one that is not a valid ``/p2p/`` multiaddr,
                or addresses of several peers.
            SwarmConnectError: The peer is unreachable, is not in this private
                network (other or no PSK), or did not answer in time.
        """
        infos = []
        for addr in addrs:
            try:
                infos.append(info_from_p2p_addr(multiaddr.Multiaddr(addr)))
            except Exception as exc:
                raise ValueError(f"not a /p2p/ multiaddr: {addr!r}") from exc
        if len({i.peer_id for i in infos}) != 1:
            raise ValueError(f"expected addresses of one peer, got {list(addrs)!r}")
        info = PeerInfo(infos[0].peer_id, [a for i in infos for a in i.addrs])
        if info.peer_id == self._host.get_id():
            raise ValueError("cannot connect to ourselves")
        await dial(self._host, info, self._params, via_relay=self.relays.dial)
        # Learn the peer's neighbours straight away instead of at the next round.
        self._spawn(partial(self._peer_exchange.exchange_quietly, info.peer_id))

    async def publish(self, data: bytes) -> bytes:
        """Publish an anonymous message to the swarm.

        The envelope carries only ``data``, the topic and a random seqno. It
        is not delivered to our own ``on_message``. Publishing a payload that
        was already seen (by content) is a no-op that returns the same id.

        Args:
            data: The opaque payload; it must pass our own validator.

        Returns:
            The message id, :func:`message_id` of ``data``.

        Raises:
            ValueError: The payload is too large or our validator rejects it.
        """
        if len(data) > MAX_DATA_LEN:
            raise ValueError(f"payload too large ({len(data)} bytes)")
        if not self._pubsub.check_payload(data):
            raise ValueError("payload rejected by the validator")
        await self._wait_for_queue_room()
        return await self._pubsub.publish_anonymous(data)

    def connected_peers(self) -> list[str]:
        """Return the peer ids we currently hold a connection to."""
        network = self._host.get_network()
        return [str(pid) for pid in self._host.get_connected_peers() if network.get_connections(pid)]

    def known_peer_addrs(self) -> dict[str, list[str]]:
        """Return dialable addresses of every peer we know, for persisting.

        Returns:
            ``{peer id: [multiaddr ending in /p2p/<peer id>, ...]}``: the
            addresses from the peer's signed record first, then any others we
            dialed or were told, without wildcard addresses.
        """
        peerstore = self._host.get_peerstore()
        me = self._host.get_id()
        out: dict[str, list[str]] = {}
        for pid in peerstore.peer_ids():
            if pid == me:
                continue
            addrs: list[multiaddr.Multiaddr] = []
            envelope = self._peer_exchange.record(pid)
            if envelope is not None:
                addrs.extend(envelope.record().addrs)
            with contextlib.suppress(PeerStoreError):  # expired or unknown: none left
                addrs.extend(peerstore.addrs(pid))
            full = with_p2p(addrs, pid)
            if full:
                out[str(pid)] = full
        return out

    def outbound_peers(self) -> list[str]:
        """Return the connected peers we dialled ourselves, longest connected first."""
        return self._conns.outbound()

    def peer_ip(self, peer_id: str) -> str | None:
        """Return the IP address a connected peer talks to us from."""
        return self._conns.ip_of(peer_id)

    def reachability(self) -> Reachability:
        """Public, behind NAT or unknown: from members' dial-backs, else where peers see us (``_reach``)."""
        said = self.dialback.said()
        return reachability(self._host, None if said is None else said == "reachable")

    def seen_at(self) -> list[str]:
        """The IPs connected peers see us at that are not our own (our NAT's outside addresses)."""
        return seen_at(self._host)

    def paths(self) -> dict[str, Path]:
        """Each connected peer's path: ``direct``, ``hole_punched`` or ``relayed`` (``_relay``)."""
        return self.relays.paths()

    def relay_addrs(self) -> list[str]:
        """Our circuit addresses through the members we hold relay reservations on, ending in our ``/p2p``."""
        return with_p2p(self.relays.addrs(), self._host.get_id())

    async def relays_ready(self) -> None:
        """Take relay reservations now if this host wants some and holds none (within ``connect_timeout``)."""
        if self.relays.addrs() or not self.relays.wanted():
            return
        with trio.move_on_after(self._params.connect_timeout):
            await self.relays.tend()

    def relaying(self) -> int:
        """Circuits this host relays between other members now."""
        return self.relays.relaying()

    def offence(self, peer_id: str, why: str) -> None:
        """A peer sent what no honest peer sends (on the stem, in sync): enough of them ban it."""
        self.guard.offence(peer_id, self.peer_ip(peer_id), why)

    def invalid_message_counts(self) -> dict[str, int]:
        """Return how many invalid messages each peer has handed us."""
        return {str(pid): n for pid, n in self._pubsub.invalid_counts.items()}

    def flood_counts(self) -> dict[str, int]:
        """Return how many valid objects each peer delivered first over its limit (dropped)."""
        return {str(pid): n for pid, n in self._pubsub.flood_counts.items()}

    def peer_score(self, peer_id: str) -> float:
        """Return the gossipsub score we currently give a connected peer."""
        scorer = self._router.scorer
        assert scorer is not None
        return scorer.score(ID.from_base58(peer_id), [self._topic])

    def is_graylisted(self, peer_id: str) -> bool:
        """Return True if the peer's score is below the graylist threshold."""
        scorer = self._router.scorer
        assert scorer is not None
        return scorer.is_graylisted(ID.from_base58(peer_id), [self._topic])

    def mesh_peers(self) -> list[str]:
        """Return the peers in our gossipsub mesh for the swarm topic."""
        return [str(p) for p in self._router.mesh.get(self._topic, set())]

    # -- extra stream protocols ------------------------------------------

    def serve(self, protocol: str, handler: Callable[[Stream], Awaitable[None]]) -> None:
        """Answer inbound streams of ``protocol`` with ``handler``.

        The stream is closed when the handler returns; an exception in the
        handler is logged and closes only that stream.
        """

        async def run(raw: INetStream) -> None:
            stream = Stream(raw)
            try:
                await handler(stream)
            except Exception as exc:
                logger.debug("%s handler for %s failed: %s", protocol, stream.peer_id, exc)
            finally:
                await stream.aclose()

        self._host.set_stream_handler(TProtocol(protocol), run)

    @asynccontextmanager
    async def open_stream(self, peer_id: str, protocol: str) -> AsyncIterator[Stream]:
        """Open a stream of ``protocol`` to a connected peer for the block.

        Raises:
            StreamError: The peer is not connected, does not speak the
                protocol, or did not answer within the connect timeout.
        """
        try:
            with trio.fail_after(self._params.connect_timeout):
                raw = await self._host.new_stream(ID.from_base58(peer_id), [TProtocol(protocol)])
        except Exception as exc:
            raise StreamError(f"cannot open {protocol} to {peer_id}: {exc}") from exc
        stream = Stream(raw)
        try:
            yield stream
        finally:
            await stream.aclose()

    def on_connect(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(peer_id)`` (synchronously; start tasks from it) on each new connection."""
        self._conns.callbacks.append(callback)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any, restart: bool = False) -> None:
        """Run a task that lives at most as long as this host.

        An exception in it is logged and counted in :attr:`failures`, never
        raised into the host; with ``restart`` (for loops) it runs again
        after a back-off. Once the host is closing, the task is not started.
        """
        self._spawn(partial(supervised, fn, *args, failures=self.failures, restart=restart))

    # -- internals -------------------------------------------------------

    def _spawn(self, task: Callable[[], Awaitable[Any]]) -> None:
        # The swarm outlives this nursery: until it stops, inbound stream
        # handlers, connect callbacks and callers of connect() still run and
        # ask for tasks. Such a task would be cancelled at once; started into
        # the closed nursery, it would raise instead.
        if self._closing:
            logger.debug("host closing: %s not started", task)
            return
        self._nursery.start_soon(task)

    def _dialback_candidates(self) -> list[str]:
        # Members we dialled first (as the stem's relays), then the rest.
        outbound = self._conns.outbound()
        return outbound + sorted(set(self.connected_peers()) - set(outbound))

    def _penalised(self, peer: ID, why: str) -> None:
        # py-libp2p wipes a peer's score when it disconnects, so a sunk score
        # would come back clean: its verdict becomes a ban instead. The verdict
        # is the score publish_threshold gates on (P4 invalid messages, P5 floods
        # and broken promises), not py-libp2p's own GRAFT/IHAVE/IWANT spam
        # heuristics: honest py-libp2p peers trip those (gossip-notes, Defences).
        pid = str(peer)
        if why == "garbled":
            self.offence(pid, "gossip")
            return
        scorer = self._router.scorer
        assert scorer is not None
        if not scorer.allow_publish(peer, [self._topic]):
            self.guard.ban(pid, self.peer_ip(pid), f"gossip score {self.peer_score(pid):.0f}")

    async def _promise_loop(self) -> None:
        while True:
            await trio.sleep(self._params.heartbeat_interval)
            self._pubsub.judge_promises()

    def _close(self) -> None:
        """Cancel every task of this host and start no more."""
        self._closing = True
        self._nursery.cancel_scope.cancel()

    async def _wait_for_queue_room(self) -> None:
        # Back-pressure for local bursts: forwarding never blocks, so a burst
        # must not fill the outbound queues (a full queue drops silently). A
        # stuck peer only delays us up to the timeout, then it may drop.
        high_water = self._params.outbound_queue_size // 2
        with trio.move_on_after(self._params.publish_backpressure_timeout):
            # RpcQueue has no "drained" signal to wait on, so poll.
            while any(len(q) > high_water for q in self._pubsub.peer_queues.values()):  # noqa: ASYNC110
                await trio.sleep(0.01)
