"""Reading one peer's pubsub stream, with each message handled in the reader.

Stock ``Pubsub.continuously_read_stream`` (pubsub.py:547) hands every
received message to ``manager.run_task``: a task, a uuid4 and scheduler work
per message, before any check, and as many tasks as a peer cares to send
(docs/gossip-notes.md, "Ingest in a mesh").  Here the reader awaits
``push_msg`` for each message itself, in order, as go-libp2p-pubsub came to
do: a peer that sends faster than we check waits on its own stream (TCP
and yamux back-pressure), and costs nobody else a task.  ``push_msg`` never
waits on another peer: what it forwards goes into per-peer queues that drop
when full.  The rest (subscriptions, control, the sender's record, the size
limit, the ends of a stream) is as stock.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from libp2p.io.exceptions import IOException, MessageTooLarge
from libp2p.network.connection.exceptions import RawConnError
from libp2p.network.stream.exceptions import StreamEOF, StreamError
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import GossipsubEvent
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from .libp2p_patches import consume_sender_record

if TYPE_CHECKING:
    from libp2p.abc import INetStream
    from libp2p.pubsub.pubsub import Pubsub

__all__ = ["read_rpcs"]

logger = logging.getLogger(__name__)


async def read_rpcs(pubsub: Pubsub, stream: INetStream) -> None:
    """Read RPCs from ``stream`` until it ends; a decode or router error propagates to the caller."""
    peer_id = stream.muxed_conn.peer_id
    try:
        while pubsub.manager.is_running:
            incoming = await read_varint_prefixed_bytes_limited(stream, pubsub.max_inbound_rpc_size)
            rpc = rpc_pb2.RPC()
            rpc.ParseFromString(incoming)
            # The sender's record, verified once per peer and bytes (not stock's check in every RPC).
            if not consume_sender_record(rpc, pubsub.host, peer_id):
                logger.debug("ignoring an RPC from %s with an invalid signed record", peer_id)
                continue
            for msg in rpc.publish:
                if pubsub._is_subscribed_to_msg(msg) and pubsub.manager.is_running:
                    await pubsub.push_msg(peer_id, msg)
            if rpc.subscriptions:
                if len(rpc.subscriptions) > pubsub.max_subscriptions_per_rpc:
                    logger.warning("%s sent %d subscriptions in one RPC: ignored", peer_id, len(rpc.subscriptions))
                else:
                    for sub in rpc.subscriptions:
                        pubsub.handle_subscription(peer_id, sub)
            if rpc.HasField("control"):
                await pubsub.router.handle_rpc(rpc, peer_id)
            if stream.metric_send_channel is not None:
                event = GossipsubEvent()
                event.peer_id = peer_id.pretty()
                event.message_size = len(incoming)
                event.publish, event.subopts = bool(rpc.publish), bool(rpc.subscriptions)
                event.control = rpc.HasField("control")
                await stream.metric_send_channel.send(event)
    except MessageTooLarge as error:
        logger.warning("pubsub RPC from %s over the size limit: %s", peer_id, error)
        with contextlib.suppress(Exception):
            await stream.reset()
        pubsub._handle_dead_peer(peer_id)
    except (StreamEOF, StreamError, IOException, RawConnError):
        logger.debug("pubsub stream of %s ended", peer_id)
