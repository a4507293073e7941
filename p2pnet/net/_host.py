"""One private-network libp2p host per swarm, with anonymous gossip.

This module wraps py-libp2p 0.8.1 so that the rest of the node sees a small
trio API (:func:`open_swarm_host` / :class:`SwarmHost`) and opaque payloads.

What it adds on top of stock py-libp2p (see ``docs/gossip-notes.md``):

* a libp2p private network (pnet) per swarm, keyed by the swarm's 32-byte PSK,
  with Noise as the only security transport;
* anonymous envelopes: no ``from``, ``signature`` or ``key``, a fresh random
  8-byte ``seqno``, and content-derived message ids;
* a validator on every incoming message, per-peer invalid counts and peer
  scoring with real weights;
* no silent drops on bursts (per-topic rate limiter off, deep outbound
  queues, unbounded local delivery, publish back-pressure);
* peer exchange over the small ``/p2pnet/peers/1`` protocol.

It deliberately knows nothing about the rest of p2pnet.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import random
import socket
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import libp2p.pubsub.gossipsub
import libp2p.pubsub.pubsub
import multiaddr
import trio
from Crypto.Cipher import Salsa20
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee, IRawConnection
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import ValidationError
from libp2p.host.basic_host import BasicHost
from libp2p.network.connection.exceptions import RawConnError
from libp2p.peer.envelope import consume_envelope
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.peer.peerstore import PeerStore, PeerStoreError
from libp2p.peer.peerstore import env_to_send_in_RPC as _stock_env_to_send
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.mcache import CacheEntry, MessageCache
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.rpc_queue import DefaultMaxMessageSize, RpcQueue
from libp2p.pubsub.score import ScoreParams, TopicScoreParams
from libp2p.pubsub.utils import maybe_consume_signed_record as _stock_consume_record
from libp2p.security.noise.transport import (
    PROTOCOL_ID as NOISE_PROTOCOL_ID,
)
from libp2p.security.noise.transport import (
    Transport as NoiseTransport,
)
from libp2p.security.pnet.psk_conn import PskConn
from libp2p.stream_muxer.yamux.yamux import YamuxStream
from libp2p.tools.anyio_service import background_trio_service
from libp2p.tools.anyio_service.trio_manager import TrioManager
from libp2p.utils.address_validation import expand_wildcard_address
from libp2p.utils.varint import (
    encode_varint_prefixed,
    read_varint_prefixed_bytes_limited,
)

from ._tasks import Failures, supervised

__all__ = [
    "PEERS_PROTOCOL",
    "GossipParams",
    "Stream",
    "StreamError",
    "SwarmConnectError",
    "SwarmHost",
    "message_id",
    "open_swarm_host",
    "peer_id_from_seed",
]

logger = logging.getLogger(__name__)

#: Stream protocol used for peer exchange (see :meth:`SwarmHost.exchange_peers`).
PEERS_PROTOCOL = TProtocol("/p2pnet/peers/1")

_SEQNO_LEN = 8
_MSG_ID_LEN = 20
# Room for the envelope around `data` inside one 1 MiB pubsub RPC frame.
_MAX_DATA_LEN = DefaultMaxMessageSize - 4096
_PX_MAX_RECORDS = 32
_stock_find_parent_task = TrioManager._find_parent_task
_stock_stream_handler = BasicHost._swarm_stream_handler
_stock_maybe_delete_peer_record = PeerStore.maybe_delete_peer_record
# Queued RPCs to one peer are merged up to this size (well under the 1 MiB frame).
_MERGE_BYTES = 64 * 1024
_PX_MAX_RESPONSE = 256 * 1024
_RECORD_DOMAIN = "libp2p-peer-record"
_RECORD_TTL = 7200
_CLOSE_TIMEOUT = 10.0
_PNET_WRITE_TIMEOUT = 30.0


class SwarmConnectError(ConnectionError):
    """Raised when a peer cannot be reached or is not in our private network."""


class StreamError(ConnectionError):
    """A peer stream closed, broke, sent an oversized frame or timed out."""


class Stream:
    """One libp2p stream to a swarm peer, carrying varint-length-prefixed frames."""

    def __init__(self, raw: INetStream) -> None:
        self._raw = raw
        self.peer_id: str = str(raw.muxed_conn.peer_id)

    async def send(self, frame: bytes) -> None:
        """Write one frame."""
        try:
            await self._raw.write(encode_varint_prefixed(frame))
        except Exception as exc:
            raise StreamError(f"stream to {self.peer_id} broke: {exc}") from exc

    async def receive(self, max_len: int) -> bytes:
        """Read one frame of at most ``max_len`` bytes.

        Raises:
            StreamError: The stream ended, broke, or the frame is too long.
        """
        try:
            return await read_varint_prefixed_bytes_limited(self._raw, max_len)
        except Exception as exc:
            raise StreamError(f"reading from {self.peer_id} failed: {exc}") from exc

    async def aclose(self) -> None:
        await _close_quietly(self._raw)


class _ConnectNotifee(INotifee):
    """Calls back with the peer id on each new connection (and nothing else)."""

    def __init__(self, callbacks: list[Callable[[str], None]]) -> None:
        self._callbacks = callbacks

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        peer = str(conn.muxed_conn.peer_id)
        for callback in self._callbacks:
            try:
                callback(peer)
            except Exception:
                logger.exception("connect callback failed")

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        pass  # only new connections matter here

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass  # only new connections matter here

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass  # only new connections matter here

    async def listen(self, network: INetwork, addr: multiaddr.Multiaddr) -> None:
        pass  # only new connections matter here

    async def listen_close(self, network: INetwork, addr: multiaddr.Multiaddr) -> None:
        pass  # only new connections matter here


@dataclass(frozen=True)
class GossipParams:
    """Tunables of one swarm host; the defaults are the production settings.

    Score semantics are py-libp2p's (``libp2p/pubsub/score.py``): each invalid
    message subtracts ``invalid_message_weight`` (up to ``invalid_message_cap``
    messages), decayed by ``invalid_message_decay`` every heartbeat. Below
    ``gossip_threshold`` we stop forwarding to a peer; below
    ``publish_threshold`` its messages are dropped unvalidated and we send it
    nothing; below ``graylist_threshold`` its GRAFTs are refused.

    Attributes:
        d: Target mesh degree (``d_low``/``d_high`` bound it).
        heartbeat_interval: Seconds between gossipsub heartbeats.
        gossip_window: Heartbeats of message ids advertised in IHAVE.
        gossip_history: Heartbeats a message stays answerable to IWANT.
        seen_ttl: Seconds a message id stays in the duplicate filter.
        outbound_queue_size: RPCs queued per peer before drops.
        publish_backpressure_timeout: Longest :meth:`SwarmHost.publish` waits
            for a half-full peer queue to drain.
        connect_timeout: Seconds before a dial or a peer exchange gives up.
        target_peers: Peer exchange dials until this many connections (0:
            never dial on its own).
        peer_exchange_interval: Seconds between peer exchange rounds.
    """

    d: int = 6
    d_low: int = 5
    d_high: int = 12
    heartbeat_interval: int = 1
    gossip_window: int = 3
    gossip_history: int = 5
    seen_ttl: int = 120
    outbound_queue_size: int = 10_000
    publish_backpressure_timeout: float = 10.0
    connect_timeout: float = 10.0
    target_peers: int = 8
    peer_exchange_interval: float = 5.0
    invalid_message_weight: float = 5.0
    invalid_message_cap: float = 20.0
    invalid_message_decay: float = 0.995
    behaviour_penalty_weight: float = 1.0
    behaviour_penalty_threshold: float = 10.0
    behaviour_penalty_decay: float = 0.99
    gossip_threshold: float = -25.0
    publish_threshold: float = -50.0
    graylist_threshold: float = -50.0


def message_id(data: bytes) -> bytes:
    """Return the gossip message id of a payload.

    Args:
        data: The opaque payload.

    Returns:
        The first 20 bytes of SHA-256(data); the same payload always has the
        same id, whoever publishes it.
    """
    return hashlib.sha256(data).digest()[:_MSG_ID_LEN]


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


def _pb_message_id(msg: rpc_pb2.Message) -> bytes:
    return message_id(msg.data)


def _score_params(p: GossipParams) -> ScoreParams:
    # py-libp2p ships every weight at 0 and every threshold at -inf, i.e. no
    # scoring at all. The positive terms (P1-P3) stay at 0 on purpose: they only
    # drive GossipSub._consider_peer_replacement churn in small swarms.
    return ScoreParams(
        p4_invalid_messages=TopicScoreParams(
            weight=p.invalid_message_weight,
            cap=p.invalid_message_cap,
            decay=p.invalid_message_decay,
        ),
        p5_behavior_penalty_weight=p.behaviour_penalty_weight,
        p5_behavior_penalty_threshold=p.behaviour_penalty_threshold,
        p5_behavior_penalty_decay=p.behaviour_penalty_decay,
        gossip_threshold=p.gossip_threshold,
        publish_threshold=p.publish_threshold,
        graylist_threshold=p.graylist_threshold,
        accept_px_threshold=0.0,
    )


class _RoomyQueues(dict[ID, RpcQueue]):
    """Pubsub.peer_queues that deepens every queue as it is registered.

    Pubsub._handle_new_peer builds ``RpcQueue()`` whose 32-deep bound was fixed
    at import time (rpc_queue.py OutBoundQueueSize); a full queue silently drops
    the RPC. Setting the bound in __setitem__ leaves no window at 32.
    """

    def __init__(self, max_size: int) -> None:
        super().__init__()
        self._max_size = max_size

    def __setitem__(self, peer_id: ID, queue: RpcQueue) -> None:
        queue._queue.max_size = self._max_size
        super().__setitem__(peer_id, queue)


class _ContentIdMessageCache(MessageCache):
    """MessageCache keyed by our content id instead of ``from + seqno``.

    Stock MessageCache.put ignores Pubsub's msg_id_constructor (mcache.py
    default_msg_id_fn), so IHAVE would advertise ids that never match the seen
    cache and every gossip round would IWANT the whole window again.
    """

    def put(self, msg: rpc_pb2.Message) -> None:
        mid = _pb_message_id(msg)
        if mid in self.msgs:
            return
        self.msgs[mid] = msg
        self.history[0].append(CacheEntry(mid, msg.topicIDs))


class _AnonPubsub(Pubsub):
    """Pubsub that accepts only anonymous envelopes for one topic."""

    def __init__(
        self,
        host: IHost,
        router: GossipSub,
        *,
        topic: str,
        validator: Callable[[bytes], bool],
        deliver: Callable[[bytes], None] | None,
        params: GossipParams,
    ) -> None:
        super().__init__(
            host,
            router,
            seen_ttl=params.seen_ttl,
            # StrictNoSign: we never sign, and never require signatures.
            strict_signing=False,
            msg_id_constructor=_pb_message_id,
        )
        self.peer_queues = _RoomyQueues(params.outbound_queue_size)
        self._topic = topic
        self._validator = validator
        self._deliver = deliver
        self._publishing: set[bytes] = set()
        self.invalid_counts: defaultdict[ID, int] = defaultdict(int)

    def is_anonymous_envelope(self, msg: rpc_pb2.Message) -> bool:
        """Return True if msg has exactly the shape our publish() produces."""
        return (
            not msg.HasField("from_id")
            and not msg.HasField("signature")
            and not msg.HasField("key")
            and len(msg.seqno) == _SEQNO_LEN
            and list(msg.topicIDs) == [self._topic]
        )

    def check_payload(self, data: bytes) -> bool:
        """Run the caller's validator; an exception counts as a rejection."""
        try:
            return bool(self._validator(data))
        except Exception:
            logger.debug("validator raised", exc_info=True)
            return False

    async def continuously_read_stream(self, stream: INetStream) -> None:
        # Stock lets a protobuf DecodeError (a garbled or hostile RPC), or
        # anything the router raises while handling one, escape the stream
        # handler and end the host. Here it costs that peer its pubsub link.
        peer_id = stream.muxed_conn.peer_id
        try:
            await super().continuously_read_stream(stream)
        except Exception as exc:
            self.invalid_counts[peer_id] += 1
            logger.info("dropping %s: its pubsub stream failed: %s", peer_id, exc or type(exc).__name__)
            with contextlib.suppress(Exception):
                await stream.reset()
            self._handle_dead_peer(peer_id)

    async def validate_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        # Replaces Pubsub's topic-validator path: that one caches *invalid*
        # verdicts by message id for 5 minutes, and our id is the content hash,
        # so a tampered copy (say, with `from` set) arriving first would get the
        # genuine envelope dropped. Here each copy is judged on its own.
        if msg_forwarder == self.my_id:
            return  # publish() already validated it
        if self.is_anonymous_envelope(msg) and self.check_payload(msg.data):
            return
        self.invalid_counts[msg_forwarder] += 1
        # push_msg turns this into scorer.on_invalid_message (P4).
        raise ValidationError(f"invalid message from {msg_forwarder}")

    def notify_subscriptions(self, publish_message: rpc_pb2.Message) -> None:
        # Stock delivery is a 32-slot channel that drops on overflow
        # (pubsub.py SUBSCRIPTION_CHANNEL_SIZE); ours is unbounded.
        if self._deliver is None or self._topic not in publish_message.topicIDs:
            return
        if _pb_message_id(publish_message) in self._publishing:
            return  # our own post: the caller already has it
        self._deliver(publish_message.data)

    async def handle_sending_messages(self, peer_id: ID, stream: INetStream, queue: RpcQueue) -> None:
        # Stock: one RPC frame per queued RPC. In a burst that is one yamux
        # frame, Noise and pnet encryption, socket write, senderRecord and
        # protobuf parse per message on both ends. RPC fields are repeated, so
        # whatever is already queued when the sender wakes goes out as one RPC.
        try:
            while True:
                rpc = await queue.pop()
                if rpc is None:
                    return
                size = rpc.ByteSize()
                merged: rpc_pb2.RPC | None = None
                while size < _MERGE_BYTES:
                    more = queue._queue.pop()  # does not wait
                    if more is None:
                        break
                    if merged is None:
                        # One RPC object is queued to every mesh peer: merge into a copy.
                        merged = rpc_pb2.RPC()
                        merged.CopyFrom(rpc)
                    merged.MergeFrom(more)  # senderRecord: the same bytes, kept once
                    size += more.ByteSize()
                if not await self.write_msg(stream, merged or rpc):
                    return
        except Exception:
            logger.debug("sending loop for %s ended with an error", peer_id, exc_info=True)
            self._handle_dead_peer(peer_id)

    async def publish_anonymous(self, data: bytes) -> bytes:
        """Route one anonymous envelope like any received message."""
        msg = rpc_pb2.Message(data=data, topicIDs=[self._topic], seqno=os.urandom(_SEQNO_LEN))
        mid = _pb_message_id(msg)
        self._publishing.add(mid)
        try:
            # Marks it seen, puts it in mcache and forwards it to the mesh.
            await self.push_msg(self.my_id, msg)
        finally:
            self._publishing.discard(mid)
        return mid


