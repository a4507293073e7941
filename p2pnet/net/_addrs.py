"""Addresses of a swarm host: what it listens on, advertises, and hands out for dialing."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import multiaddr
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.utils.address_validation import expand_wildcard_address

__all__ = ["advertised_addrs", "check_can_listen", "dial_from", "ip4_of", "private_ip", "with_p2p"]

_PRIVATE = [
    ipaddress.IPv4Network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16")
]


def private_ip(ip: str | None) -> bool:
    """True unless ``ip`` is an IPv4 address outside the ranges the internet cannot dial.

    The ranges: RFC 1918, carrier-grade NAT, loopback, link-local.
    """
    try:
        addr = ipaddress.IPv4Address(ip or "")
    except ValueError:
        return True  # not an address we can judge: not known to be reachable
    return any(addr in net for net in _PRIVATE)


def ip4_of(addr: multiaddr.Multiaddr) -> str | None:
    """The IPv4 address in ``addr``; None for one without (ip6, a relay address)."""
    with contextlib.suppress(Exception):
        return str(addr.value_for_protocol("ip4"))
    return None


def with_p2p(addrs: Iterable[multiaddr.Multiaddr], peer_id: ID) -> list[str]:
    """Return ``addrs`` as dialable text ending in ``/p2p/<peer_id>``, without wildcards or repeats."""
    out: list[str] = []
    for addr in addrs:
        text = str(addr)
        if text.startswith(("/ip4/0.0.0.0/", "/ip6/::/")):
            continue  # "any address" is not a place to dial
        if "/p2p/" not in text.rsplit("/p2p-circuit", 1)[-1]:  # a relay's address names the relay first
            text = f"{text}/p2p/{peer_id}"
        if text not in out:
            out.append(text)
    return out


def advertised_addrs(addrs: list[multiaddr.Multiaddr]) -> list[multiaddr.Multiaddr]:
    """The host's ``addrs_factory``: listen addresses, with 0.0.0.0 expanded to the interfaces' IPv4 addresses.

    A host listening on 0.0.0.0 would otherwise advertise (and sign into its
    peer record) 0.0.0.0, which others cannot dial.
    """
    out: list[multiaddr.Multiaddr] = []
    for addr in addrs:
        if str(addr).startswith("/ip4/0.0.0.0/"):
            out.extend(a for a in expand_wildcard_address(addr) if str(a).startswith("/ip4/"))
        else:
            out.append(addr)
    return out


def announced_addrs(ips: Iterable[str], listen: Iterable[multiaddr.Multiaddr]) -> list[multiaddr.Multiaddr]:
    """Each announced IP (``p2pnet announce``: a router's that forwards our port) at each TCP listen port.

    As invites pair them; these go into the host's signed record too, so
    members that learn of us by peer exchange dial what friends are told.
    """
    ports: list[str] = []
    for addr in listen:
        with contextlib.suppress(Exception):
            if (port := addr.value_for_protocol("tcp")) not in ports:
                ports.append(port)
    return [multiaddr.Multiaddr(f"/ip4/{ip}/tcp/{port}") for ip in dict.fromkeys(ips) for port in ports]


def check_can_listen(ip: str, port: int) -> None:
    """Raise OSError if ip:port cannot be listened on by us alone.

    py-libp2p's TCP listener sets SO_REUSEPORT (transport/tcp/tcp.py
    _open_reuseport_listeners), so binding a port that another host of the same
    user already listens on *succeeds* and the kernel splits incoming
    connections between the two. A plain bind first turns that into the usual
    EADDRINUSE.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR tolerates TIME_WAIT leftovers, never a live listener.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((ip, port))


def dial_from(host: IHost, listen_ip: str) -> None:
    """Make ``host`` dial from the address it listens on, when that is one address.

    py-libp2p dials from whatever source the kernel picks: on loopback every
    dial comes from 127.0.0.1, and on a machine with several addresses not
    necessarily from the listening one.  Peers judge addresses (bans, caps per
    address), so a host bound to one address dials from it too.
    """
    if listen_ip in ("0.0.0.0", "::"):
        return
    for transport in host.get_network().transport_manager.get_transports():  # type: ignore[attr-defined]
        with_source = getattr(transport, "dial_with_source", None)
        if with_source is None:
            continue

        async def dial(maddr: multiaddr.Multiaddr, with_source: Any = with_source) -> Any:
            return await with_source(maddr, (listen_ip, 0))

        transport.dial = dial
