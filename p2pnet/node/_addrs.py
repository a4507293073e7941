"""Which addresses go into an invite key: the ones a friend can dial."""

from __future__ import annotations

import contextlib
import socket

__all__ = ["announce_addrs", "port_of"]


def port_of(addrs: list[str]) -> int | None:
    """The TCP port of the first multiaddr that has one."""
    for addr in addrs:
        parts = addr.split("/")
        if "tcp" in parts:
            return int(parts[parts.index("tcp") + 1])
    return None


def announce_addrs(listen_addrs: list[str], *, listen_ip: str, announce_ip: str | None) -> list[str]:
    """The addresses to put in an invite: the announced IP if set, else this machine's own for a wildcard listener."""
    if announce_ip:
        return [_replace_ip(a, announce_ip) for a in listen_addrs]
    if listen_ip == "0.0.0.0":
        return [_replace_ip(a, ip) for a in listen_addrs for ip in _local_ips()] or listen_addrs
    return listen_addrs


def _replace_ip(addr: str, ip: str) -> str:
    parts = addr.split("/")
    if len(parts) > 2 and parts[1] == "ip4":
        parts[2] = ip
    return "/".join(parts)


def _local_ips() -> list[str]:
    """This machine's IPv4 addresses other than loopback, without touching the network."""
    ips: set[str] = set()
    with contextlib.suppress(OSError):  # no resolvable host name: fall back to loopback
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            ip = str(info[4][0])
            if not ip.startswith("127."):
                ips.add(ip)
    return sorted(ips) or ["127.0.0.1"]
