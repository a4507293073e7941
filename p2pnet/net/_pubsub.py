"""Anonymous gossip on one topic: py-libp2p's Pubsub and GossipSub, fixed where they leak or drop.

What goes on the wire for every post is an ``rpc_pb2.Message`` with only
``data``, ``topicIDs=[topic]`` and a fresh random 8-byte ``seqno``; its id is
:func:`message_id` of the data. Why each piece below exists, with py-libp2p
line references: ``docs/gossip-notes.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

import trio
from libp2p.abc import IHost, INetStream
from libp2p.peer.id import ID
from libp2p.pubsub import gossipsub
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.mcache import CacheEntry, MessageCache
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.rpc_queue import DefaultMaxMessageSize, RpcQueue
from libp2p.pubsub.score import ScoreParams, TopicScoreParams

from ._bucket import Buckets
from ._lean import CachedScorer, MessageIdMemo, SeenCache
from ._params import GossipParams
from ._promises import Promises
from ._reader import read_rpcs

__all__ = ["MAX_DATA_LEN", "AnonPubsub", "deliver_loop", "message_id", "new_router"]

logger = logging.getLogger(__name__)

_SEQNO_LEN = 8
_MSG_ID_LEN = 20
#: Largest payload: room for the envelope around it inside one 1 MiB pubsub RPC frame.
MAX_DATA_LEN = DefaultMaxMessageSize - 4096
# Queued RPCs to one peer are merged up to this size (well under the 1 MiB frame).
_MERGE_BYTES = 64 * 1024
# Mesh upkeep as go-libp2p-pubsub does it (docs/gossip-notes.md, pitfall 35): IHAVE goes to at
# least D_lazy peers outside the mesh, or this fraction of them; opportunistic grafting runs
# every this many heartbeats and grafts at most this many peers.
_D_LAZY = 6
_GOSSIP_FACTOR = 0.25
_OPPORTUNISTIC_GRAFT_TICKS = 60
_OPPORTUNISTIC_GRAFT_PEERS = 2


def message_id(data: bytes) -> bytes:
    """Return the gossip message id of a payload.

    Args:
        data: The opaque payload.

    Returns:
        The first 20 bytes of SHA-256(data); the same payload always has the
        same id, whoever publishes it.
    """
    return hashlib.sha256(data).digest()[:_MSG_ID_LEN]


# Every step of handling a message asks for its id: hash each message object once.
_pb_message_id = MessageIdMemo(message_id)


def new_router(params: GossipParams) -> _PromisedGossipSub:
    """Return a GossipSub router with our settings instead of py-libp2p's defaults.

    Args:
        params: Mesh degrees, heartbeat, gossip window and score settings.
    """
    router = _PromisedGossipSub(
        Promises(params.promise_timeout),
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
    assert router.scorer is not None
    router.scorer = CachedScorer(router.scorer.params)
    return router


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


class _PromisedGossipSub(GossipSub):
    """GossipSub that remembers what it asked for by IWANT (:mod:`._promises`) and keeps its mesh as go does."""

    def __init__(self, promises: Promises, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.promises = promises
        self.heartbeat_ticks = 0

    # -- mesh upkeep: stock's three departures from go that cut a node off (pitfall 35) --

    def mesh_heartbeat(self) -> tuple[defaultdict[ID, list[str]], defaultdict[ID, list[str]]]:
        # Stock prunes a mesh over D_high without backing off from the peers it
        # pruned, so it grafts them again a heartbeat or two later; they take
        # that for a GRAFT flood (within 10 s of a PRUNE), penalise us and
        # PRUNE back, and then both sides hold each other in backoff. Go backs
        # off from every peer its heartbeat prunes.
        self.heartbeat_ticks += 1
        to_graft, to_prune = super().mesh_heartbeat()
        for peer, topics in to_prune.items():
            for topic in topics:
                self._add_back_off(peer, topic, False)
        return to_graft, to_prune

    def _perform_opportunistic_grafting(self, topic: str, peers_to_graft: defaultdict[ID, list[str]]) -> int:
        # Stock runs this every heartbeat and grafts 2 peers scoring at least
        # half the median (all of them, when every score is 0), so each mesh
        # grows past D_high and is pruned back over and over. Go's: every 60
        # heartbeats, up to 2 peers scoring above the median of the mesh; with
        # our scores (penalties only) that is when the mesh holds penalised peers.
        assert self.pubsub is not None and self.scorer is not None
        mesh = self.mesh[topic]
        if self.heartbeat_ticks % _OPPORTUNISTIC_GRAFT_TICKS or len(mesh) < 2:
            return 0
        scorer, topics = self.scorer, [topic]
        median = sorted(scorer.score(p, topics) for p in mesh)[len(mesh) // 2]
        pool = [
            p
            for p in self.pubsub.peer_topics.get(topic, ())
            if p not in mesh
            and p not in self.direct_peers
            and self._is_gossipsub_peer(p)
            and not self._check_back_off(p, topic)
            and scorer.score(p, topics) > median
        ]
        chosen = random.sample(pool, min(_OPPORTUNISTIC_GRAFT_PEERS, len(pool)))
        for peer in chosen:
            mesh.add(peer)
            self._notify_mesh_peer_added(peer, topic)
            scorer.on_join_mesh(peer, topic)
            peers_to_graft[peer].append(topic)
        return len(chosen)

    def gossip_heartbeat(self) -> defaultdict[ID, dict[str, list[bytes]]]:
        # Stock leaves peers in backoff out of IHAVE, so a node whose peers all
        # pruned it (or it them) gets neither forwards nor gossip until the
        # 60 s backoff ends. Go gossips to any peer outside the mesh that is
        # above the gossip threshold; backoff is about grafting only.
        assert self.pubsub is not None and self.scorer is not None
        to_gossip: defaultdict[ID, dict[str, list[bytes]]] = defaultdict(dict)
        for topic, mesh in self.mesh.items():
            msg_ids = self.mcache.window(topic)
            if not msg_ids:
                continue
            pool = [
                p
                for p in self.pubsub.peer_topics.get(topic, ())
                if p not in mesh
                and p not in self.direct_peers
                and self._is_gossipsub_peer(p)
                and self.scorer.allow_gossip(p, [topic])
            ]
            count = max(_D_LAZY, int(len(pool) * _GOSSIP_FACTOR))
            for peer in self.select_from_minus(count, pool, ()):
                to_gossip[peer][topic] = list(msg_ids)
        for topic, peers in self.fanout.items():  # stock's, for topics we publish to unsubscribed
            if topic not in self.mesh:
                self._handle_topic_heartbeat(topic, peers, peers_to_gossip=to_gossip)
        return to_gossip

    async def emit_iwant(self, msg_ids: Sequence[bytes], to_peer: ID) -> None:
        self.promises.expect(msg_ids, to_peer, trio.current_time())
        await super().emit_iwant(msg_ids, to_peer)

    async def publish(self, msg_forwarder: ID, pubsub_msg: rpc_pb2.Message) -> None:
        # Stock's forward path, for our anonymous envelopes in a topic we are
        # subscribed to, without what costs per message and does nothing here
        # (docs/gossip-notes.md, "Ingest in a mesh"): it would copy and split
        # the RPC for each peer, hash the message for its id again, check it
        # for "equivocation" (a seqno reused with other data: an anonymous
        # seqno names nobody, so a copy that reuses a genuine post's seqno
        # would stop its forwarding; and that table keeps every message
        # forever), look for IDONTWANT and topic-observation peers (1.2 and
        # 1.3; we speak 1.1) and, with adaptive gossip off, log every delivery
        # time in a list nothing reads.
        pubsub = self.pubsub
        topics = list(pubsub_msg.topicIDs)
        if (
            pubsub is None
            or pubsub_msg.from_id
            or self.spam_protection_enabled
            or len(topics) != 1
            or topics[0] not in self.mesh
        ):
            await super().publish(msg_forwarder, pubsub_msg)
            return
        (topic,) = topics
        self.mcache.put(pubsub_msg)
        mid = _pb_message_id(pubsub_msg)
        # The module's binding, which libp2p_patches replaces with one that caches the record.
        record, _ = gossipsub.env_to_send_in_RPC(pubsub.host)  # type: ignore[attr-defined]
        rpc = rpc_pb2.RPC(publish=[pubsub_msg], senderRecord=record)
        size = rpc.ByteSize()
        for peer in self._forward_to(topic, msg_forwarder, mid):
            queue = pubsub.peer_queues.get(peer)
            if queue is None:
                continue
            if peer in self._pending_control or size > queue.max_message_size:
                self.send_rpc(peer, rpc)  # stock's way: piggybacked control, or split / dropped
            elif not queue.push(rpc):  # the same RPC to every peer: nobody changes a queued one
                self._handle_dropped_rpc(peer, rpc, "queue_full")
        # Peers whose identify or subscription has not come yet get it when it does (as stock).
        topic_peers = pubsub.peer_topics.get(topic, set())
        waiting = {p for p in topic_peers if p not in self.peer_protocol}
        waiting.update(p for p in pubsub.peers if p not in topic_peers)
        waiting.difference_update(self.direct_peers)
        waiting.discard(msg_forwarder)
        for peer in waiting:
            self._prune_pending_messages(peer)
            self._pending_messages[peer].append((time.time(), rpc))
        self.time_since_last_publish[topic] = int(time.time())
        if self.adaptive_gossip_enabled:
            self.recent_message_deliveries[topic].append(time.time())

    def _forward_to(self, topic: str, msg_forwarder: ID, mid: bytes) -> set[ID]:
        """Stock's choice of peers for a message in a topic of our mesh, each gated by its (cached) score."""
        assert self.pubsub is not None
        if topic not in self.pubsub.peer_topics:
            return set()
        scorer = self.scorer
        assert scorer is not None
        topic_list = [topic]
        peers = set(self.direct_peers)
        for p in self.mesh[topic]:
            if scorer.allow_gossip(p, topic_list) and not scorer.is_graylisted(p, topic_list):
                peers.add(p)
        peers.discard(msg_forwarder)
        dont = self.dont_send_message_ids
        return {
            p
            for p in peers
            if p in self.pubsub.peers and (p not in dont or mid not in dont[p]) and scorer.allow_publish(p, topic_list)
        }


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


