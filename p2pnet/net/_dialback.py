"""Dial-back: members check for each other that they can be dialled from outside (docs/nat.md, protocol.md §16).

Observed addresses say whether a NAT rewrites our packets, not whether
anything lets a dial in: a public IP behind a firewall that drops inbound, or
a forwarded port that forwards nothing, looks ``public``.  So each swarm host
asks up to :data:`ASK_PEERS` connected members at public IPs to dial it back
at its own TCP addresses, when a member connects and every
:data:`CHECK_EVERY` seconds.  A member answers by opening a **new**
connection to those addresses at the IP it sees the request come from
(never another IP, so it cannot be aimed at a third host) and completing the
swarm's PSK and Noise handshakes as the asker's peer id, then closing it.
py-libp2p's AutoNAT dials back with ``host.connect``, which returns the
connection the request came over, and says yes to every asker.

The new connection never joins the server's swarm: the handshake alone is
the proof.  The asker sees an inbound connection end before its muxer, and
its py-libp2p logs "fail to upgrade mux" (the daemon writes a repeated line
once an hour).  The asker does not take an ``ok`` on trust: it counts only
if, while it asked, its own listener accepted a connection from a public IP
whose Noise handshake authenticated that member (``libp2p_patches.watch_inbound``);
a member that says ``ok`` without dialling says nothing.  Each asker gets
:data:`SERVE_RATE` requests, and at most :data:`MAX_DIALS_AT_ONCE` dial-backs
run at once on a server.

The addresses asked for are the host's advertised ones (its signed record):
the router's mapped one (UPnP, NAT-PMP), the announced address (``p2pnet
announce``) at each listen port, and the rest, public ones first
(:func:`own_addrs`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import multiaddr
import trio
from libp2p.abc import IHost
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

import protocol
from protocol import DialBackStatus

from ._addrs import ip4_of, private_ip
from ._bucket import Buckets, Rate
from ._params import GossipParams
from ._relay import is_circuit, protect
from ._stream import Stream, StreamError, close_quietly, malformed

__all__ = [
    "ASK_PEERS",
    "CHECK_EVERY",
    "DIALBACK_PROTOCOL",
    "MAX_DIALS_AT_ONCE",
    "SERVE_RATE",
    "VERIFY_GRACE",
    "DialBack",
    "own_addrs",
]

logger = logging.getLogger(__name__)

DIALBACK_PROTOCOL = "/p2pnet/dialback/1"
ASK_PEERS = 3  # members asked per check
CHECK_EVERY = 600.0  # seconds between checks when nobody new connects
MIN_GAP = 60.0  # seconds between two checks, however many members connect
SERVE_RATE = Rate(rate=1 / 60, burst=4)  # requests one asker gets answered
MAX_DIALS_AT_ONCE = 4  # dial-backs one server runs at a time
# Seconds an ``ok`` waits for our listener to have seen the member's handshake: the answer
# and the dial-back's last handshake message travel on two connections, in either order.
VERIFY_GRACE = 5.0

Said = Literal["reachable", "unreachable"]


class DialBack:
    """Both sides of ``/p2pnet/dialback/1`` for one swarm host, and what the answers say.

    Args:
        host: The libp2p host.
        psk: The swarm's PSK, as py-libp2p wants it (64 hex characters).
        params: ``connect_timeout`` bounds a request, and each dial-back unless ``dial_timeout`` is given.
        candidates: Connected members to ask, best first (the host's: those it dialled first).
        reachable: Whether friends elsewhere could dial a member at this IP (the relays' test).
        ip_of: The IP a connected member talks to us from.
    """

    def __init__(
        self,
        host: IHost,
        psk: str,
        params: GossipParams,
        candidates: Callable[[], list[str]],
        reachable: Callable[[str | None], bool],
        ip_of: Callable[[str], str | None],
        dial_timeout: float | None = None,
    ) -> None:
        self._host = host
        self._psk = psk
        self._params = params
        self._candidates = candidates
        self._reachable = reachable
        self._ip_of = ip_of
        self.dial_timeout = dial_timeout if dial_timeout is not None else params.connect_timeout
        self.results: dict[str, DialBackStatus] = {}  # member -> its last OK or FAILED for us
        self._buckets = Buckets(SERVE_RATE)
        self._dialling = 0
        self._wake = trio.Event()
        # Our addresses to be dialled back at; tests name others.
        self.own_addrs: Callable[[], list[tuple[str, int]]] = self._own_addrs
        self._watching: dict[str, trio.Event] = {}  # member asked now -> set once it dialled us

    # -- what the answers say ---------------------------------------------------------------

    def said(self) -> Said | None:
        """``reachable`` if a connected member dialled us back, ``unreachable`` if all that tried failed, else None.

        A member's ``ok`` is in :attr:`results` only if we saw its dial-back come in (:meth:`check`).
        """
        connected = {str(p) for p in self._host.get_connected_peers()}
        said = [status for peer, status in self.results.items() if peer in connected]
        if DialBackStatus.OK in said:
            return "reachable"
        return "unreachable" if said else None

    # -- the server ---------------------------------------------------------------------------

    async def serve(self, stream: Stream) -> None:
        """Answer one request (the stream is closed by the caller)."""
        frame = None
        with trio.move_on_after(self._params.connect_timeout):
            try:
                frame = await stream.receive(protocol.MAX_DIALBACK_REQUEST)
            except StreamError as exc:
                if malformed(exc):
                    await stream.send(protocol.encode_dialback_response(DialBackStatus.MALFORMED))
                return
        if frame is None:
            return  # no request in time
        status = await self.answer(stream.peer_id, stream.remote_ip(), frame)
        await stream.send(protocol.encode_dialback_response(status))

    async def answer(self, peer: str, ip: str | None, frame: bytes) -> DialBackStatus:
        """The answer to ``peer``'s request ``frame``, which came from ``ip`` (None: over a relay)."""
        if not self._buckets.take(peer):
            return DialBackStatus.BUSY
        try:
            addrs = protocol.decode_dialback_request(frame)
        except protocol.DecodeError as exc:
            logger.debug("malformed dial-back request from %s: %s", peer, exc)
            return DialBackStatus.MALFORMED
        targets = [(a, port) for a, port in addrs if ip is not None and a == ip]
        if not targets:
            return DialBackStatus.REFUSED
        if self._dialling >= MAX_DIALS_AT_ONCE:
            return DialBackStatus.BUSY
        self._dialling += 1
        try:
            return DialBackStatus.OK if await self._dial_any(ID.from_base58(peer), targets) else DialBackStatus.FAILED
        finally:
            self._dialling -= 1

    async def _dial_any(self, peer: ID, targets: list[tuple[str, int]]) -> bool:
        done = False

        async def one(ip: str, port: int) -> None:
            nonlocal done
            with trio.move_on_after(self.dial_timeout):
                try:
                    await self._handshake(peer, multiaddr.Multiaddr(f"/ip4/{ip}/tcp/{port}"))
                except Exception as exc:
                    logger.debug("dial-back to %s at %s:%d failed: %s", peer, ip, port, exc)
                    return
                done = True
                nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            for ip, port in targets:
                nursery.start_soon(one, ip, port)
        return done

    async def _handshake(self, peer: ID, addr: multiaddr.Multiaddr) -> None:
        """A new TCP connection to ``addr``, through the PSK and Noise as ``peer``; then closed.

        Not the swarm's dial: that would return (or add to) the connection we already have.
        """
        network = self._host.get_network()
        transport = network.transport_manager.transport_for_dialing(addr)  # type: ignore[attr-defined]
        if transport is None:
            raise ValueError(f"no transport dials {addr}")
        raw = await transport.dial(addr)  # from our listen IP (_addrs.dial_from)
        try:
            secured = await network.upgrader.upgrade_security(protect(raw, self._psk), True, peer)  # type: ignore[attr-defined]
            with trio.CancelScope(shield=True):
                await close_quietly(secured)
        finally:
            with trio.CancelScope(shield=True):
                await close_quietly(raw)

    # -- the client ---------------------------------------------------------------------------

    async def ask(self, peer: str, addrs: list[tuple[str, int]]) -> DialBackStatus:
        """Ask a connected member to dial us back at ``addrs``.

        Raises:
            StreamError: The member is gone, does not speak the protocol, or did not answer in time.
            protocol.DecodeError: Its answer is not one.
        """
        frame = protocol.encode_dialback_request(addrs)
        try:
            with trio.fail_after(self._params.connect_timeout + self.dial_timeout):
                raw = await self._host.new_stream(ID.from_base58(peer), [TProtocol(DIALBACK_PROTOCOL)])
                stream = Stream(raw)
                try:
                    await stream.send(frame)
                    answer = await stream.receive(2)
                finally:
                    await stream.aclose()
        except trio.TooSlowError as exc:
            raise StreamError(f"no dial-back answer from {peer} in time") from exc
        return protocol.decode_dialback_response(answer)

    async def check(self) -> None:
        """Ask up to :data:`ASK_PEERS` connected members at public IPs; keep each one's OK or FAILED."""
        connected = set(self._candidates())
        self.results = {peer: status for peer, status in self.results.items() if peer in connected}
        addrs = self.own_addrs()
        if not addrs:
            return
        asked = 0
        for peer in self._candidates():
            if asked >= ASK_PEERS:
                break
            if not self._reachable(self._ip_of(peer)):
                continue  # a member on our LAN dials our private address: no word on the internet
            asked += 1
            with self._watch(peer) as dialled:
                try:
                    status = await self.ask(peer, addrs)
                except (StreamError, protocol.DecodeError) as exc:
                    logger.debug("dial-back check by %s failed: %s", peer, exc)
                    continue
                if status is DialBackStatus.OK:
                    with trio.move_on_after(VERIFY_GRACE):
                        await dialled.wait()
                    if not dialled.is_set():
                        # Said ok, yet no connection of its reached our listener: its word counts for nothing.
                        logger.info("%s said it dialled us back, but no connection of its came in", peer)
                        self.results.pop(peer, None)
                        continue
            if status in (DialBackStatus.OK, DialBackStatus.FAILED):
                self.results[peer] = status
            elif status is DialBackStatus.REFUSED:
                self.results.pop(peer, None)  # nothing of ours at the IP it sees now: its last word is stale
            logger.debug("dial-back by %s: %s", peer, status.name)

    @contextlib.contextmanager
    def _watch(self, peer: str) -> Iterator[trio.Event]:
        dialled = self._watching[peer] = trio.Event()
        try:
            yield dialled
        finally:
            self._watching.pop(peer, None)

    def dialled_in(self, peer: str, ip: str | None) -> None:
        """Our listener accepted a connection that authenticated as ``peer``, from ``ip`` (``watch_inbound``).

        Only a dial from a public IP counts: one from our LAN reaches our
        private address, which says nothing of friends elsewhere.
        """
        dialled = self._watching.get(peer)
        if dialled is not None and self._reachable(ip):
            dialled.set()

    def connected(self, peer: str) -> None:
        """A member connected: check again (after :data:`MIN_GAP` since the last check)."""
        self.recheck()

    def recheck(self) -> None:
        """Check again (after :data:`MIN_GAP` since the last check): a member connected, or our addresses changed."""
        self._wake.set()

    async def check_loop(self) -> None:
        """Check when a member connects, at most every :data:`MIN_GAP`, at least every :data:`CHECK_EVERY`."""
        while True:
            with trio.move_on_after(CHECK_EVERY):
                await self._wake.wait()
            self._wake = trio.Event()
            await self.check()
            await trio.sleep(MIN_GAP)

    def _own_addrs(self) -> list[tuple[str, int]]:
        return own_addrs(self._host.get_addrs())


def own_addrs(advertised: Sequence[multiaddr.Multiaddr]) -> list[tuple[str, int]]:
    """The TCP addresses to be dialled back at: what friends are told, public ones first.

    Args:
        advertised: The host's advertised addresses (its signed record: a mapped address, the
            announced ones, listen and confirmed observed ones; circuit addresses are left out).

    Returns:
        Up to :data:`protocol.MAX_DIALBACK_ADDRS` (ip, port), without repeats. A server dials
        only those at the IP it sees us at, and the members asked see us at a public one:
        private ones go last.
    """
    out: list[tuple[str, int]] = []
    for ip, port in [(ip4_of(a), _tcp_port(a)) for a in advertised if not is_circuit(a)]:
        if ip is not None and port is not None and (ip, port) not in out:
            out.append((ip, port))
    out.sort(key=lambda addr: private_ip(addr[0]))  # stable: in the order above within each kind
    return out[: protocol.MAX_DIALBACK_ADDRS]


def _tcp_port(addr: multiaddr.Multiaddr) -> int | None:
    with contextlib.suppress(Exception):
        return int(addr.value_for_protocol("tcp"))
    return None