class SwarmHost:
    """A running libp2p host for one swarm; create it with :func:`open_swarm_host`."""

    def __init__(
        self,
        host: IHost,
        pubsub: _AnonPubsub,
        router: GossipSub,
        params: GossipParams,
        nursery: trio.Nursery,
    ) -> None:
        self._host = host
        self._pubsub = pubsub
        self._router = router
        self._params = params
        self._nursery = nursery
        self._topic = pubsub._topic
        self.peer_id: str = str(host.get_id())
        # Failures of this host's tasks and inbound streams, by name, for status.
        self.failures = _failures_of(host)
        self._connect_callbacks: list[Callable[[str], None]] = []
        host.get_network().register_notifee(_ConnectNotifee(self._connect_callbacks))

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
        await self._dial(info)
        # Learn the peer's neighbours straight away instead of at the next round.
        self._nursery.start_soon(self._exchange_quietly, info.peer_id)

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
        if len(data) > _MAX_DATA_LEN:
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
            envelope = self._peer_record(pid)
            if envelope is not None:
                addrs.extend(envelope.record().addrs)
            with contextlib.suppress(PeerStoreError):  # expired or unknown: none left
                addrs.extend(peerstore.addrs(pid))
            full = _with_p2p(addrs, pid)
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

    async def exchange_peers(self, peer_id: str) -> int:
        """Ask one connected peer for the peers it knows and dial some of them.

        Args:
            peer_id: A connected peer.

        Returns:
            How many new connections were made.
        """
        return await self._exchange(ID.from_base58(peer_id))

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
        after a back-off.
        """
        self._nursery.start_soon(partial(supervised, fn, *args, failures=self.failures, restart=restart))

    # -- internals -------------------------------------------------------

    def _peer_record(self, peer_id: ID) -> Any:
        """The peer's signed record, or None; never raises (see _forget_expired_record)."""
        try:
            return self._host.get_peerstore().get_peer_record(peer_id)
        except PeerStoreError:
            self.failures["peerstore_expired"] += 1
            return None

    async def _dial(self, info: PeerInfo) -> None:
        try:
            with trio.fail_after(self._params.connect_timeout):
                await self._host.connect(info)
        except trio.TooSlowError as exc:
            raise SwarmConnectError(
                f"timed out connecting to {info.peer_id} (unreachable, or not in this swarm's private network)"
            ) from exc
        except Exception as exc:
            raise SwarmConnectError(f"cannot connect to {info.peer_id}: {exc}") from exc

    async def _wait_for_queue_room(self) -> None:
        # Back-pressure for local bursts: forwarding never blocks, so a burst
        # must not fill the outbound queues (a full queue drops silently). A
        # stuck peer only delays us up to the timeout, then it may drop.
        high_water = self._params.outbound_queue_size // 2
        with trio.move_on_after(self._params.publish_backpressure_timeout):
            # RpcQueue has no "drained" signal to wait on, so poll.
            while any(len(q) > high_water for q in self._pubsub.peer_queues.values()):  # noqa: ASYNC110
                await trio.sleep(0.01)

    async def _serve_peers(self, stream: INetStream) -> None:
        # Reply with a gossipsub-PX-shaped list: PeerInfo{peerID,
        # signedPeerRecord} of our connected peers, so the asker can check the
        # records are signed by the peers they describe.
        try:
            requester = stream.muxed_conn.peer_id
            candidates = [pid for pid in self._host.get_connected_peers() if pid != requester]
            random.shuffle(candidates)
            reply = rpc_pb2.ControlPrune(topicID=self._topic)
            for pid in candidates:
                envelope = self._peer_record(pid)
                if envelope is None:
                    continue
                reply.peers.append(
                    rpc_pb2.PeerInfo(
                        peerID=pid.to_bytes(),
                        signedPeerRecord=envelope.marshal_envelope(),
                    )
                )
                if len(reply.peers) >= _PX_MAX_RECORDS:
                    break
            await stream.write(encode_varint_prefixed(reply.SerializeToString()))
        except Exception:
            logger.debug("peer exchange reply failed", exc_info=True)
        finally:
            await _close_quietly(stream)

    async def _exchange(self, peer_id: ID) -> int:
        with trio.fail_after(self._params.connect_timeout):
            stream = await self._host.new_stream(peer_id, [PEERS_PROTOCOL])
            try:
                raw = await read_varint_prefixed_bytes_limited(stream, _PX_MAX_RESPONSE)
            finally:
                await _close_quietly(stream)
        reply = rpc_pb2.ControlPrune()
        reply.ParseFromString(raw)
        return await self._dial_px(reply.peers)

    async def _dial_px(self, peers: Iterable[rpc_pb2.PeerInfo]) -> int:
        me = self._host.get_id()
        connected = set(self._host.get_connected_peers())
        peerstore = self._host.get_peerstore()
        fresh: list[PeerInfo] = []
        for px in list(peers)[:_PX_MAX_RECORDS]:
            try:
                envelope, record = consume_envelope(px.signedPeerRecord, _RECORD_DOMAIN)
                if record.peer_id.to_bytes() != px.peerID:
                    continue
            except Exception:
                continue  # unsigned or forged record: ignore
            if record.peer_id == me:
                continue
            peerstore.consume_peer_record(envelope, _RECORD_TTL)
            if record.peer_id not in connected and record.addrs:
                fresh.append(PeerInfo(record.peer_id, record.addrs))
        room = self._params.target_peers - len(connected)
        if room <= 0 or not fresh:
            return 0
        random.shuffle(fresh)
        made = 0

        async def dial(info: PeerInfo) -> None:
            nonlocal made
            try:
                await self._dial(info)
                made += 1
            except SwarmConnectError as exc:
                logger.debug("peer exchange dial failed: %s", exc)

        async with trio.open_nursery() as nursery:
            for info in fresh[:room]:
                nursery.start_soon(dial, info)
        return made

    async def _exchange_quietly(self, peer_id: ID) -> None:
        try:
            await self._exchange(peer_id)
        except Exception as exc:
            logger.debug("peer exchange with %s failed: %s", peer_id, exc)

    async def _peer_exchange_loop(self) -> None:
        while True:
            await trio.sleep(self._params.peer_exchange_interval)
            peers = self._host.get_connected_peers()
            if not peers or len(peers) >= self._params.target_peers:
                continue
            for pid in random.sample(peers, min(3, len(peers))):
                await self._exchange_quietly(pid)


