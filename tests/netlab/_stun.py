"""A tiny STUN server (RFC 3489 binding, with CHANGE-REQUEST) run inside a lab namespace.

miniupnpd refuses to map ports while its WAN address is in a reserved range,
and the lab's WAN addresses are documentation ones (203.0.113.x).  With
``ext_perform_stun=yes`` it asks a STUN server instead: four binding
requests, asking for the answer from the same address and port, another
port, another address, and both.  When all four answers come back naming
the router's own address and source port, nothing in front of it filters or
rewrites, and it enables port forwarding with that address (docs/nat.md,
"UPnP-IGD").  So this server listens on two addresses and two ports and
answers each request from the socket the request asked for.

Run as a script through ``ip netns exec``; standard library only.

    IP1 IP2 [PORT1 PORT2]   serve on IP1/IP2 x PORT1/PORT2 (default 3478, 3479);
                            prints "ready" once all four sockets are bound
"""

from __future__ import annotations

import select
import socket
import struct
import sys

BINDING_REQUEST = 0x0001
BINDING_RESPONSE = 0x0101
MAGIC_COOKIE = 0x2112A442
MAPPED_ADDRESS = 0x0001
CHANGE_REQUEST = 0x0003
SOURCE_ADDRESS = 0x0004
CHANGED_ADDRESS = 0x0005
XOR_MAPPED_ADDRESS = 0x0020
CHANGE_IP = 0x4
CHANGE_PORT = 0x2


def _address(kind: int, ip: str, port: int) -> bytes:
    return struct.pack("!HHBBH4s", kind, 8, 0, 1, port, socket.inet_aton(ip))


def _xor_address(ip: str, port: int) -> bytes:
    ip_int = struct.unpack("!I", socket.inet_aton(ip))[0] ^ MAGIC_COOKIE
    return struct.pack("!HHBBHI", XOR_MAPPED_ADDRESS, 8, 0, 1, port ^ (MAGIC_COOKIE >> 16), ip_int)


def parse(packet: bytes) -> tuple[bytes, int] | None:
    """A binding request's transaction id (cookie included) and CHANGE-REQUEST flags; None for anything else."""
    if len(packet) < 20:
        return None
    kind, length = struct.unpack("!HH", packet[:4])
    if kind != BINDING_REQUEST or 20 + length > len(packet):
        return None
    flags, at, end = 0, 20, 20 + length
    while at + 4 <= end:
        attr, size = struct.unpack("!HH", packet[at : at + 4])
        value = packet[at + 4 : at + 4 + size]
        if attr == CHANGE_REQUEST and size == 4:
            flags = struct.unpack("!I", value)[0]
        at += 4 + size + (-size % 4)
    return packet[4:20], flags


def response(txid: bytes, client: tuple[str, int], source: tuple[str, int], other: tuple[str, int]) -> bytes:
    """A binding response naming the client's address as seen, where it is sent from, and the other address."""
    attrs = _address(MAPPED_ADDRESS, *client) + _address(SOURCE_ADDRESS, *source)
    attrs += _address(CHANGED_ADDRESS, *other)
    if txid[:4] == struct.pack("!I", MAGIC_COOKIE):
        attrs += _xor_address(*client)
    return struct.pack("!HH", BINDING_RESPONSE, len(attrs)) + txid + attrs


def serve(ips: tuple[str, str], ports: tuple[int, int]) -> None:
    socks: dict[tuple[int, int], socket.socket] = {}
    for i, ip in enumerate(ips):
        for j, port in enumerate(ports):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((ip, port))
            socks[i, j] = sock
    print("ready", flush=True)
    where = {sock: key for key, sock in socks.items()}
    while True:
        readable, _, _ = select.select(list(where), [], [])
        for sock in readable:
            packet, client = sock.recvfrom(2048)
            request = parse(packet)
            if request is None:
                continue
            txid, flags = request
            i, j = where[sock]
            i2 = 1 - i if flags & CHANGE_IP else i
            j2 = 1 - j if flags & CHANGE_PORT else j
            source = (ips[i2], ports[j2])
            other = (ips[1 - i], ports[1 - j])
            socks[i2, j2].sendto(response(txid, client, source, other), client)


def main(argv: list[str]) -> int:
    if len(argv) in (2, 4):
        ports = (int(argv[2]), int(argv[3])) if len(argv) == 4 else (3478, 3479)
        serve((argv[0], argv[1]), ports)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
