"""One private-network libp2p host per swarm, with anonymous gossip.

This module wraps py-libp2p 0.8.1 so that the rest of the node sees a small
trio API (:func:`open_swarm_host` / :class:`SwarmHost`) and opaque payloads.

What it adds on top of stock py-libp2p (see ``docs/gossip-notes.md``):

* a libp2p private network (pnet) per swarm, keyed by the swarm's 32-byte PSK,
  with Noise as the only security transport;
* anonymous envelopes, validation, scoring and no silent drops on bursts
  (``_pubsub``), plus publish back-pressure here;
* peer exchange over the small ``/p2pnet/peers/1`` protocol (``_peer_exchange``);
* py-libp2p's own defects fixed process-wide (``libp2p_patches``).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetStream
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.peer.peerstore import PeerStoreError
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.tools.anyio_service import background_trio_service

from . import libp2p_patches
from ._addrs import advertised_addrs, check_can_listen, with_p2p
from ._params import GossipParams
from ._peer_exchange import PEERS_PROTOCOL, PeerExchange
from ._pubsub import MAX_DATA_LEN, AnonPubsub, deliver_loop, new_router
from ._stream import ConnectNotifee, Stream, StreamError, dial
from ._tasks import Failures, supervised

__all__ = ["SwarmHost", "open_swarm_host", "peer_id_from_seed"]

logger = logging.getLogger(__name__)

_CLOSE_TIMEOUT = 10.0


def peer_id_from_seed(host_key_seed: bytes) -> str:
    """Return the libp2p peer id that :func:`open_swarm_host` derives from a seed.

    Args:
        host_key_seed: 32-byte Ed25519 seed.

    Returns:
        The base58 peer id.
    """
    return str(ID.from_pubkey(_key_pair(host_key_seed).public_key))


def _key_pair(host_key_seed: bytes) -> Any:
    if len(host_key_seed) != 32:
        raise ValueError("host_key_seed must be 32 bytes")
    return create_new_key_pair(host_key_seed)


class SwarmHost:
    """A running libp2p host for one swarm; create it with :func:`open_swarm_host`."""

    def __init__(
        self,
        host: IHost,
        pubsub: AnonPubsub,
        router: GossipSub,
        params: GossipParams,
        failures: Failures,
        nursery: trio.Nursery,
    ) -> None:
        self._host = host
        self._pubsub = pubsub
        self._router = router
        self._params = params
        self._nursery = nursery
        self._closing = False
        self._topic = pubsub.topic
        self.peer_id: str = str(host.get_id())
        # Failures of this host's tasks and inbound streams, by name, for status.
        self.failures = failures
        self._peer_exchange = PeerExchange(host, self._topic, params, failures)
        self._connect_callbacks: list[Callable[[str], None]] = []
        host.get_network().register_notifee(ConnectNotifee(self._connect_callbacks))

    @property
    def listen_addrs(self) -> list[str]:
        """Full multiaddrs we listen on, each ending in ``/p2p/<peer id>``."""
        return [str(a) for a in self._host.get_addrs()]

    async def connect(self, addr: str) -> None:
        """Connect to a peer of this swarm.

        Args:
            addr: A multiaddr that ends in ``/p2p/<peer id>``.

        Raises:
            ValueError: ``addr`` is not a valid ``/p2p/`` multiaddr.
            SwarmConnectError: The peer is unreachable, is not in this private
                network (other or no PSK), or did not answer in time.
        """
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
        except Exception as exc:
            raise ValueError(f"not a /p2p/ multiaddr: {addr!r}") from exc
        if info.peer_id == self._host.get_id():
            raise ValueError("cannot connect to ourselves")
        await dial(self._host, info, self._params)
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

    def invalid_message_counts(self) -> dict[str, int]:
        """Return how many invalid messages each peer has handed us."""
        return {str(pid): n for pid, n in self._pubsub.invalid_counts.items()}

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
        self._connect_callbacks.append(callback)

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


@asynccontextmanager
async def open_swarm_host(
    *,
    host_key_seed: bytes,
    psk: bytes,
    topic: str,
    validator: Callable[[bytes], bool],
    on_message: Callable[[bytes], Awaitable[None]] | None = None,
    listen_ip: str = "127.0.0.1",
    port: int = 0,
    params: GossipParams | None = None,
    failures: Failures | None = None,
) -> AsyncIterator[SwarmHost]:
    """Run a libp2p host in one swarm's private network for the ``async with`` body.

    Args:
        host_key_seed: 32-byte Ed25519 seed; the same seed gives the same peer id.
        psk: 32-byte swarm key; only hosts with the same key can connect.
        topic: The gossipsub topic of the swarm.
        validator: Called with every incoming payload; False (or an exception)
            drops the message and counts it against the peer that sent it.
        on_message: Awaited with each valid payload received from the
            network, one at a time, in arrival order. None: relay only.
        listen_ip: IPv4 address to listen on.
        port: TCP port; 0 picks a free one.
        params: Gossip settings; defaults to :class:`GossipParams`.
        failures: Where the host counts failures of its tasks and inbound
            streams (:attr:`SwarmHost.failures`); a fresh counter if None.

    Yields:
        The running :class:`SwarmHost`. Leaving the block closes the host and
        all of its tasks.

    Raises:
        ValueError: The seed or the PSK is not 32 bytes.
        OSError: ``listen_ip:port`` is in use or not a local address.
    """
    params = params or GossipParams()
    failures = failures if failures is not None else Failures()
    libp2p_patches.install()
    if len(psk) != 32:
        raise ValueError("psk must be 32 bytes")
    key_pair = _key_pair(host_key_seed)
    host = new_host(
        key_pair=key_pair,
        # py-libp2p wants the PSK as 64 hex chars (security/pnet/protector.py).
        psk=psk.hex(),
        addrs_factory=advertised_addrs,
        # Noise only: the default set also offers plaintext and secio, where a
        # swarm member could claim another member's peer id.
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)},
    )
    libp2p_patches.count_stream_failures(host, failures)
    router = new_router(params)

    # Unbounded on purpose: gossip already bounds the rate, and dropping here
    # would lose messages that are marked seen and never come back.
    send, receive = trio.open_memory_channel[bytes](math.inf)

    def deliver(data: bytes) -> None:
        with contextlib.suppress(trio.ClosedResourceError):  # shutting down
            send.send_nowait(data)

    pubsub = AnonPubsub(
        host,
        router,
        topic=topic,
        validator=validator,
        deliver=deliver if on_message is not None else None,
        params=params,
    )
    check_can_listen(listen_ip, port)
    listen = multiaddr.Multiaddr(f"/ip4/{listen_ip}/tcp/{port}")
    async with host.run([listen]):
        try:
            if not host.get_transport_addrs():
                # Swarm.listen() reports failure by return value, which
                # BasicHost.run() ignores.
                raise OSError(f"could not listen on {listen_ip}:{port}")
            # The swarm's AutoConnector dials every peer in the peerstore up to
            # ~200 connections, and re-dials on every disconnect; its dials
            # can land after Swarm.close() and leak sockets. Peer exchange
            # below dials instead, up to params.target_peers.
            auto_connector = getattr(host.get_network(), "auto_connector", None)
            if auto_connector is not None:
                await auto_connector.stop()
            async with (
                background_trio_service(pubsub),
                background_trio_service(router),
            ):
                await pubsub.wait_until_ready()
                await pubsub.subscribe(topic)
                async with trio.open_nursery() as nursery:
                    swarm = SwarmHost(host, pubsub, router, params, failures, nursery)
                    host.set_stream_handler(PEERS_PROTOCOL, swarm._peer_exchange.serve)
                    if on_message is not None:
                        nursery.start_soon(deliver_loop, receive, on_message)
                    swarm.start_soon(swarm._peer_exchange.peer_exchange_loop, restart=True)
                    try:
                        yield swarm
                    finally:
                        swarm._close()
                        send.close()
                        receive.close()
                        # The network first: until its connections are closed,
                        # their stream handlers and connect events still hand
                        # work to pubsub and to this nursery, and either one,
                        # once stopped, raises "Nursery is closed to new
                        # arrivals" into the connection and the host.
                        await _close_network(host)
        finally:
            await _close_network(host)  # if setup failed; a no-op after the close above


async def _close_network(host: IHost) -> None:
    # host.run() only stops the swarm service, whose clean-up then runs
    # cancelled and leaks every dialed socket (ResourceWarning). An explicit
    # close() while not cancelled shuts connections down; it is idempotent.
    with trio.move_on_after(_CLOSE_TIMEOUT) as scope:
        scope.shield = True
        await host.close()