def _with_p2p(addrs: Iterable[multiaddr.Multiaddr], peer_id: ID) -> list[str]:
    out = []
    for addr in addrs:
        text = str(addr)
        if text.startswith(("/ip4/0.0.0.0/", "/ip6/::/")):
            continue  # "any address" is not a place to dial
        if "/p2p/" not in text:
            text = f"{text}/p2p/{peer_id}"
        if text not in out:
            out.append(text)
    return out


def _advertised_addrs(addrs: list[multiaddr.Multiaddr]) -> list[multiaddr.Multiaddr]:
    # A host listening on 0.0.0.0 would otherwise advertise (and sign into its
    # peer record) 0.0.0.0, which others cannot dial.
    out: list[multiaddr.Multiaddr] = []
    for addr in addrs:
        if str(addr).startswith("/ip4/0.0.0.0/"):
            out.extend(a for a in expand_wildcard_address(addr) if str(a).startswith("/ip4/"))
        else:
            out.append(addr)
    return out


async def _pnet_write(self: PskConn, data: bytes) -> None:
    """Cancellation-safe replacement for PskConn.write (security/pnet/psk_conn.py).

    The stock write advances the Salsa20 keystream and *then* awaits the socket
    write; a cancelled write (py-libp2p cancels plenty, e.g. a yamux window
    update sent from inside a timed-out read) leaves the peer decrypting with
    the wrong keystream: garbage frame lengths and a silently dead connection.
    Here the nonce goes out with the first bytes and each ciphertext is written
    whole or the connection is closed.
    """
    if self.write_cipher is None:
        nonce = os.urandom(8)
        self.write_cipher = Salsa20.new(key=self._psk, nonce=nonce)
        out = nonce + self.write_cipher.encrypt(data)
    else:
        out = self.write_cipher.encrypt(data)
    with trio.move_on_after(_PNET_WRITE_TIMEOUT) as scope:
        scope.shield = True
        await self._conn.write(out)
        return
    with trio.CancelScope(shield=True):
        await _close_quietly(self._conn)
    raise RawConnError("pnet write timed out; connection closed")


