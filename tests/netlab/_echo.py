"""A tiny echo run inside a lab namespace: it tells a client where its packets came from.

Run as a script (``python _echo.py ...``) through ``ip netns exec``, so it
needs nothing but the standard library.

    serve udp|tcp IP PORT             answer every packet / connection with "ip:port" of its source;
                                      prints "ready" once bound
    ask udp|tcp SRC_PORT HOST:PORT..  from local port SRC_PORT (0: any), ask each destination in turn;
                                      prints one "ip:port" line per destination, exit 1 on the first failure
"""

from __future__ import annotations

import socket
import sys

TIMEOUT = 5.0  # a NAT drops what it refuses silently; this long means "refused"
UDP_TRIES = 3


def serve(proto: str, ip: str, port: int) -> None:
    if proto == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((ip, port))
            print("ready", flush=True)
            while True:
                _, (src_ip, src_port) = sock.recvfrom(512)
                sock.sendto(f"{src_ip}:{src_port}".encode(), (src_ip, src_port))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(16)
        print("ready", flush=True)
        while True:
            conn, (src_ip, src_port) = sock.accept()
            with conn:
                conn.sendall(f"{src_ip}:{src_port}\n".encode())


def _socket(proto: str, src_port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    # One local port towards several destinations: each TCP connection is its own 4-tuple.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.settimeout(TIMEOUT)
    sock.bind(("0.0.0.0", src_port))
    return sock


def ask(proto: str, src_port: int, dest: tuple[str, int], udp: socket.socket | None) -> str:
    if udp is not None:
        for _ in range(UDP_TRIES):
            udp.sendto(b"where am I", dest)
            try:
                return udp.recvfrom(512)[0].decode()
            except TimeoutError:
                continue
        raise TimeoutError(f"no answer from {dest[0]}:{dest[1]}")
    with _socket(proto, src_port) as sock:
        sock.connect(dest)
        return sock.makefile().readline().strip()


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "serve":
        serve(argv[1], argv[2], int(argv[3]))
        return 0
    if len(argv) >= 4 and argv[0] == "ask":
        proto, src_port = argv[1], int(argv[2])
        udp = _socket(proto, src_port) if proto == "udp" else None
        try:
            for dest in argv[3:]:
                host, port = dest.rsplit(":", 1)
                print(ask(proto, src_port, (host, int(port)), udp), flush=True)
        except OSError as exc:
            print(f"{dest}: {exc or type(exc).__name__}", file=sys.stderr)
            return 1
        finally:
            if udp is not None:
                udp.close()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
