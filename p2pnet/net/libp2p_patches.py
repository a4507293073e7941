"""Every process-wide change p2pnet makes to py-libp2p 0.8.1, installed by :func:`install`, and what it wraps per host.

py-libp2p is pinned to exactly 0.8.1 because these replace its internals. Each
replacement keeps the stock meaning and changes only what is broken or
wasteful; its docstring says what stock does and why that is replaced, and
``docs/gossip-notes.md`` gives the py-libp2p line numbers. They apply to every
libp2p host in the process once installed, including stock hosts that tests
run next to ours. The stock functions are kept here as ``_stock_*``.
Two more wrap one host's own objects and nothing else: :func:`count_stream_failures`
and :func:`watch_inbound`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import libp2p.network.swarm
import libp2p.pubsub.gossipsub
import libp2p.pubsub.pubsub
import trio
from Crypto.Cipher import Salsa20
from libp2p.abc import IHost, INetStream, IRawConnection, ISecureConn
from libp2p.connection_types import ConnectionType
from libp2p.host.basic_host import BasicHost
from libp2p.network.connection.exceptions import RawConnError
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStore, PeerStoreError, env_to_send_in_RPC
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.utils import maybe_consume_signed_record
from libp2p.security.pnet.psk_conn import PskConn
from libp2p.stream_muxer.yamux.yamux import YamuxStream
from libp2p.tools.anyio_service.trio_manager import TrioManager

from ._relay import protect
from ._tasks import Failures

__all__ = ["addrs_changed", "consume_sender_record", "count_stream_failures", "install", "watch_inbound"]

logger = logging.getLogger(__name__)

_stock_pnet_write = PskConn.write
_stock_window_update = YamuxStream._auto_tune_and_send_window_update
_stock_env_to_send = env_to_send_in_RPC
_stock_consume_record = maybe_consume_signed_record
_stock_find_parent_task = TrioManager._find_parent_task
_stock_maybe_delete_peer_record = PeerStore.maybe_delete_peer_record
_stock_stream_handler = BasicHost._swarm_stream_handler

_PNET_WRITE_TIMEOUT = 30.0
_RECORD_OUT_TTL = 5.0
_RECORDS_IN_MAX = 4096
_RECORD_RECHECK = 600.0
# The clock of the record caches; tests move it.
_now = time.monotonic


def install() -> None:
    """Install every replacement below into py-libp2p; calling it again changes nothing."""
    PskConn.write = _pnet_write  # type: ignore[method-assign]
    YamuxStream._auto_tune_and_send_window_update = _yamux_window_update  # type: ignore[method-assign]
    # Both pubsub modules imported these by name, so each module's binding is replaced.
    for module in (libp2p.pubsub.pubsub, libp2p.pubsub.gossipsub):
        module.env_to_send_in_RPC = _cached_env_to_send  # type: ignore[attr-defined]
        module.maybe_consume_signed_record = consume_sender_record  # type: ignore[attr-defined]
    TrioManager._find_parent_task = _cached_find_parent_task  # type: ignore[method-assign]
    PeerStore.maybe_delete_peer_record = _maybe_delete_peer_record  # type: ignore[method-assign]
    BasicHost._swarm_stream_handler = _contained_stream_handler  # type: ignore[method-assign]
    # The PSK once per connection, keeping what it wraps (relayed or not): ``_relay.protect``.
    libp2p.network.swarm.new_protected_conn = protect  # type: ignore[attr-defined,assignment]


# -- pnet: cancellation-safe writes --------------------------------------------------


async def _pnet_write(self: PskConn, data: bytes) -> None:
    """Cancellation-safe replacement for ``PskConn.write`` (security/pnet/psk_conn.py).

    Stock advances the Salsa20 keystream and *then* awaits the socket write,
    and sends the nonce as a write of its own. A cancelled write (py-libp2p
    cancels plenty, e.g. a yamux window update sent from inside a timed-out
    read) leaves the peer decrypting with the wrong keystream: garbage frame
    lengths and a silently dead connection. Here the nonce goes out with the
    first bytes and each ciphertext is written whole, shielded for at most
    30 s, or the connection is closed.
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
    with trio.CancelScope(shield=True), contextlib.suppress(Exception):
        await self._conn.close()
    raise RawConnError("pnet write timed out; connection closed")