def _install_pnet_write_fix() -> None:
    # Process-wide and idempotent: every pnet connection needs atomic writes.
    PskConn.write = _pnet_write  # type: ignore[method-assign]


async def _yamux_window_update(self: YamuxStream, *, bytes_read: int = 0) -> None:
    """go-yamux's rule for YamuxStream._auto_tune_and_send_window_update.

    The stock method also sends a WINDOW_UPDATE whenever *any* slack exists
    after a read, i.e. after every read: one extra muxer frame (Noise + pnet
    encrypt and a socket write) for each varint byte and each message read.
    Here an update goes out only once half the window is consumed, as in go.
    """
    total = 0
    async with self.window_lock:
        self._pending_recv_release += bytes_read
        buffered = len(self.conn.stream_buffers.get(self.stream_id, b""))
        delta = self.target_recv_window - (self.recv_window + buffered)
        if delta > 0 and delta >= self._grow_threshold():
            total = self._grow_to_delta(buffered) + self._apply_autotune_epoch(buffered)
            self._pending_recv_release = 0
    if total > 0:
        await self.send_window_update(total, skip_lock=True)


_record_out: weakref.WeakKeyDictionary[IHost, tuple[float, bytes]] = weakref.WeakKeyDictionary()
_records_in: OrderedDict[tuple[ID, bytes], float] = OrderedDict()
_RECORD_OUT_TTL = 5.0
_RECORDS_IN_MAX = 4096
_RECORD_RECHECK = 600.0


