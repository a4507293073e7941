"""Tests for p2pnet.net.libp2p_patches: each process-wide replacement against the stock py-libp2p it replaces.

Each test calls the saved stock function (``libp2p_patches._stock_*``) and
shows its defect, then shows the replacement, installed as every swarm host
installs it, doing the right thing. All seven stock behaviours can be shown
cheaply in process: memory streams, a stand-in yamux connection, hosts that
are built but never listen, a peerstore whose clock is moved.

Four of the defects cost work rather than correctness (yamux window updates,
the two peer-record caches, the task-parent cache): those tests count the
work per call (frames written, listen-address reads, signature checks, tasks
walked) and never time anything. The end-to-end consequences are tested with
real hosts elsewhere: a garbled pubsub RPC, a raising handler and an expired
record in ``tests/hostile/test_undialable_member.py``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import libp2p.pubsub.utils
import multiaddr
import pytest
import trio
import trio.testing
from harness.stock_peer import move_peerstore_clock
from libp2p import new_host
from libp2p.connection_types import ConnectionType
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.host.basic_host import BasicHost
from libp2p.io.abc import ReadWriteCloser
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.envelope import seal_record
from libp2p.peer.id import ID
from libp2p.peer.peer_record import PeerRecord
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import PeerStore, PeerStoreError
from libp2p.pubsub.pb import rpc_pb2
from libp2p.security.pnet.psk_conn import PskConn
from libp2p.stream_muxer.yamux.yamux import DEFAULT_WINDOW_SIZE, YamuxStream
from libp2p.tools.anyio_service import Service, background_trio_service
from libp2p.tools.anyio_service import trio_manager as trio_manager_module
from libp2p.tools.anyio_service.trio_manager import TrioManager

from p2pnet.net import Failures, libp2p_patches
from p2pnet.net._addrs import dial_from
from p2pnet.net._relay import protect

DEADLINE = 30


@pytest.fixture(autouse=True)
def _installed() -> None:
    libp2p_patches.install()
    libp2p_patches.install()  # idempotent: a second swarm host installs them again


def test_install_replaces_each_stock_function_and_keeps_it() -> None:
    p = libp2p_patches
    # (what py-libp2p now calls, our replacement, the stock function kept)
    installed = [
        (PskConn.write, p._pnet_write, p._stock_pnet_write),
        (YamuxStream._auto_tune_and_send_window_update, p._yamux_window_update, p._stock_window_update),
        (libp2p.pubsub.pubsub.env_to_send_in_RPC, p._cached_env_to_send, p._stock_env_to_send),  # type: ignore[attr-defined]
        (libp2p.pubsub.gossipsub.env_to_send_in_RPC, p._cached_env_to_send, p._stock_env_to_send),  # type: ignore[attr-defined]
        (libp2p.pubsub.pubsub.maybe_consume_signed_record, p.consume_sender_record, p._stock_consume_record),  # type: ignore[attr-defined]
        (libp2p.pubsub.gossipsub.maybe_consume_signed_record, p.consume_sender_record, p._stock_consume_record),  # type: ignore[attr-defined]
        (TrioManager._find_parent_task, p._cached_find_parent_task, p._stock_find_parent_task),
        (PeerStore.maybe_delete_peer_record, p._maybe_delete_peer_record, p._stock_maybe_delete_peer_record),
        (BasicHost._swarm_stream_handler, p._contained_stream_handler, p._stock_stream_handler),
    ]
    for now, ours, stock in installed:
        assert now is ours
        assert stock is not ours


def _keys_and_id() -> tuple[Any, ID]:
    keys = create_new_key_pair(os.urandom(32))
    return keys, ID.from_pubkey(keys.public_key)


# -- pnet writes ---------------------------------------------------------------------------


class _Pipe(ReadWriteCloser):
    """A trio memory stream as the ReadWriteCloser a RawConnection wraps."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def write(self, data: bytes) -> None:
        await self._stream.send_all(data)

    async def read(self, n: int | None = None) -> bytes:
        return bytes(await self._stream.receive_some(n))

    async def close(self) -> None:
        await self._stream.aclose()

    def get_remote_address(self) -> None:
        return None