class AnonPubsub(Pubsub):
    """Pubsub that accepts only anonymous envelopes for one topic."""

    def __init__(
        self,
        host: IHost,
        router: _PromisedGossipSub,
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
        # Stock's seen cache sweeps in a thread that holds the loop up while it scans every id.
        self.seen_messages.stop()
        self.seen_messages = SeenCache(params.seen_ttl)  # type: ignore[assignment]
        # Queued RPCs to one peer are coalesced into one up to this many bytes (0: each goes alone).
        self.coalesce_bytes = _MERGE_BYTES
        self.topic = topic
        self._validator = validator
        self._deliver = deliver
        self._publishing: set[bytes] = set()
        self._gossip = router  # self.router, typed as ours
        self._params = params
        # Told of every penalty (why: invalid, flood, promise, garbled); the host judges.
        self.penalised: Callable[[ID, str], None] = lambda peer, why: None
        self._first_deliveries = Buckets(params.gossip_limit)
        self.invalid_counts: defaultdict[ID, int] = defaultdict(int)
        self.flood_counts: defaultdict[ID, int] = defaultdict(int)

    def is_anonymous_envelope(self, msg: rpc_pb2.Message) -> bool:
        """Return True if msg has exactly the shape our publish() produces."""
        return (
            not msg.HasField("from_id")
            and not msg.HasField("signature")
            and not msg.HasField("key")
            and len(msg.seqno) == _SEQNO_LEN
            and list(msg.topicIDs) == [self.topic]
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
        # Each message is handled in the reader, not in a task of its own (_reader.py).
        peer_id = stream.muxed_conn.peer_id
        try:
            await read_rpcs(self, stream)
        except Exception as exc:
            self.invalid_counts[peer_id] += 1
            logger.info("dropping %s: its pubsub stream failed: %s", peer_id, exc or type(exc).__name__)
            with contextlib.suppress(Exception):
                await stream.reset()
            self._handle_dead_peer(peer_id)
            self.penalised(peer_id, "garbled")

    async def push_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        # Replaces Pubsub.push_msg, so each message's fate is decided here, once:
        # * stock runs topic validators that cache *invalid* verdicts by message
        #   id for 5 minutes; our id is the content hash, so a tampered copy
        #   (say, with `from` set) arriving first would get the genuine envelope
        #   dropped. Here each copy is judged on its own (P4 if invalid);
        # * a valid object over its forwarder's first-delivery limit is dropped
        #   *unseen* (P5): another peer's copy still gets through, so an honest
        #   relay of a burst loses nothing but its turn.
        self._gossip.promises.kept(_pb_message_id(msg))
        if self._is_msg_seen(msg):
            return
        scorer = self._gossip.scorer
        assert scorer is not None
        if msg_forwarder != self.my_id:  # publish_anonymous() validated our own
            if not scorer.allow_publish(msg_forwarder, [self.topic]):
                return
            if not (self.is_anonymous_envelope(msg) and self.check_payload(msg.data)):
                self.invalid_counts[msg_forwarder] += 1
                scorer.on_invalid_message(msg_forwarder, self.topic)
                self.penalised(msg_forwarder, "invalid")
                return
            if not self._first_deliveries.take(str(msg_forwarder)):
                self.flood_counts[msg_forwarder] += 1
                scorer.penalize_behavior(msg_forwarder, self._params.flood_penalty)
                self.penalised(msg_forwarder, "flood")
                return
        self._mark_msg_seen(msg)
        scorer.on_first_delivery(msg_forwarder, self.topic)
        self.notify_subscriptions(msg)
        await self.router.publish(msg_forwarder, msg)

    def judge_promises(self) -> None:
        """Penalise every promise past its deadline (run once a heartbeat)."""
        scorer = self._gossip.scorer
        assert scorer is not None
        for peer, broken in self._gossip.promises.broken(trio.current_time()).items():
            scorer.penalize_behavior(peer, broken * self._params.broken_promise_penalty)
            self.penalised(peer, "promise")

    def notify_subscriptions(self, publish_message: rpc_pb2.Message) -> None:
        # Stock delivery is a 32-slot channel that drops on overflow
        # (pubsub.py SUBSCRIPTION_CHANNEL_SIZE); ours is unbounded.
        if self._deliver is None or self.topic not in publish_message.topicIDs:
            return
        if _pb_message_id(publish_message) in self._publishing:
            return  # our own post: the caller already has it
        self._deliver(publish_message.data)

    async def handle_sending_messages(self, peer_id: ID, stream: INetStream, queue: RpcQueue) -> None:
        # Stock: one RPC frame per queued RPC. In a burst that is one yamux
        # frame, Noise and pnet encryption, socket write, senderRecord and
        # protobuf parse per message on both ends. RPC fields are repeated, so
        # what a peer is sent (forwards and our own posts) is coalesced: once
        # woken, the sender lets every other ready task run first (the readers
        # whose RPCs are forwarded here), then drains the queue into one RPC.
        try:
            while True:
                rpc = await queue.pop()
                if rpc is None:
                    return
                if self.coalesce_bytes:
                    await trio.lowlevel.cancel_shielded_checkpoint()
                if not await self.write_msg(stream, _drain(rpc, queue, self.coalesce_bytes)):
                    return
        except Exception:
            logger.debug("sending loop for %s ended with an error", peer_id, exc_info=True)
            self._handle_dead_peer(peer_id)

    async def publish_anonymous(self, data: bytes) -> bytes:
        """Route one anonymous envelope like any received message."""
        msg = rpc_pb2.Message(data=data, topicIDs=[self.topic], seqno=os.urandom(_SEQNO_LEN))
        mid = _pb_message_id(msg)
        self._publishing.add(mid)
        try:
            # Marks it seen, puts it in mcache and forwards it to the mesh.
            await self.push_msg(self.my_id, msg)
        finally:
            self._publishing.discard(mid)
        return mid


def _drain(rpc: rpc_pb2.RPC, queue: RpcQueue, limit: int) -> rpc_pb2.RPC:
    """``rpc`` with what else ``queue`` holds merged in, until the result reaches ``limit`` bytes.

    Mesh changes are not merged into an RPC that already has some: a
    receiver handles all GRAFTs of an RPC before its PRUNEs, so a PRUNE
    then a GRAFT merged would leave it pruned while we count it grafted.
    """
    size = rpc.ByteSize()
    merged: rpc_pb2.RPC | None = None
    changes_mesh = _changes_mesh(rpc)
    while size < limit:
        more = _peek(queue)
        if more is None or (changes_mesh and _changes_mesh(more)):
            break
        queue._queue.pop()
        changes_mesh = changes_mesh or _changes_mesh(more)
        if merged is None:
            # One RPC object is queued to every mesh peer: merge into a copy.
            merged = rpc_pb2.RPC()
            merged.CopyFrom(rpc)
        merged.MergeFrom(more)  # senderRecord: the same bytes, kept once
        size += more.ByteSize()
    return merged or rpc


def _peek(queue: RpcQueue) -> rpc_pb2.RPC | None:
    """The RPC ``queue`` would pop next (control first, as its pop), without taking it."""
    tiers = queue._queue
    if tiers._priority:
        return tiers._priority[0]
    return tiers._non_priority[0] if tiers._non_priority else None


def _changes_mesh(rpc: rpc_pb2.RPC) -> bool:
    return rpc.HasField("control") and bool(rpc.control.graft or rpc.control.prune)


async def deliver_loop(
    receive: trio.MemoryReceiveChannel[bytes],
    on_message: Callable[[bytes], Awaitable[None]],
) -> None:
    """Await ``on_message`` with each payload from ``receive``, one at a time, in order.

    Each time it runs it takes everything waiting, not one payload per turn
    of the scheduler: the readers hand over a whole RPC of messages per turn,
    and one at a time the store would starve behind them in a burst.

    Args:
        receive: Payloads as pubsub delivered them.
        on_message: The host owner's handler; an exception in it is logged and
            delivery goes on.
    """
    async with receive:
        async for data in receive:
            while True:
                try:
                    await on_message(data)
                except Exception:
                    # One bad payload must not stop delivery of the rest.
                    logger.exception("on_message failed")
                try:
                    data = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