def _cached_env_to_send(host: IHost) -> tuple[bytes, bool]:
    # Stock: rebuilds every listen multiaddr from the sockets for every RPC
    # sent (about a tenth of a busy node's CPU). Addresses change only when
    # listening starts, so a few seconds' reuse is safe.
    now = time.monotonic()
    hit = _record_out.get(host)
    if hit is not None and now - hit[0] < _RECORD_OUT_TTL:
        return hit[1], False
    envelope, fresh = _stock_env_to_send(host)
    _record_out[host] = (now, envelope)
    return envelope, fresh


def _cached_consume_record(msg: rpc_pb2.RPC, host: IHost, peer_id: ID) -> bool:
    # Stock: parses and Ed25519-verifies the sender's record in every RPC,
    # though a peer re-sends the same bytes until its addresses change. Bytes
    # already verified and stored for this peer need no second check.
    if not msg.HasField("senderRecord"):
        return True
    key = (peer_id, msg.senderRecord)
    now = time.monotonic()
    verified = _records_in.get(key)
    if verified is not None and now - verified < _RECORD_RECHECK:
        _records_in.move_to_end(key)
        return True
    ok = _stock_consume_record(msg, host, peer_id)  # also renews the peerstore's 2 h TTL
    if ok:
        _records_in[key] = now
        _records_in.move_to_end(key)
        while len(_records_in) > _RECORDS_IN_MAX:
            _records_in.popitem(last=False)
    return ok