async def _through_pnet(write: Any) -> bytes:
    """Write three pieces through a pnet pair with ``write``, the middle one cancelled; return what is read."""
    left, right = trio.testing.memory_stream_pair()
    key = os.urandom(32).hex()
    writer = PskConn(RawConnection(_Pipe(left), True), key)
    reader = PskConn(RawConnection(_Pipe(right), False), key)
    await write(writer, b"hello ")
    with trio.CancelScope() as scope:
        scope.cancel()
        await write(writer, b"cancelled ")
    await write(writer, b"in sync")
    await writer.close()
    got = b""
    with trio.fail_after(DEADLINE):
        while chunk := await reader.read(1024):
            got += chunk
    return got


async def test_pnet_stream_survives_a_cancelled_write() -> None:
    # Stock advanced the keystream for bytes it never sent: the rest decrypts to garbage.
    garbled = await _through_pnet(libp2p_patches._stock_pnet_write)
    assert garbled.startswith(b"hello ")
    assert not garbled.endswith(b"in sync")
    assert await _through_pnet(PskConn.write) == b"hello cancelled in sync"


# -- yamux window updates --------------------------------------------------------------------


class _FrameCounter:
    """The part of a Yamux connection a stream's window update touches; it counts the frames written."""

    def __init__(self) -> None:
        self.stream_buffers: dict[int, bytearray] = {}
        self.frames = 0

    def rtt(self) -> float:
        return 0.0

    async def _write_frame(self, frame: bytes) -> None:
        self.frames += 1


async def _frames_for_small_reads(update: Any, reads: int, size: int) -> tuple[int, YamuxStream]:
    conn = _FrameCounter()
    stream = YamuxStream(1, conn, is_initiator=True)  # type: ignore[arg-type]
    for _ in range(reads):
        stream.recv_window -= size  # the peer sent `size` bytes, and we read them
        await update(stream, bytes_read=size)
    return conn.frames, stream