# -- yamux: window updates as go-yamux sends them ------------------------------------


async def _yamux_window_update(self: YamuxStream, *, bytes_read: int = 0) -> None:
    """go-yamux's rule for ``YamuxStream._auto_tune_and_send_window_update``.

    Stock sends a WINDOW_UPDATE whenever *any* slack exists after a read, i.e.
    after every read: one extra muxer frame (Noise and pnet encryption and a
    socket write) for each varint byte and each message read. Here an update
    goes out only once half the window is consumed, as in go.
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


# -- signed peer records: built and verified once, not per RPC -------------------------

_record_out: weakref.WeakKeyDictionary[IHost, tuple[float, bytes]] = weakref.WeakKeyDictionary()
_records_in: OrderedDict[tuple[ID, bytes], float] = OrderedDict()


def _cached_env_to_send(host: IHost) -> tuple[bytes, bool]:
    """``env_to_send_in_RPC`` that reuses our own signed record for 5 s.

    Stock recomputes every listen multiaddr from the sockets for every RPC
    sent, to decide whether to re-sign the record (about a tenth of a busy
    node's CPU). Addresses change only when listening starts, or when a
    router's address is advertised (UPnP), which calls :func:`addrs_changed`.
    """
    now = _now()
    hit = _record_out.get(host)
    if hit is not None and now - hit[0] < _RECORD_OUT_TTL:
        return hit[1], False
    envelope, fresh = _stock_env_to_send(host)
    _record_out[host] = (now, envelope)
    return envelope, fresh


def addrs_changed(host: IHost) -> None:
    """Sign the next record anew: a peer keeps the newest record it saw and drops RPCs carrying an older one."""
    _record_out.pop(host, None)


def consume_sender_record(msg: rpc_pb2.RPC, host: IHost, peer_id: ID) -> bool:
    """``maybe_consume_signed_record`` that verifies each peer's record bytes once.

    Stock parses and Ed25519-verifies the sender's record in every RPC
    received (twice for RPCs with control messages), though a peer re-sends
    the same bytes until its addresses change. Bytes already verified for the
    same peer in the last 10 minutes are accepted as they are; a bounded LRU
    of 4,096 entries, and a re-check renews the peerstore's 2 h TTL.
    """
    if not msg.HasField("senderRecord"):
        return True
    key = (peer_id, msg.senderRecord)
    now = _now()
    verified = _records_in.get(key)
    if verified is not None and now - verified < _RECORD_RECHECK:
        _records_in.move_to_end(key)
        return True
    ok = _stock_consume_record(msg, host, peer_id)
    if ok:
        _records_in[key] = now
        _records_in.move_to_end(key)
        while len(_records_in) > _RECORDS_IN_MAX:
            _records_in.popitem(last=False)
    return ok


# -- the service manager: a task's parent found once ---------------------------------

_parents: weakref.WeakKeyDictionary[TrioManager, weakref.WeakKeyDictionary[trio.lowlevel.Task, Any]] = (
    weakref.WeakKeyDictionary()
)


def _cached_find_parent_task(self: TrioManager, trio_task: trio.lowlevel.Task) -> Any:
    """``TrioManager._find_parent_task`` that remembers each trio task's answer.

    Stock walks every live task of the service on every ``run_task``, and
    pubsub calls ``run_task`` once per message received: quadratic in a
    burst. A trio task's FunctionTask (or its having none) never changes.
    """
    known = _parents.setdefault(self, weakref.WeakKeyDictionary())
    try:
        return known[trio_task]
    except KeyError:
        found = _stock_find_parent_task(self, trio_task)
        known[trio_task] = found
        return found


# -- the peerstore: an expired record reads as absent --------------------------------


def _maybe_delete_peer_record(self: PeerStore, peer_id: ID) -> None:
    """``PeerStore.maybe_delete_peer_record`` that treats expired addresses as none.

    Stock calls ``self.addrs(peer_id)``, which raises PeerStoreError("peer ID
    is expired") once the peer's address TTL has run out, so every
    ``get_peer_record`` of such a peer raised instead of returning None. A
    failed dial resets that TTL to 120 s (BasicHost.connect), so a peer that
    advertised an address nobody could dial made readers of the record (our
    peer saving and exchange, gossipsub's PRUNE) raise two minutes later.
    Here the record is dropped, as the method's docstring intends.
    """
    if peer_id not in self.peer_record_map:
        return
    try:
        live = self.addrs(peer_id)
    except PeerStoreError:
        live = []
    if not live:
        self.peer_record_map.pop(peer_id, None)


# -- inbound streams: a failing handler costs only its stream ------------------------

# Where each host's contained stream failures are counted (its owner's counter).
_host_failures: weakref.WeakKeyDictionary[IHost, Failures] = weakref.WeakKeyDictionary()


def count_stream_failures(host: IHost, failures: Failures) -> None:
    """Count the host's contained inbound-stream failures in ``failures`` (as ``inbound_stream``).

    Args:
        host: A libp2p host.
        failures: Its owner's failure counter.
    """
    _host_failures[host] = failures


async def _contained_stream_handler(self: BasicHost, net_stream: INetStream) -> None:
    """``BasicHost._swarm_stream_handler`` that keeps a failing stream to itself.

    Stock: an exception in any inbound stream's protocol handler propagates
    through the connection's nursery into the network service and ends the
    host (and with it the daemon). Here it resets that stream and is counted;
    whatever a peer sends costs at most that one stream.
    """
    try:
        await _stock_stream_handler(self, net_stream)
    except Exception as exc:
        _host_failures.setdefault(self, Failures())["inbound_stream"] += 1
        logger.info(
            "inbound stream from %s failed: %s",
            getattr(net_stream.muxed_conn, "peer_id", "?"),
            exc or type(exc).__name__,
        )
        with contextlib.suppress(Exception):
            await net_stream.reset()


# -- inbound handshakes: who dialled us ----------------------------------------------


def watch_inbound(host: IHost, seen: Callable[[str, str | None], None]) -> None:
    """Call ``seen(peer id, ip)`` each time a connection that dialled ``host``'s listener completes its handshake.

    The peer id is the one the security handshake (Noise) authenticated, so
    it names who dialled; ``ip`` is where the connection came from. Called
    before the muxer upgrade, so a connection closed right after its
    handshake (a dial-back, ``_dialback``) counts too. Not called for
    connections this host dialled, for relayed ones (the relay's STOP), nor
    for the responder side of a hole punch (``Swarm.dial_addr_as_responder``,
    a socket this host dialled): only for what arrived at its listen socket.

    Only this host's upgrader is wrapped (an attribute of the instance);
    py-libp2p's ``TransportUpgrader`` class is left as it is.
    """
    upgrader = host.get_network().upgrader  # type: ignore[attr-defined]
    stock = upgrader.upgrade_security

    async def upgrade_security(raw_conn: IRawConnection, is_initiator: bool, peer_id: ID | None = None) -> ISecureConn:
        secured: ISecureConn = await stock(raw_conn, is_initiator, peer_id)
        if not is_initiator and _accepted(raw_conn):
            remote = raw_conn.get_remote_address()
            try:
                seen(str(secured.get_remote_peer()), remote[0] if remote else None)
            except Exception:
                logger.exception("inbound watcher failed")
        return secured

    upgrader.upgrade_security = upgrade_security


def _accepted(conn: IRawConnection) -> bool:
    """Whether ``conn`` (in the PSK or not) is a socket our TCP listener accepted."""
    inner = conn._conn if isinstance(conn, PskConn) else conn
    return (
        isinstance(inner, RawConnection)
        and not inner.is_initiator
        and inner.get_connection_type() is not ConnectionType.RELAYED
    )