_parents: weakref.WeakKeyDictionary[TrioManager, weakref.WeakKeyDictionary[trio.lowlevel.Task, Any]] = (
    weakref.WeakKeyDictionary()
)


def _cached_find_parent_task(self: TrioManager, trio_task: trio.lowlevel.Task) -> Any:
    # Stock: walks every live task of the service on every run_task, and
    # pubsub calls run_task once per message received: quadratic in a burst.
    # A trio task's FunctionTask (or its having none) never changes.
    known = _parents.setdefault(self, weakref.WeakKeyDictionary())
    try:
        return known[trio_task]
    except KeyError:
        found = _stock_find_parent_task(self, trio_task)
        known[trio_task] = found
        return found


def _maybe_delete_peer_record(self: PeerStore, peer_id: ID) -> None:
    """PeerStore.maybe_delete_peer_record that treats expired addresses as none.

    Stock calls ``self.addrs(peer_id)``, which raises PeerStoreError("peer ID
    is expired") once the peer's address TTL has run out, so every
    ``get_peer_record`` of such a peer raised instead of returning None. A
    failed dial resets that TTL to 120 s (BasicHost.connect), so a peer that
    advertised an address nobody could dial made readers of the record (our
    peer saving and exchange, gossipsub's PRUNE) raise two minutes later.
    """
    if peer_id not in self.peer_record_map:
        return
    try:
        live = self.addrs(peer_id)
    except PeerStoreError:
        live = []
    if not live:
        self.peer_record_map.pop(peer_id, None)


