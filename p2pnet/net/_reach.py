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

Observed addresses cannot tell a public IP behind a firewall that drops
inbound from one that takes it, so a dial-back by members at public IPs
(``_dialback``) overrides them: any member that dialled us back on a new
connection makes us ``public``; if every one that tried failed, we are not
dialable from outside, which the relays treat as ``behind_nat``.
"""

from __future__ import annotations

from typing import Literal

from libp2p.abc import IHost

from ._addrs import advertised_addrs, ip4_of

__all__ = ["Reachability", "judge", "reachability", "seen_at"]

Reachability = Literal["public", "behind_nat", "unknown"]


def judge(own_ips: set[str], observed_ips: set[str], dialled_back: bool | None = None) -> Reachability:
    """The verdict from our own IPs, the IPs peers see us at, and whether members could dial us back (None: untried)."""
    if dialled_back is not None:
        return "public" if dialled_back else "behind_nat"
    if not observed_ips:
        return "unknown"
    if observed_ips - own_ips:
        return "behind_nat"
    return "public"


def reachability(host: IHost, dialled_back: bool | None = None) -> Reachability:
    """What the peers connected to ``host`` now see of it, and dial-backs say (see the module's docstring)."""
    return judge(_own(host), _observed(host), dialled_back)


def seen_at(host: IHost) -> list[str]:
    """The IPs connected peers see ``host`` at that are not its own: its NAT's outside addresses."""
    return sorted(_observed(host) - _own(host))


def _own(host: IHost) -> set[str]:
    return {ip for a in advertised_addrs(list(host.get_transport_addrs())) if (ip := ip4_of(a))}


def _observed(host: IHost) -> set[str]:
    manager = getattr(host, "_observed_addr_manager", None)  # None: address discovery is off
    return set() if manager is None else {ip for a in manager.addrs(min_observers=1) if (ip := ip4_of(a))}
