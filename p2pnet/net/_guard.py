"""Bans that stick: who is refused, for how long, and the offences that lead there.

One :class:`Guard` serves every swarm host of a node.  A peer that sends
garbage (an invalid stem frame, a sync session that breaks the protocol or
pushes invalid objects, a garbled pubsub RPC) commits an *offence*; offences
drain a per-peer token bucket, and the one that finds it empty bans the peer
id.  Gossip judges by the score instead: a peer whose gossipsub score falls
below the graylist threshold is banned at once (``_pubsub``).  A ban outlives
the connection (py-libp2p wipes a disconnected peer's score) and, through the
node's store, a restart.  When ``ip_strikes`` peer ids from one IP address
have been banned, the address is banned too: a new key is free, an address
is not.  Banned peers and addresses are refused at the handshake and their
connections closed (``_admission``).  See docs/gossip-notes.md, "Defences".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import trio

from ._bucket import Buckets, Rate

__all__ = ["Ban", "Guard", "GuardParams"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ban:
    """One ban: of a peer id (``ip`` is where it came from, if known), or of an IP address (no ``peer_id``).

    Attributes:
        peer_id: The banned peer id; None for a ban of the address.
        ip: The banned address, or the banned peer's.
        until: Unix time the ban ends.
        reason: Why (``stem``, ``sync``, ``gossip``, ``gossip score``, ``ip``).
    """

    peer_id: str | None
    ip: str | None
    until: float
    reason: str

    @property
    def key(self) -> str:
        return f"peer:{self.peer_id}" if self.peer_id is not None else f"ip:{self.ip}"


@dataclass(frozen=True)
class GuardParams:
    """How forgiving a node is; the defaults are the production settings.

    Attributes:
        offences: Offences a peer may commit in a burst; the next one bans it.
        forgive: Seconds after which one offence is forgiven (the bucket's refill).
        ban_seconds: How long a ban lasts.
        ip_strikes: Peer ids banned from one IP address before the address is banned.
    """

    offences: int = 5
    forgive: float = 600.0
    ban_seconds: float = 24 * 3600.0
    ip_strikes: int = 3


class Guard:
    """The node's ban list and offence counts, shared by all its swarm hosts.

    Args:
        params: Thresholds and durations.
        bans: Bans already in force (from the store, after a restart).
        on_ban: Called with every new ban (the node stores it).
        now: Wall-clock Unix time: bans outlive the process.
    """

    def __init__(
        self,
        params: GuardParams | None = None,
        *,
        bans: Iterable[Ban] = (),
        on_ban: Callable[[Ban], object] = lambda ban: None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.params = params or GuardParams()
        self._now = now
        self._on_ban = on_ban
        self._bans: dict[str, Ban] = {}
        for ban in bans:
            self._bans[ban.key] = ban
        p = self.params
        self._offences = Buckets(Rate(1.0 / p.forgive, p.offences), trio.current_time)
        self._listeners: list[Callable[[Ban], None]] = []

    def banned(self, peer_id: str | None = None, ip: str | None = None) -> Ban | None:
        """The ban in force on this peer id or this address, if any."""
        keys = ([f"peer:{peer_id}"] if peer_id else []) + ([f"ip:{ip}"] if ip else [])
        for key in keys:
            ban = self._bans.get(key)
            if ban is None:
                continue
            if ban.until > self._now():
                return ban
            del self._bans[key]
        return None

    def active(self) -> list[Ban]:
        """Every ban in force, soonest to end first."""
        now = self._now()
        for key in [k for k, b in self._bans.items() if b.until <= now]:
            del self._bans[key]
        return sorted(self._bans.values(), key=lambda b: (b.until, b.key))

    def offence(self, peer_id: str, ip: str | None, why: str) -> Ban | None:
        """A peer sent something no honest peer sends; returns the ban if this one was too many."""
        if self._offences.take(peer_id):
            log.info("offence by %s (%s)", peer_id, why)
            return None
        return self.ban(peer_id, ip, why)

    def ban(self, peer_id: str, ip: str | None, reason: str) -> Ban:
        """Ban a peer id (and its address, once enough of its ids are banned)."""
        existing = self.banned(peer_id)
        if existing is not None:
            return existing
        until = self._now() + self.params.ban_seconds
        ban = self._add(Ban(peer_id, ip, until, reason))
        if ip is not None and self.banned(ip=ip) is None:
            strikes = sum(1 for b in self.active() if b.peer_id is not None and b.ip == ip)
            if strikes >= self.params.ip_strikes:
                self._add(Ban(None, ip, until, "ip"))
        return ban

    def on_ban(self, listener: Callable[[Ban], None]) -> Callable[[], None]:
        """Call ``listener`` with each new ban (a host closes the connections it names); returns the undo."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _add(self, ban: Ban) -> Ban:
        self._bans[ban.key] = ban
        log.warning("banned %s until %d: %s", ban.key, ban.until, ban.reason)
        self._on_ban(ban)
        for listener in list(self._listeners):
            try:
                listener(ban)
            except Exception:
                log.exception("ban listener failed")
        return ban
