"""Whether peers could dial this host: what the addresses they see us at say.

Every identify exchange tells us the address the other side sees our
connection come from (its ``observed_addr``); py-libp2p keeps these per
connection in the host's ``ObservedAddrManager`` while the connection lasts.
An observed IP that is not one of our own means a NAT rewrote our packets on
the way: we are behind NAT.  Peers who all see our own address are evidence
that nothing stands between us and them: public, as far as they can tell (a
peer on the same LAN sees our private address too, and says the same).  No
observation yet: unknown.  Loopback observations are dropped by py-libp2p, so
nodes on 127.0.0.N stay unknown.

py-libp2p's AutoNAT would settle "public" by a dial-back, but its server
dials back with ``host.connect``, which returns the connection the request
came over, so it reports every asker reachable (docs/nat.md).
"""

from __future__ import annotations

from typing import Literal

from libp2p.abc import IHost

from ._addrs import advertised_addrs, ip4_of

__all__ = ["Reachability", "judge", "reachability", "seen_at"]

Reachability = Literal["public", "behind_nat", "unknown"]


def judge(own_ips: set[str], observed_ips: set[str]) -> Reachability:
    """The verdict from our own IPs and the IPs peers see us at."""
    if not observed_ips:
        return "unknown"
    if observed_ips - own_ips:
        return "behind_nat"
    return "public"


def reachability(host: IHost) -> Reachability:
    """What the peers connected to ``host`` now see of it (see the module's docstring)."""
    return judge(_own(host), _observed(host))


def seen_at(host: IHost) -> list[str]:
    """The IPs connected peers see ``host`` at that are not its own: its NAT's outside addresses."""
    return sorted(_observed(host) - _own(host))


def _own(host: IHost) -> set[str]:
    return {ip for a in advertised_addrs(list(host.get_transport_addrs())) if (ip := ip4_of(a))}


def _observed(host: IHost) -> set[str]:
    manager = getattr(host, "_observed_addr_manager", None)  # None: address discovery is off
    return set() if manager is None else {ip for a in manager.addrs(min_observers=1) if (ip := ip4_of(a))}
