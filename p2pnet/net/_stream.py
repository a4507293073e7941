"""Connections and streams to swarm peers: dialing and framed streams."""

from __future__ import annotations

import contextlib
import logging

import trio
from libp2p.abc import IHost, INetStream, IRawConnection
from libp2p.exceptions import ParseError
from libp2p.io.exceptions import MessageTooLarge
from libp2p.peer.peerinfo import PeerInfo
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from ._params import GossipParams

__all__ = ["Stream", "StreamError", "SwarmConnectError", "close_quietly", "dial", "malformed"]

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

    async def aclose(self) -> None:
        await close_quietly(self._raw)


async def close_quietly(stream: INetStream | IRawConnection) -> None:
    """Close a stream or connection that may already be broken."""
    with contextlib.suppress(Exception):
        await stream.close()


async def dial(host: IHost, info: PeerInfo, params: GossipParams) -> None:
    """Connect ``host`` to a peer within ``params.connect_timeout``.

    Args:
        host: Our libp2p host.
        info: The peer's id and addresses.
        params: Whose ``connect_timeout`` bounds the dial.

    Raises:
        SwarmConnectError: The peer is unreachable, is not in this private
            network, or did not answer in time.
    """
    try:
        with trio.fail_after(params.connect_timeout):
            await host.connect(info)
    except trio.TooSlowError as exc:
        raise SwarmConnectError(
            f"timed out connecting to {info.peer_id} (unreachable, or not in this swarm's private network)"
        ) from exc
    except Exception as exc:
        raise SwarmConnectError(f"cannot connect to {info.peer_id}: {exc}") from exc
