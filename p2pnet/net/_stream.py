"""Connections and streams to swarm peers: dialing and framed streams."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import multiaddr
import trio
from libp2p.abc import IHost, INetStream, IRawConnection
from libp2p.exceptions import ParseError
from libp2p.io.exceptions import MessageTooLarge
from libp2p.peer.peerinfo import PeerInfo
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from ._params import GossipParams

__all__ = [
    "RELAY_DIAL_DELAY",
    "Stream",
    "StreamError",
    "SwarmConnectError",
    "close_quietly",
    "dial",
    "malformed",
    "remote_ip",
]

logger = logging.getLogger(__name__)


class SwarmConnectError(ConnectionError):
    """Raised when a peer cannot be reached or is not in our private network."""


class StreamError(ConnectionError):
    """A peer stream closed, broke, sent an oversized frame or timed out."""


def malformed(exc: StreamError) -> bool:
    """The stream failed on a frame no honest peer sends (too long, or a broken length prefix): garbage."""
    return isinstance(exc.__cause__, (MessageTooLarge, ParseError))


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

    def remote_ip(self) -> str | None:
        """The IP the peer's connection comes from; None over a relay (the socket is the relay's)."""
        return remote_ip(self._raw.muxed_conn)

    async def aclose(self) -> None:
        await close_quietly(self._raw)


def remote_ip(muxed: Any) -> str | None:
    """The IP a peer's (muxed) connection comes from; None if unknown or relayed."""
    with contextlib.suppress(Exception):
        remote = muxed.get_remote_address()
        if remote is not None:
            return str(remote[0])
    return None


async def close_quietly(stream: INetStream | IRawConnection) -> None:
    """Close a stream or connection that may already be broken."""
    with contextlib.suppress(Exception):
        await stream.close()


#: How long a dial waits for the direct addresses before it also tries relays (go-libp2p waits 0.5 s).
RELAY_DIAL_DELAY = 0.5

ViaRelay = Callable[[multiaddr.Multiaddr], Awaitable[None]]


async def dial(host: IHost, info: PeerInfo, params: GossipParams, *, via_relay: ViaRelay | None = None) -> None:
    """Connect ``host`` to a peer, each attempt within ``params.connect_timeout``.

    The peer's direct addresses are dialled at once; its circuit addresses
    (``…/p2p-circuit``), through ``via_relay``, after :data:`RELAY_DIAL_DELAY`
    or as soon as the direct dial has failed.  The first connection wins and
    the other attempts are cancelled: an address that never answers (a
    private one named from another network) costs the delay, not a timeout.

    Args:
        host: Our libp2p host.
        info: The peer's id and addresses.
        params: Whose ``connect_timeout`` bounds each attempt.
        via_relay: Dials one circuit address; None: circuit addresses are ignored.

    Raises:
        SwarmConnectError: The peer is unreachable, is not in this private
            network, or did not answer in time; every attempt's reason.
    """
    direct = [a for a in info.addrs if "/p2p-circuit" not in str(a)]
    circuits = [a for a in info.addrs if "/p2p-circuit" in str(a)] if via_relay is not None else []
    attempts: list[tuple[str, Callable[[], Awaitable[None]]]] = []
    if direct or not circuits:  # with no address at all, the peerstore's
        attempts.append(("direct", partial(host.connect, PeerInfo(info.peer_id, direct))))
    for addr in circuits:
        full = addr if str(addr).endswith(f"/p2p/{info.peer_id}") else multiaddr.Multiaddr(f"{addr}/p2p/{info.peer_id}")
        assert via_relay is not None
        attempts.append((str(addr), partial(via_relay, full)))
    errors: list[str] = []
    direct_over = trio.Event()
    won = False

    async def attempt(name: str, connect: Callable[[], Awaitable[None]], relayed: bool) -> None:
        nonlocal won
        if relayed and direct:
            with trio.move_on_after(RELAY_DIAL_DELAY):
                await direct_over.wait()
        try:
            with trio.fail_after(params.connect_timeout):
                await connect()
        except trio.TooSlowError:
            errors.append(f"{name}: timed out (unreachable, or not in this swarm's private network)")
        except Exception as exc:
            errors.append(f"{name}: {exc or type(exc).__name__}")
        else:
            won = True
            nursery.cancel_scope.cancel()
        finally:
            if not relayed:
                direct_over.set()

    async with trio.open_nursery() as nursery:
        for name, connect in attempts:
            nursery.start_soon(attempt, name, connect, name != "direct")
    if not won:
        raise SwarmConnectError(f"cannot connect to {info.peer_id}: " + "; ".join(errors))