# Where each host's contained stream failures are counted (its owner's counter).
_host_failures: weakref.WeakKeyDictionary[IHost, Failures] = weakref.WeakKeyDictionary()


def _failures_of(host: IHost) -> Failures:
    return _host_failures.setdefault(host, Failures())


async def _contained_stream_handler(self: BasicHost, net_stream: INetStream) -> None:
    """BasicHost._swarm_stream_handler that keeps a failing stream to itself.

    Stock: an exception in any inbound stream's protocol handler propagates
    through the connection's nursery into the network service and ends the
    host (and with it the daemon). Whatever a peer sends, it costs at most
    that one stream.
    """
    try:
        await _stock_stream_handler(self, net_stream)
    except Exception as exc:
        _failures_of(self)["inbound_stream"] += 1
        logger.info(
            "inbound stream from %s failed: %s",
            getattr(net_stream.muxed_conn, "peer_id", "?"),
            exc or type(exc).__name__,
        )
        with contextlib.suppress(Exception):
            await net_stream.reset()


def _install_per_rpc_fixes() -> None:
    # Process-wide and idempotent; each replacement keeps the stock meaning.
    _install_pnet_write_fix()
    PeerStore.maybe_delete_peer_record = _maybe_delete_peer_record  # type: ignore[method-assign]
    BasicHost._swarm_stream_handler = _contained_stream_handler  # type: ignore[method-assign]
    TrioManager._find_parent_task = _cached_find_parent_task  # type: ignore[method-assign]
    YamuxStream._auto_tune_and_send_window_update = _yamux_window_update  # type: ignore[method-assign]
    for module in (libp2p.pubsub.pubsub, libp2p.pubsub.gossipsub):
        module.env_to_send_in_RPC = _cached_env_to_send  # type: ignore[attr-defined]
        module.maybe_consume_signed_record = _cached_consume_record  # type: ignore[attr-defined]


