"""Members of one swarm on one network find each other by LAN beacons, with no address in common left.

Two real daemons on one home LAN share a swarm; both then get new addresses
(as after a new DHCP lease) and start again.  Neither address either one
stored is right any more and no third member is online, so only the beacons
(p2pnet.net._lan) can bring them together.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness.daemons import DaemonProcess, join_swarm, running
from harness.polling import wait_for

from netlab import Host, Lab, Nat

pytestmark = pytest.mark.integration  # real daemon processes in real network namespaces


def _renumber(host: Host, ip: str) -> None:
    """Give ``host`` a new address on its LAN, as a new DHCP lease would."""
    gateway = host.ip.rsplit(".", 1)[0] + ".1"
    host.run("ip", "addr", "flush", "dev", "eth0", check=True)
    host.run("ip", "addr", "add", f"{ip}/24", "dev", "eth0", check=True)
    host.run("ip", "route", "add", "default", "via", gateway, check=True)
    host.ip = ip


def _connected(node: DaemonProcess) -> list[str]:
    [swarm] = node.call("peers")["swarms"]
    return list(swarm["connected"])


def test_members_on_one_lan_find_each_other_after_both_addresses_change(lab: Lab, tmp_path: Path) -> None:
    router = lab.home_router(Nat.CONE)
    hosts = [lab.lan_host(router), lab.lan_host(router)]
    first = [DaemonProcess(tmp_path / name, h.ip, wrap=h.wrap([])) for name, h in zip("ab", hosts, strict=True)]
    with running(*first):
        for node in first:
            node.home.mkdir(parents=True)
            node.cli("init")
            node.start()
        join_swarm(first[0], [first[1]])
        wait_for(lambda: all(_connected(n) for n in first), what="A and B connected by the invite")
    lan = router.lan
    for n, host in enumerate(hosts):
        _renumber(host, f"{lan}.{50 + n}")
    again = [DaemonProcess(node.home, h.ip, wrap=h.wrap([])) for node, h in zip(first, hosts, strict=True)]
    with running(*again):
        for node in again:
            node.start()
        a, b = again
        wait_for(lambda: _connected(a) and _connected(b), what="A and B to find each other on the LAN")
        post = a.call("post", text="found you")["id"]
        wait_for(lambda: post in b.stored_ids(), what="A's post at B")
        # The connection is on the LAN, between the new addresses.
        out = hosts[0].run("ss", "-Htn", "state", "established", check=True).stdout
        assert f"{lan}.51:" in out, out
