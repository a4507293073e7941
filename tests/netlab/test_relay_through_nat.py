"""Two hosts behind NAT reach each other through a public relay, in one private network.

Stock py-libp2p hosts (tests/netlab/_libp2p_peer.py) in lab namespaces, with
the PSK on the dialler's relayed connection (tests/harness/relay.py): the base
of #15's relays inside the swarm.  Whatever the NATs, a relayed connection
needs only the two hosts' outbound connections to the relay.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from harness.polling import DEADLINE

from netlab import Host, Lab, Nat

pytestmark = pytest.mark.integration  # real processes in real network namespaces

PEER = Path(__file__).with_name("_libp2p_peer.py")


def _start(host: Host, *args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start the peer script in ``host`` and read the JSON line it prints first."""
    proc = host.popen(sys.executable, str(PEER), *args)
    return proc, _next(proc, f"{args[0]} in {host.ns}")


def _next(proc: subprocess.Popen[str], who: str, within: float = DEADLINE) -> dict[str, Any]:
    """The next JSON line the peer script prints."""
    assert proc.stdout is not None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 1)[0]:
            line = proc.stdout.readline()
            if line:
                return dict(json.loads(line))
            break  # it ended without a word
    proc.kill()
    raise AssertionError(f"{who} said nothing: {proc.communicate()[1][-2000:]}")


@pytest.mark.parametrize("nats", [(Nat.CONE, Nat.CONE), (Nat.SYMMETRIC, Nat.SYMMETRIC)], ids=lambda n: n[0].value)
def test_two_hosts_behind_nat_connect_through_a_public_relay(lab: Lab, nats: tuple[Nat, Nat]) -> None:
    psk = os.urandom(32).hex()
    public = lab.public_host()
    a, b = (lab.lan_host(lab.home_router(nat)) for nat in nats)
    _, relay = _start(public, "relay", public.ip, psk)
    _, listener = _start(b, "listen", b.ip, psk, relay["addr"])
    dialler, dialled = _start(a, "dial", a.ip, psk, relay["addr"], listener["peer"])
    assert dialled["peer"] == listener["peer"]
    assert dialled["relayed"] and all("/p2p-circuit/" in x for x in dialled["addrs"]), dialled
    assert dialler.wait(DEADLINE) == 0


@pytest.mark.parametrize("nat", [Nat.CONE, Nat.SYMMETRIC], ids=lambda n: n.value)
def test_hole_punching_goes_direct_through_cone_nats_and_stays_relayed_through_symmetric_ones(
    lab: Lab, nat: Nat
) -> None:
    psk = os.urandom(32).hex()
    public = lab.public_host()
    router_a, router_b = lab.home_router(nat), lab.home_router(nat)
    a, b = lab.lan_host(router_a), lab.lan_host(router_b)
    _, relay = _start(public, "relay", public.ip, psk)
    _, listener = _start(b, "listen", b.ip, psk, relay["addr"])
    # One try shows a symmetric NAT defeats it (each try takes a while to give up).
    tries = "3" if nat is Nat.CONE else "1"
    puncher, dialled = _start(a, "punch", a.ip, psk, relay["addr"], listener["peer"], tries)
    assert dialled["relayed"], dialled
    punched = _next(puncher, "the puncher", within=DEADLINE * 2)["punched"]
    # The kernel's word, not libp2p's: is there a TCP connection from A straight to B's router?
    direct = a.established(router_b.ip)
    if nat is Nat.CONE:
        assert any(punched) and direct, (punched, direct)
    else:
        assert not any(punched) and not direct, (punched, direct)