def _check_can_listen(ip: str, port: int) -> None:
    """Raise OSError if ip:port cannot be listened on by us alone.

    py-libp2p's TCP listener sets SO_REUSEPORT (transport/tcp/tcp.py
    _open_reuseport_listeners), so binding a port that another host of the same
    user already listens on *succeeds* and the kernel splits incoming
    connections between the two. A plain bind first turns that into the usual
    EADDRINUSE.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR tolerates TIME_WAIT leftovers, never a live listener.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((ip, port))


async def _close_quietly(stream: INetStream | IRawConnection) -> None:
    with contextlib.suppress(Exception):
        await stream.close()


async def _deliver_loop(
    receive: trio.MemoryReceiveChannel[bytes],
    on_message: Callable[[bytes], Awaitable[None]],
) -> None:
    async with receive:
        async for data in receive:
            try:
                await on_message(data)
            except Exception:
                # One bad payload must not stop delivery of the rest.
                logger.exception("on_message failed")


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
    _install_per_rpc_fixes()
    if len(psk) != 32:
        raise ValueError("psk must be 32 bytes")
    key_pair = _key_pair(host_key_seed)
    host = new_host(
        key_pair=key_pair,
        # py-libp2p wants the PSK as 64 hex chars (security/pnet/protector.py).
        psk=psk.hex(),
        addrs_factory=_advertised_addrs,
        # Noise only: the default set also offers plaintext and secio, where a
        # swarm member could claim another member's peer id.
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)},
    )
    router = GossipSub(
        # Not 1.2: py-libp2p sends an IDONTWANT RPC per message per mesh peer,
        # whatever the size (go: only above 1 KiB), which halves throughput for
        # our small posts while remembering at most 10 ids per peer.
        [PROTOCOL_ID_V11],
        degree=params.d,
        degree_low=params.d_low,
        degree_high=params.d_high,
        gossip_window=params.gossip_window,
        gossip_history=params.gossip_history,
        heartbeat_interval=params.heartbeat_interval,
        score_params=_score_params(params),
        # The 10 msg/s per-peer-per-topic limiter drops valid messages after
        # they are marked seen and delivered, so they are never forwarded.
        spam_protection_enabled=False,
        # Adaptive mode rewrites heartbeat_interval to 30-60 s and D bounds.
        adaptive_gossip_enabled=False,
        # Grafts beyond D_high for IP diversity; fights mesh maintenance.
        eclipse_protection_enabled=False,
    )
    router.mcache = _ContentIdMessageCache(params.gossip_window, params.gossip_history)
    _host_failures[host] = failures if failures is not None else Failures()

    # Unbounded on purpose: gossip already bounds the rate, and dropping here
    # would lose messages that are marked seen and never come back.
    send, receive = trio.open_memory_channel[bytes](math.inf)

    def deliver(data: bytes) -> None:
        with contextlib.suppress(trio.ClosedResourceError):  # shutting down
            send.send_nowait(data)

    pubsub = _AnonPubsub(
        host,
        router,
        topic=topic,
        validator=validator,
        deliver=deliver if on_message is not None else None,
        params=params,
    )
    _check_can_listen(listen_ip, port)
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
                    swarm = SwarmHost(host, pubsub, router, params, nursery)
                    host.set_stream_handler(PEERS_PROTOCOL, swarm._serve_peers)
                    if on_message is not None:
                        nursery.start_soon(_deliver_loop, receive, on_message)
                    swarm.start_soon(swarm._peer_exchange_loop, restart=True)
                    try:
                        yield swarm
                    finally:
                        nursery.cancel_scope.cancel()
                        send.close()
                        receive.close()
        finally:
            # host.run() only stops the swarm service, whose clean-up then runs
            # cancelled and leaks every dialed socket (ResourceWarning). An
            # explicit close() while not cancelled shuts connections down.
            with trio.move_on_after(_CLOSE_TIMEOUT) as scope:
                scope.shield = True
                await host.close()
