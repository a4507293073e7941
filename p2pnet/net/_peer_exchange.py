"""Peer exchange over ``/p2pnet/peers/1``: how members of a swarm find each other.

GossipSub's own peer exchange rides only on PRUNE, which a small swarm never
sends, and identify does not carry other peers. So the asker opens
``/p2pnet/peers/1`` and reads one varint-prefixed ``rpc_pb2.ControlPrune``
whose ``peers`` are gossipsub-PX ``PeerInfo{peerID, signedPeerRecord}``
entries of peers the server is connected to; only records signed by the peer
they describe are kept, and new peers are dialed up to ``target_peers``
connections (``docs/gossip-notes.md``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import Any

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.envelope import consume_envelope
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import PeerStoreError
from libp2p.pubsub.pb import rpc_pb2
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from ._params import GossipParams
from ._stream import SwarmConnectError, ViaRelay, close_quietly, dial
from ._tasks import Failures

__all__ = ["PEERS_PROTOCOL", "PeerExchange"]

logger = logging.getLogger(__name__)

#: Stream protocol used for peer exchange.
PEERS_PROTOCOL = TProtocol("/p2pnet/peers/1")

_PX_MAX_RECORDS = 32
_PX_MAX_RESPONSE = 256 * 1024
_PX_ASKED_PER_ROUND = 3
_RECORD_DOMAIN = "libp2p-peer-record"
_RECORD_TTL = 7200
# The stem picks relays only among peers we dialled (protocol.md, 11.3): a
# node all of whose peers dialled it dials on, even at target_peers, until it
# has this many of its own.
MIN_OUTBOUND = 2


class PeerExchange:
    """Both ends of ``/p2pnet/peers/1`` for one host.

    Args:
        host: The libp2p host.
        topic: The swarm's gossip topic (named in each reply, as gossipsub PX does).
        params: ``connect_timeout``, ``target_peers`` and ``peer_exchange_interval`` apply.
        failures: Where unreadable peer records are counted (``peerstore_expired``).
        outbound: Returns the connected peers we dialled.
        via_relay: Dials a circuit address (``_relay``); a record's relay addresses are raced with its direct ones.
    """

    def __init__(
        self,
        host: IHost,
        topic: str,
        params: GossipParams,
        failures: Failures,
        outbound: Callable[[], list[str]] = list,
        via_relay: ViaRelay | None = None,
    ) -> None:
        self._host = host
        self._topic = topic
        self._params = params
        self._failures = failures
        self._outbound = outbound
        self._via_relay = via_relay

    def record(self, peer_id: ID) -> Any:
        """Return the peer's signed record envelope, or None; never raises.

        A record whose addresses expired raised ``PeerStoreError`` in stock
        py-libp2p (``libp2p_patches``); any such error still reads as absent.
        """
        try:
            return self._host.get_peerstore().get_peer_record(peer_id)
        except PeerStoreError:
            self._failures["peerstore_expired"] += 1
            return None

    async def serve(self, stream: INetStream) -> None:
        """Answer one asker with up to 32 signed records of our other connected peers."""
        # Reply with a gossipsub-PX-shaped list: PeerInfo{peerID,
        # signedPeerRecord} of our connected peers, so the asker can check the
        # records are signed by the peers they describe.
        try:
            requester = stream.muxed_conn.peer_id
            candidates = [pid for pid in self._host.get_connected_peers() if pid != requester]
            random.shuffle(candidates)
            reply = rpc_pb2.ControlPrune(topicID=self._topic)
            for pid in candidates:
                envelope = self.record(pid)
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
            await close_quietly(stream)

    async def exchange(self, peer_id: ID) -> int:
        """Ask one connected peer for the peers it knows and dial some of them.

        Returns:
            How many new connections were made.
        """
        with trio.fail_after(self._params.connect_timeout):
            stream = await self._host.new_stream(peer_id, [PEERS_PROTOCOL])
            try:
                raw = await read_varint_prefixed_bytes_limited(stream, _PX_MAX_RESPONSE)
            finally:
                await close_quietly(stream)
        reply = rpc_pb2.ControlPrune()
        reply.ParseFromString(raw)
        return await self._dial_new(reply.peers)

    async def exchange_quietly(self, peer_id: ID) -> None:
        """:meth:`exchange`, with a failure only logged: the next round asks again."""
        try:
            await self.exchange(peer_id)
        except Exception as exc:
            logger.debug("peer exchange with %s failed: %s", peer_id, exc)

    async def peer_exchange_loop(self) -> None:
        """Every ``peer_exchange_interval``, while below ``target_peers`` (or
        :data:`MIN_OUTBOUND` peers dialled), ask a few connected peers.

        Its failures are counted as ``peer_exchange_loop`` (``status``).
        """
        while True:
            await trio.sleep(self._params.peer_exchange_interval)
            peers = self._host.get_connected_peers()
            if not peers or self._room(len(peers)) <= 0:
                continue
            for pid in random.sample(peers, min(_PX_ASKED_PER_ROUND, len(peers))):
                await self.exchange_quietly(pid)

    def _room(self, connected: int) -> int:
        """How many more peers to dial (none if ``target_peers`` is 0: dialing is off)."""
        if self._params.target_peers <= 0:
            return 0
        return max(self._params.target_peers - connected, MIN_OUTBOUND - len(self._outbound()))

    async def _dial_new(self, peers: Iterable[rpc_pb2.PeerInfo]) -> int:
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
        room = self._room(len(connected))
        if room <= 0 or not fresh:
            return 0
        random.shuffle(fresh)
        made = 0

        async def dial_one(info: PeerInfo) -> None:
            nonlocal made
            try:
                await dial(self._host, info, self._params, via_relay=self._via_relay)
                made += 1
            except SwarmConnectError as exc:
                logger.debug("peer exchange dial failed: %s", exc)

        async with trio.open_nursery() as nursery:
            for info in fresh[:room]:
                nursery.start_soon(dial_one, info)
        return made
