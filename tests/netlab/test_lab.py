"""The lab itself: its NATs behave as the kinds they claim, and it leaves nothing behind.

Each test asks the echo (tests/netlab/_echo.py) where packets appear to come
from, inside namespaces the lab made; nothing leaves them.
"""

from __future__ import annotations

import subprocess

import pytest

from netlab import PREFIX, Lab, Nat, lab_unavailable, open_lab

pytestmark = pytest.mark.integration  # real processes in real network namespaces

ECHO_PORT = 4000
SRC_PORT = 40555


def _observed(out: subprocess.CompletedProcess[str]) -> list[tuple[str, int]]:
    assert out.returncode == 0, out.stderr
    return [(ip, int(port)) for ip, port in (line.rsplit(":", 1) for line in out.stdout.split())]


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _four_destinations(lab: Lab, proto: str) -> list[str]:
    """Echo servers on two public hosts, two ports each: four distinct destinations."""
    dests = []
    for server in (lab.public_host(), lab.public_host()):
        for port in (ECHO_PORT, ECHO_PORT + 1):
            server.echo_server(proto, port)
            dests.append(f"{server.ip}:{port}")
    return dests


@pytest.mark.parametrize("nat", list(Nat))
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_a_lan_host_reaches_a_public_host_from_its_routers_address(lab: Lab, nat: Nat, proto: str) -> None:
    public = lab.public_host()
    router = lab.home_router(nat)
    home = lab.lan_host(router)
    public.echo_server(proto, ECHO_PORT)
    [(ip, _)] = _observed(home.ask(proto, f"{public.ip}:{ECHO_PORT}"))
    assert ip == router.ip != home.ip


@pytest.mark.parametrize("nat", list(Nat))
def test_a_public_host_cannot_dial_a_lan_host(lab: Lab, nat: Nat) -> None:
    public = lab.public_host()
    router = lab.home_router(nat)
    home, neighbour = lab.lan_host(router), lab.lan_host(router)
    home.echo_server("tcp", ECHO_PORT)
    # The server answers on its own LAN, so a refusal below is the NAT's doing.
    [(ip, _)] = _observed(neighbour.ask("tcp", f"{home.ip}:{ECHO_PORT}"))
    assert ip == neighbour.ip
    for target in (home.ip, router.ip):
        out = public.ask("tcp", f"{target}:{ECHO_PORT}")
        assert out.returncode != 0, f"the public host reached {target}: {out.stdout}"


def test_a_forwarded_port_reaches_the_lan_host_and_no_other_port_does(lab: Lab) -> None:
    public = lab.public_host()
    router = lab.home_router(Nat.CONE)
    home = lab.lan_host(router)
    home.echo_server("tcp", ECHO_PORT)
    home.echo_server("tcp", ECHO_PORT + 1)
    router.forward_port(home, ECHO_PORT)
    # The router's address at that port is the LAN host's: it sees the dialler as itself.
    [(ip, _)] = _observed(public.ask("tcp", f"{router.ip}:{ECHO_PORT}"))
    assert ip == public.ip
    out = public.ask("tcp", f"{router.ip}:{ECHO_PORT + 1}")
    assert out.returncode != 0, f"a port not forwarded reached the LAN host: {out.stdout}"


def test_a_cut_line_passes_nothing_until_mended_and_a_poor_one_drops_some(lab: Lab) -> None:
    public = lab.public_host()
    router = lab.home_router(Nat.CONE)
    home = lab.lan_host(router)
    public.echo_server("udp", ECHO_PORT)
    router.cut()
    assert home.ask("udp", f"{public.ip}:{ECHO_PORT}").returncode != 0, "a cut line passed a datagram"
    router.mend()
    [(ip, _)] = _observed(home.ask("udp", f"{public.ip}:{ECHO_PORT}"))
    assert ip == router.ip
    router.flaky(loss=99, rate="1mbit")  # a datagram and its echo both through: 1 in 10,000
    assert home.ask("udp", f"{public.ip}:{ECHO_PORT}").returncode != 0
    assert router.dropped() > 0


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_cone_nat_keeps_the_source_port_for_every_destination(lab: Lab, proto: str) -> None:
    dests = _four_destinations(lab, proto)
    router = lab.home_router(Nat.CONE)
    home = lab.lan_host(router)
    assert _observed(home.ask(proto, *dests, src_port=SRC_PORT)) == [(router.ip, SRC_PORT)] * len(dests)


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_symmetric_nat_maps_each_destination_to_its_own_port(lab: Lab, proto: str) -> None:
    dests = _four_destinations(lab, proto)
    router = lab.home_router(Nat.SYMMETRIC)
    home = lab.lan_host(router)
    seen = _observed(home.ask(proto, *dests, src_port=SRC_PORT))
    assert {ip for ip, _ in seen} == {router.ip}
    # Random ports: two of four could meet by chance (about 1 in 10,000), all four cannot.
    ports = [port for _, port in seen]
    assert len(set(ports)) > 1 and ports.count(SRC_PORT) <= 1, ports
    if proto == "udp":
        # The mapping is kept per destination: asking the first again gets the same port.
        again = _observed(home.ask(proto, dests[0], dests[0], src_port=SRC_PORT))
        assert again[0] == again[1]


def test_the_lab_removes_every_namespace_even_when_the_test_fails() -> None:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    made: list[str] = []
    with pytest.raises(RuntimeError, match="the test failed"), open_lab() as lab:
        router = lab.home_router(Nat.CONE)
        host = lab.lan_host(router)
        lab.public_host().echo_server("udp", ECHO_PORT)
        host.popen("sleep", "600")  # a process still running inside keeps its namespace alive
        made = list(lab.namespaces)
        assert set(made) <= _namespaces()
        raise RuntimeError("the test failed")
    assert len(made) == 4
    assert all(name.startswith(PREFIX) for name in made)
    assert not set(made) & _namespaces()