async def test_yamux_sends_a_window_update_per_half_window_not_per_read() -> None:
    # Stock: one WINDOW_UPDATE frame for every read, however small.
    frames, _ = await _frames_for_small_reads(libp2p_patches._stock_window_update, reads=20, size=10)
    assert frames == 20
    frames, stream = await _frames_for_small_reads(YamuxStream._auto_tune_and_send_window_update, reads=20, size=10)
    assert frames == 0
    # Once half the window is consumed, one update gives it all back.
    stream.recv_window -= DEFAULT_WINDOW_SIZE // 2
    await stream._auto_tune_and_send_window_update(bytes_read=DEFAULT_WINDOW_SIZE // 2)
    assert stream.conn.frames == 1  # type: ignore[attr-defined]
    assert stream.recv_window >= DEFAULT_WINDOW_SIZE


# -- signed peer records -------------------------------------------------------------------


def _count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Wrap ``owner.name`` so each call adds one to the returned counter."""
    calls = [0]
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def _clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Give the record caches a clock the test moves by hand."""
    now = [1000.0]
    monkeypatch.setattr(libp2p_patches, "_now", lambda: now[0])
    return now


def test_our_signed_record_is_built_once_per_five_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    keys, _ = _keys_and_id()
    host = new_host(key_pair=keys)
    addr_reads = _count_calls(monkeypatch, host, "get_addrs")
    now = _clock(monkeypatch)

    # Stock: every RPC sent reads every listen address again.
    for _ in range(3):
        libp2p_patches._stock_env_to_send(host)
    assert addr_reads[0] == 3

    addr_reads[0] = 0
    first, _ = libp2p_patches._cached_env_to_send(host)
    assert [libp2p_patches._cached_env_to_send(host)[0] for _ in range(5)] == [first] * 5
    assert addr_reads[0] == 1
    now[0] += libp2p_patches._RECORD_OUT_TTL
    libp2p_patches._cached_env_to_send(host)
    assert addr_reads[0] == 2


def test_a_peers_record_bytes_are_verified_once(monkeypatch: pytest.MonkeyPatch) -> None:
    host = new_host(key_pair=create_new_key_pair(os.urandom(32)))
    keys, peer = _keys_and_id()
    record = PeerRecord(peer, [multiaddr.Multiaddr("/ip4/127.0.11.1/tcp/9")])
    rpc = rpc_pb2.RPC(senderRecord=seal_record(record, keys.private_key).marshal_envelope())
    checks = _count_calls(monkeypatch, libp2p.pubsub.utils, "consume_envelope")
    now = _clock(monkeypatch)

    # Stock: every RPC received has its record parsed and its signature checked.
    assert all(libp2p_patches._stock_consume_record(rpc, host, peer) for _ in range(3))
    assert checks[0] == 3

    checks[0] = 0
    assert all(libp2p_patches.consume_sender_record(rpc, host, peer) for _ in range(5))
    assert checks[0] == 1
    # The same bytes from another peer are still checked, and refused.
    _, other = _keys_and_id()
    assert not libp2p_patches.consume_sender_record(rpc, host, other)
    assert not libp2p_patches.consume_sender_record(rpc, host, other)
    assert checks[0] == 3
    now[0] += libp2p_patches._RECORD_RECHECK
    assert libp2p_patches.consume_sender_record(rpc, host, peer)
    assert checks[0] == 4


# -- the service manager's task parents ------------------------------------------------------


class _Idle(Service):
    async def run(self) -> None:
        await trio.sleep_forever()


async def test_a_tasks_parent_is_found_without_walking_every_task(monkeypatch: pytest.MonkeyPatch) -> None:
    walked = [0]
    stock_iterate = trio_manager_module.FunctionTask.iterate_tasks

    def counting(*tasks: Any) -> Any:
        for task in stock_iterate(*tasks):
            walked[0] += 1
            yield task

    async def ask_three_times(find: Any, manager: TrioManager) -> None:
        me = trio.lowlevel.current_task()  # no task of the service: the answer is None
        assert [find(manager, me) for _ in range(3)] == [None] * 3

    async with background_trio_service(_Idle()) as manager:
        assert isinstance(manager, TrioManager)
        for _ in range(50):
            manager.run_task(trio.sleep_forever)
        monkeypatch.setattr(trio_manager_module.FunctionTask, "iterate_tasks", staticmethod(counting))
        async with trio.open_nursery() as nursery:
            # Stock: each run_task walks every live task of the service (its run and the 50).
            nursery.start_soon(ask_three_times, libp2p_patches._stock_find_parent_task, manager)
        assert walked[0] == 3 * 51
        walked[0] = 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_three_times, libp2p_patches._cached_find_parent_task, manager)
        assert walked[0] == 51
        manager.cancel()


# -- the peerstore ------------------------------------------------------------------------------


def _expired_store(monkeypatch: pytest.MonkeyPatch) -> tuple[PeerStore, ID]:
    """A peerstore holding a signed record of a peer whose addresses have expired."""
    keys, peer = _keys_and_id()
    record = PeerRecord(peer, [multiaddr.Multiaddr("/ip4/127.0.11.2/tcp/9")])
    store = PeerStore()
    store.consume_peer_record(seal_record(record, keys.private_key), 7200)
    store.add_addrs(peer, record.addrs, 120)  # what a failed dial does (BasicHost.connect)
    move_peerstore_clock(monkeypatch, 121)
    return store, peer


def test_stock_peerstore_raises_on_an_expired_record(monkeypatch: pytest.MonkeyPatch) -> None:
    store, peer = _expired_store(monkeypatch)
    with pytest.raises(PeerStoreError, match="expired"):
        libp2p_patches._stock_maybe_delete_peer_record(store, peer)


def test_patched_peerstore_drops_an_expired_record(monkeypatch: pytest.MonkeyPatch) -> None:
    store, peer = _expired_store(monkeypatch)
    assert store.get_peer_record(peer) is None
    assert peer not in store.peer_record_map


# -- inbound stream handlers --------------------------------------------------------------------


class _InboundStream:
    """An inbound stream whose protocol negotiation the test decides; it remembers being reset."""

    def __init__(self) -> None:
        self.muxed_conn = SimpleNamespace(peer_id="a peer")
        self.was_reset = False

    def set_protocol(self, protocol: str) -> None:
        pass

    async def reset(self) -> None:
        self.was_reset = True


