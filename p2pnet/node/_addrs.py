"""Which addresses go into an invite key: only ones a friend on another machine could dial.

A node listening on every interface (0.0.0.0, as the one ``p2pnet`` starts)
names this machine's own addresses in its invites, never a loopback one:
127.0.0.1 reaches only this machine, so a friend elsewhere could never use
the key.  When the machine has no other address, no invite can be made and
the node says how to name one (the ``announce`` method, kept in the home's
``settings.json``).  A node told to listen on one address names that one,
loopback included: it was asked to.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import socket
import struct
from collections.abc import Callable, Sequence

from ..api import Home
from ._errors import ApiError

__all__ = [
    "WILDCARD",
    "check_announce_ip",
    "invite_addrs",
    "invite_ips",
    "load_announce_ip",
    "local_ips",
    "port_of",
    "save_announce_ip",
]

WILDCARD = "0.0.0.0"
_SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address
_ROUTE_PROBE = ("192.0.2.1", 9)  # a TEST-NET address: only routed, never sent to


def port_of(addrs: list[str]) -> int | None:
    """The TCP port of the first multiaddr that has one."""
    for addr in addrs:
        parts = addr.split("/")
        if "tcp" in parts:
            return int(parts[parts.index("tcp") + 1])
    return None


def _dialable(ip: str) -> bool:
    """An address a friend on another machine could dial (a private LAN one counts; loopback does not)."""
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified or addr.is_link_local or addr.is_multicast)


def check_announce_ip(ip: str) -> str:
    """``ip`` if invites may name it; else refused, saying why.

    Raises:
        ApiError: ``bad_request``, not an IPv4 address, or one only this machine reaches.
    """
    ip = ip.strip()
    try:
        ipaddress.IPv4Address(ip)
    except ValueError:
        raise ApiError("bad_request", f"{ip!r} is not an IPv4 address like 203.0.113.7") from None
    if not _dialable(ip):
        raise ApiError("bad_request", f"{ip} cannot be reached from another machine; name one a friend can dial")
    return ip


def invite_ips(listen_ip: str, announce_ip: str | None, local: Callable[[], list[str]] | None = None) -> list[str]:
    """The IP addresses invites name: the announced one, else this machine's own for a wildcard listener.

    Empty when the node listens on every interface and the machine has no
    address but loopback: there is then nothing a friend elsewhere could dial.
    """
    if announce_ip:
        return [announce_ip]
    if listen_ip == WILDCARD:
        return (local or local_ips)()
    return [listen_ip]


def invite_addrs(listen_addrs: Sequence[str], ips: Sequence[str], mapped: str = "") -> list[str]:
    """Each listen multiaddr with each of ``ips`` in place of its IPv4 address.

    ``mapped`` ("IP:PORT"), a router's address that forwards to us (UPnP),
    comes first: the one friends anywhere can dial.
    """
    out = [_with_ip(addr, ip) for addr in listen_addrs for ip in ips]
    if mapped and listen_addrs:
        ip, port = mapped.rsplit(":", 1)
        out.insert(0, _with_ip(listen_addrs[0], ip, port))
    return out


def _with_ip(addr: str, ip: str, port: str | None = None) -> str:
    parts = addr.split("/")
    if len(parts) > 2 and parts[1] == "ip4":
        parts[2] = ip
        if port is not None and len(parts) > 4 and parts[3] == "tcp":
            parts[4] = port
    return "/".join(parts)


def local_ips() -> list[str]:
    """This machine's IPv4 addresses a friend could dial, the one of the default route first.

    Found without sending anything: the source address the kernel picks to
    route towards a test address (a UDP connect sends no packet), every
    interface's address (Linux), and what the host name resolves to.
    """
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(_ROUTE_PROBE)
        found.append(str(probe.getsockname()[0]))
    with contextlib.suppress(OSError):
        for _, name in socket.if_nameindex():
            found.extend(_interface_ip(name))
    with contextlib.suppress(OSError):
        found.extend(str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    return list(dict.fromkeys(ip for ip in found if _dialable(ip)))


def _interface_ip(name: str) -> list[str]:
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
        return [socket.inet_ntoa(packed[20:24])]
    return []


def load_announce_ip(home: Home) -> str | None:
    """The address set with ``announce`` (kept in the home's settings.json), or None."""
    try:
        value = json.loads(home.settings.read_text()).get("announce_ip")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and _dialable(value) else None


def save_announce_ip(home: Home, ip: str | None) -> None:
    """Keep the announced address (None: none) in the home's settings.json, for the next start too."""
    try:
        settings = json.loads(home.settings.read_text())
    except (OSError, ValueError):
        settings = {}
    if not isinstance(settings, dict):
        settings = {}
    settings["announce_ip"] = ip
    home.write_private(home.settings, json.dumps(settings, indent=2).encode() + b"\n")
