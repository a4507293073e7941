"""Circuit relay v2 and hole punching (DCUtR) inside one swarm's private network (docs/nat.md).

Every swarm host runs py-libp2p's relay protocol (STOP: accept relayed
connections), DCUtR (upgrade a relayed connection to a direct one by a TCP
simultaneous open) and, while no peer sees it behind NAT, the relay's HOP
side: it relays for members of its own swarm, since only holders of the
swarm's PSK can connect to it at all.  A host that is behind NAT, or whose
own addresses are all private and that no member dialled back (a forwarded
port, ``_dialback``), keeps reservations on up to
:data:`MAX_RESERVATIONS_HELD` members it dialled at a public address, and
advertises ``/ip4/R/tcp/P/p2p/R/p2p-circuit`` for each (its signed peer
record, so peer exchange and invites carry them).

Stock py-libp2p 0.8.1 needs two fixes for this in a private network
(docs/gossip-notes.md): the dialler's relayed connection is not put in the
PSK, and a hole-punched one is put in it twice; and its ``PskConn`` forgets
what it wraps, so a relayed connection looks direct.  :class:`LabelledPskConn`
and :func:`protect` (installed by ``libp2p_patches.install``) are the fixes.
A relayed connection has no remote IP of its own here (:meth:`LabelledPskConn.get_remote_address`):
the socket's is the relay's, and per-address caps and bans must not count
every peer behind one relay as that relay.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import multiaddr
import trio
from libp2p.abc import IHost, INetConn, INetStream, INetwork, IRawConnection
from libp2p.connection_types import ConnectionType
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.relay.circuit_v2 import PROTOCOL_ID, CircuitV2Protocol, CircuitV2Transport, DCUtRProtocol
from libp2p.relay.circuit_v2.config import RelayConfig, RelayRole
from libp2p.relay.circuit_v2.resources import RelayLimits
from libp2p.security.pnet.psk_conn import PskConn

from ._addrs import ip4_of, private_ip
from ._conns import ConnectionEvents
from ._params import GossipParams

__all__ = [
    "CIRCUIT_BYTES",
    "CIRCUIT_SECONDS",
    "MAX_RESERVATIONS",
    "MAX_RESERVATIONS_HELD",
    "RESERVATION_TTL",
    "LabelledPskConn",
    "Relays",
    "is_circuit",
    "protect",
]

logger = logging.getLogger(__name__)

# What a relay grants (docs/nat.md, "Limits"): sized for gossip among friends.
RESERVATION_TTL = 3600  # seconds; renewed by the client at a quarter left
MAX_RESERVATIONS = 32  # members behind NAT one relay carries
CIRCUITS_PER_RESERVATION = 16  # relayed connections to one member at once
CIRCUIT_SECONDS = 3600  # then the circuit closes; the peers redial (or are direct by then)
CIRCUIT_BYTES = 16 * 1024 * 1024  # per circuit; a sync catch-up over a relay takes several
RELAY_LIMITS = RelayLimits(
    duration=CIRCUIT_SECONDS,
    data=CIRCUIT_BYTES,
    max_circuit_conns=CIRCUITS_PER_RESERVATION,
    max_reservations=MAX_RESERVATIONS,
    reservation_ttl=RESERVATION_TTL,
)
MAX_RESERVATIONS_HELD = 2  # relays a member behind NAT keeps
_CHECK_EVERY = 2.0  # seconds between looks at the reservations (no network unless one is due)
_RETRY_AFTER = 60.0  # a member that refused a reservation is asked again after this

Path = Literal["direct", "hole_punched", "relayed"]


def is_circuit(addr: multiaddr.Multiaddr | str) -> bool:
    """A relay address: ``…/p2p/R/p2p-circuit/p2p/B``."""
    return "/p2p-circuit" in str(addr)


class LabelledPskConn(PskConn):
    """A connection in the swarm's PSK that still says what it wraps: its addresses and whether it is relayed.

    Stock ``PskConn`` passes on neither, so the swarm labels a connection with
    the peer's stored addresses and DCUtR takes a relayed one for direct.
    """

    def _relayed(self) -> bool:
        return bool(self._conn.get_connection_type() is ConnectionType.RELAYED)

    def get_transport_addresses(self) -> list[Any]:
        return list(self._conn.get_transport_addresses())

    def get_connection_type(self) -> ConnectionType:
        return ConnectionType.RELAYED if self._relayed() else self._conn.get_connection_type()

    def get_remote_address(self) -> tuple[str, int] | None:
        # A relayed connection's socket is the relay's: no address of the peer's own.
        return None if self._relayed() else self._conn.get_remote_address()


def protect(conn: IRawConnection, psk: str) -> IRawConnection:
    """``libp2p.network.swarm.new_protected_conn``: the PSK once per connection, and the label kept.

    Stock wraps the raw connection of a hole punch's responder twice
    (``Swarm.dial_addr_as_responder``, then ``upgrade_inbound_raw_conn``),
    and the two sides never agree.
    """
    return conn if isinstance(conn, PskConn) else LabelledPskConn(conn, psk)


@dataclass
class _Held:
    addr: str  # the relay's address we dialled it at, ending in /p2p/R
    renew_at: float  # trio time


class _Paths(ConnectionEvents):
    """Which connected peers first had only a relayed connection to us: a direct one later is a hole punch."""

    def __init__(self) -> None:
        self.relayed_first: set[str] = set()
        self.upgraded: set[str] = set()

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        peer = conn.muxed_conn.peer_id
        others = [c for c in network.get_connections(peer) if c is not conn]
        if _relayed(conn):
            if not any(not _relayed(c) for c in others):
                self.relayed_first.add(str(peer))
        elif str(peer) in self.relayed_first:
            self.upgraded.add(str(peer))

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        peer = conn.muxed_conn.peer_id
        if not network.get_connections(peer):
            self.relayed_first.discard(str(peer))
            self.upgraded.discard(str(peer))


def _relayed(conn: INetConn) -> bool:
    with contextlib.suppress(Exception):
        return any(is_circuit(a) for a in conn.get_transport_addresses())
    return False


class Relays:
    """Relaying, reservations, relayed dials and hole punching for one swarm host.

    Args:
        host: The libp2p host.
        psk: The swarm's PSK, as py-libp2p wants it (64 hex characters).
        params: ``connect_timeout`` bounds a reservation request.
        reachability: The host's verdict (``_reach``): behind NAT, it reserves and does not relay.
        outbound: The connected peers the host dialled (candidates for relays).
        ip_of: The IP a connected peer talks to us from.
        dialled_back: Whether a member at a public IP dialled us back (``_dialback``): our own
            addresses may be private (a forwarded port), yet friends elsewhere can dial us.
    """

    def __init__(
        self,
        host: IHost,
        psk: str,
        params: GossipParams,
        reachability: Callable[[], str],
        outbound: Callable[[], list[str]],
        ip_of: Callable[[str], str | None],
        dialled_back: Callable[[], bool] = lambda: False,
    ) -> None:
        self._host = host
        self._psk = psk
        self._params = params
        self._reachability = reachability
        self._dialled_back = dialled_back
        self._outbound = outbound
        self._ip_of = ip_of
        self.protocol = CircuitV2Protocol(host, limits=RELAY_LIMITS, allow_hop=False)
        self._transport = CircuitV2Transport(
            host, self.protocol, RelayConfig(roles=RelayRole.STOP | RelayRole.CLIENT, limits=RELAY_LIMITS)
        )
        self.dcutr = DCUtRProtocol(host)
        # Whether friends elsewhere could dial a member at this IP (tests on loopback say yes).
        self.reachable: Callable[[str | None], bool] = lambda ip: not private_ip(ip)
        self._held: dict[str, _Held] = {}
        self._refused: dict[str, float] = {}  # relay -> trio time to ask again
        self._paths = _Paths()
        host.get_network().register_notifee(self._paths)

    # -- what status tells --------------------------------------------------------------

    def addrs(self) -> list[multiaddr.Multiaddr]:
        """Our circuit addresses, one per relay we hold a reservation on (without our own ``/p2p``)."""
        return [multiaddr.Multiaddr(f"{held.addr}/p2p-circuit") for held in self._held.values()]

    def relaying(self) -> int:
        """Circuits this host relays between other members now."""
        reservations = self.protocol.resource_manager._reservations.values()
        return sum(r.active_connections for r in reservations if not r.is_expired())

    def paths(self) -> dict[str, Path]:
        """Each connected peer's path: ``direct``, ``hole_punched`` (direct, after a relayed start) or ``relayed``."""
        network = self._host.get_network()
        out: dict[str, Path] = {}
        for pid, conns in list(network.connections.items()):
            live = [c for c in conns if not c.is_closed]
            if not live:
                continue
            peer = str(pid)
            if all(_relayed(c) for c in live):
                out[peer] = "relayed"
            else:
                out[peer] = "hole_punched" if peer in self._paths.upgraded else "direct"
        return out

    # -- serving --------------------------------------------------------------------------

    def serving(self) -> bool:
        """Whether we relay for other members: unless peers see us behind NAT (nobody could dial us there)."""
        return self._reachability() != "behind_nat"

    async def serve_hop(self, stream: INetStream) -> None:
        """The relay's side of ``/libp2p/circuit/relay/0.2.0/hop``: refused while behind NAT."""
        if not self.serving():
            await stream.reset()
            return
        await self.protocol._handle_hop_stream(stream)

    # -- the client -----------------------------------------------------------------------

    def wanted(self) -> bool:
        """Whether we need relays: behind NAT, or our addresses are all private and nobody dialled us back."""
        if self._reachability() == "behind_nat":
            return True
        if self._dialled_back():
            return False  # a forwarded or mapped port: friends dial the router's address
        own = [ip4_of(a) for a in self._host.get_transport_addrs()]
        return all(private_ip(ip) for ip in own)

    async def reserve(self, relay: str) -> bool:
        """Ask a connected member for a reservation (or renew ours); True if granted."""
        pid = ID.from_base58(relay)
        conns = [c for c in self._host.get_network().get_connections(pid) if not _relayed(c)]
        remote = conns[0].muxed_conn.get_remote_address() if conns else None  # type: ignore[attr-defined]
        if remote is None:
            return False  # not connected directly: no address a friend could reach it at
        with trio.move_on_after(self._params.connect_timeout):
            stream = await self._host.new_stream(pid, [PROTOCOL_ID])
            try:
                granted = await self._transport._make_reservation(stream, pid)
            finally:
                with contextlib.suppress(Exception):
                    await stream.close()
            if granted:
                addr = f"/ip4/{remote[0]}/tcp/{remote[1]}/p2p/{relay}"
                self._held[relay] = _Held(addr, trio.current_time() + RESERVATION_TTL * 3 / 4)
                return True
        return False

    async def keep_reservations(self) -> None:
        """Keep up to :data:`MAX_RESERVATIONS_HELD` reservations while :meth:`wanted`; renew, replace lost ones."""
        while True:
            await trio.sleep(_CHECK_EVERY)
            await self.tend()

    async def tend(self) -> None:
        """One look at the reservations: drop lost ones, renew due ones, take new ones while short."""
        if not self.wanted():
            self._held.clear()
            return
        now = trio.current_time()
        connected = {str(p) for p in self._host.get_connected_peers()}
        for relay in [r for r in self._held if r not in connected]:
            logger.info("relay %s lost", relay)
            del self._held[relay]
        for relay, held in list(self._held.items()):
            if now >= held.renew_at and not await self._try(relay):
                del self._held[relay]
        self._refused = {relay: until for relay, until in self._refused.items() if until > now}
        for relay in self._outbound():
            if len(self._held) >= MAX_RESERVATIONS_HELD:
                break
            if relay in self._held or relay in self._refused or not self.reachable(self._ip_of(relay)):
                continue
            if await self._try(relay):
                logger.info("reserved a relay slot on %s", relay)
            else:
                self._refused[relay] = now + _RETRY_AFTER

    async def _try(self, relay: str) -> bool:
        try:
            return await self.reserve(relay)
        except Exception as exc:  # refused (the stream reset), or the peer went away
            logger.debug("reservation on %s failed: %s", relay, exc)
            return False

    # -- dialling -------------------------------------------------------------------------

    async def dial(self, addr: multiaddr.Multiaddr) -> None:
        """Connect to the peer a circuit address names, through its relay, in the swarm's PSK.

        Raises:
            ValueError: ``addr`` is not a circuit address of another peer through a third one.
            Exception: whatever the relay or the upgrade raised.
        """
        relay_ma, dest = self._transport.parse_circuit_ma(addr)
        relay = info_from_p2p_addr(relay_ma)
        me = self._host.get_id()
        if me in (relay.peer_id, dest) or relay.peer_id == dest:
            raise ValueError(f"not a circuit to another peer through a third: {addr}")
        await self._host.connect(relay)
        raw = await self._transport._dial_via_circuit_addr(addr, PeerInfo(dest, [addr]))
        await self._host.upgrade_outbound_connection(protect(raw, self._psk), dest)