async def test_an_exception_in_a_stream_handler_stays_in_that_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    host = new_host(key_pair=create_new_key_pair(os.urandom(32)))

    async def broken(stream: Any) -> None:
        raise RuntimeError("a bug in a protocol handler")

    async def negotiate(communicator: Any, negotiate_timeout: Any) -> tuple[str, Any]:
        return "/p2pnet/broken/1", broken

    monkeypatch.setattr(host.multiselect, "negotiate", negotiate)

    # Stock: the exception leaves the handler, into the connection's nursery and the host.
    with pytest.raises(RuntimeError, match="a bug"):
        await libp2p_patches._stock_stream_handler(host, _InboundStream())  # type: ignore[arg-type]

    failures = Failures()
    libp2p_patches.count_stream_failures(host, failures)
    stream = _InboundStream()
    await host._swarm_stream_handler(stream)  # type: ignore[arg-type]
    assert stream.was_reset
    assert failures == {"inbound_stream": 1}


# -- inbound handshakes: who dialled us (one host's upgrader, not a global patch) ----------------

WATCH_IP = "127.0.18.1"


@asynccontextmanager
async def _listening(psk: bytes, ip: str) -> AsyncIterator[Any]:
    host = new_host(key_pair=create_new_key_pair(os.urandom(32)), psk=psk.hex())
    dial_from(host, ip)  # else every loopback dial comes from 127.0.0.1
    async with host.run([multiaddr.Multiaddr(f"/ip4/{ip}/tcp/0")]):
        try:
            yield host
        finally:
            with trio.CancelScope(shield=True):
                await host.close()  # host.run() alone leaves the dialled sockets open


async def _handshake_then_close(dialler: Any, target: Any, psk: bytes) -> None:
    """What a dial-back does (``p2pnet.net._dialback``): a new TCP connection, the PSK and Noise, then closed."""
    network = dialler.get_network()
    addr = target.get_transport_addrs()[0]
    raw = await network.transport_manager.transport_for_dialing(addr).dial(addr)
    try:
        secured = await network.upgrader.upgrade_security(protect(raw, psk.hex()), True, target.get_id())
        await secured.close()
    finally:
        await raw.close()


async def test_a_handshake_that_came_to_our_listener_is_seen_and_nothing_else_is() -> None:
    psk = os.urandom(32)
    seen: list[tuple[str, str | None]] = []
    async with _listening(psk, WATCH_IP) as a, _listening(psk, "127.0.18.2") as b, _listening(psk, "127.0.18.3") as c:
        libp2p_patches.watch_inbound(a, lambda peer, ip: seen.append((peer, ip)))
        with trio.fail_after(DEADLINE):
            await _handshake_then_close(b, a, psk)
            while not seen:
                await trio.sleep(0.01)
            # The peer id Noise proved, and where it came from; the connection never joined A's (its muxer failed).
            assert seen == [(str(b.get_id()), "127.0.18.2")]
            assert b.get_id() not in a.get_connected_peers()
            # A connection A dials is not reported (its handshake is done once connect returns) ...
            await a.connect(PeerInfo(b.get_id(), b.get_transport_addrs()))
            assert seen == [(str(b.get_id()), "127.0.18.2")]
            # ... one dialled to A is.
            await c.connect(PeerInfo(a.get_id(), a.get_transport_addrs()))
            while len(seen) < 2:
                await trio.sleep(0.01)
        assert seen == [(str(b.get_id()), "127.0.18.2"), (str(c.get_id()), "127.0.18.3")]


async def test_only_a_socket_our_listener_accepted_counts() -> None:
    """Not one we dialled (a hole punch's responder side), nor a relayed one (the relay's STOP)."""
    left, _ = trio.testing.memory_stream_pair()
    stream: Any = left
    psk = os.urandom(32).hex()
    assert libp2p_patches._accepted(RawConnection(stream, False))
    assert libp2p_patches._accepted(protect(RawConnection(stream, False), psk))
    assert not libp2p_patches._accepted(protect(RawConnection(stream, True), psk))
    assert not libp2p_patches._accepted(protect(RawConnection(stream, False, ConnectionType.RELAYED), psk))
