"""What to tell the user when friends elsewhere may not reach this node: what it knows, no more.

A node knows three things: the addresses its invites name; the verdict from
the addresses connected peers see it at (``p2pnet.net._reach``); and which
connected peers it dialled itself at an address outside the private ranges.
Those peers are reachable from outside their own network (we reached them),
so they are public members.  A peer that dialled us may sit behind NAT
itself, so it proves nothing and is not counted.

An address in a private range (RFC 1918, carrier-grade NAT, loopback,
link-local) cannot be dialled from the internet: a machine with only such
addresses reaches it through a router doing NAT, if at all.  A node whose peers
see its own address but could not dial it back (``p2pnet.net._dialback``) sits
behind a firewall or an unforwarded port, and is told so in those words.  A
node behind NAT that holds a relay reservation on a public member names that relay in its
invites, so friends reach it through the relay (and go direct when their
routers allow, docs/nat.md); without one, the advice is to open a path by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..net import private_ip

__all__ = ["private_ip", "reach_note"]


def _listed(ips: Sequence[str]) -> str:
    return ", ".join(ips) or "none"


def reach_note(
    *,
    reachability: str,
    invite_ips: Sequence[str],
    seen_at: Sequence[str],
    public_peers: int,
    port: int | None,
    relays: int = 0,
    announce: str,
    mapped: str = "",
) -> str:
    """A plain warning with what to do, or "" when nothing known stands between friends and this node.

    Args:
        reachability: ``public``, ``behind_nat`` or ``unknown`` (``p2pnet.net._reach``).
        invite_ips: The IP addresses invites name now.
        seen_at: The addresses connected peers see this node at that are not its own (its router's).
        public_peers: Connected peers this node dialled at an address outside the private ranges.
        relays: Public members this node holds a relay reservation on (its invites name them).
        port: The TCP port this node listens on.
        announce: The command that names the address invites carry (``p2pnet announce IP``).
        mapped: The router's "IP:PORT" that forwards to this node (UPnP), which invites name first; "": none.
    """
    if mapped:
        return ""  # the router forwards the port on request: friends anywhere dial it
    outside = [ip for ip in invite_ips if not private_ip(ip)]
    tcp = f"TCP port {port}" if port else "this node's TCP port"
    if seen_at:
        behind = f"This node is behind NAT (peers see it at {_listed(seen_at)})"
    else:  # peers see its own address, yet their dial-back failed: a firewall, or a port not forwarded
        behind = "Members could not dial this node back at its own address (a firewall, or a port not forwarded)"
    if relays and (outside == [] or reachability == "behind_nat"):
        start = behind if reachability == "behind_nat" else "This node's own addresses are private"
        through = f"{relays} public member{'s' if relays > 1 else ''}"
        return (
            f"{start}; invites also name its address through {through} of the swarm, so friends elsewhere "
            "reach it through a relay, and directly once their routers allow a hole punch."
        )
    if outside:
        if reachability != "behind_nat":
            return ""
        opened = f"the router forwards {tcp} here" if seen_at else f"{tcp} is let in from outside"
        return f"{behind}; invites name {_listed(outside)}: friends reach it only if {opened}."
    if all(ip.startswith("127.") for ip in invite_ips):  # none, or loopback: this machine alone
        named = f"only {_listed(invite_ips)}" if invite_ips else "no address"
        return (
            f"Invites name {named}, which friends on other machines cannot dial. "
            f"Name the address they reach you at with: {announce}"
        )
    them = "them" if len(invite_ips) > 1 else "it"
    if reachability == "behind_nat":
        named = _listed(invite_ips)
        first = f"{behind}, and invites name only {named}: friends outside its network cannot dial {them}."
    else:
        first = (
            f"Invites name only the private address{'es' if len(invite_ips) > 1 else ''} {_listed(invite_ips)}: "
            f"this machine is behind NAT or on a network of its own, and friends outside it cannot dial {them}."
        )
    if public_peers:
        through = (
            f" {public_peers} member{'s' if public_peers > 1 else ''} with a public address "
            f"{'are' if public_peers > 1 else 'is'} connected: friends elsewhere can join with an invite made on "
            f"{'one of their nodes' if public_peers > 1 else 'its node'}."
        )
    else:
        through = (
            " No member with a public address is connected, so no relay can carry friends at other homes to this "
            "node: they cannot reach this swarm through it."
        )
    router = f" ({_listed(seen_at)}, as peers see it)" if seen_at else ""
    fix = (
        f" To be reachable: forward {tcp} on your router to this machine and name the router's public address"
        f"{router} with: {announce}; or have a friend with a public address create the swarm and invite you."
    )
    return first + through + fix
