"""The reachability verdict from observed addresses; the lab (tests/netlab) shows it on real NATs."""

from __future__ import annotations

import pytest

from p2pnet.net._reach import judge

ME = {"198.51.100.10"}


@pytest.mark.parametrize(
    ("observed", "verdict"),
    [
        (set(), "unknown"),  # no peer has told us yet
        ({"198.51.100.10"}, "public"),  # every peer sees our own address
        ({"203.0.113.10"}, "behind_nat"),  # a NAT rewrote our source
        ({"198.51.100.10", "203.0.113.10"}, "behind_nat"),  # one NAT on some path is enough to be undialable there
    ],
)
def test_verdict(observed: set[str], verdict: str) -> None:
    assert judge(ME, observed) == verdict


@pytest.mark.parametrize("observed", [set(), {"198.51.100.10"}, {"203.0.113.10"}])
def test_a_dial_back_overrides_what_peers_see(observed: set[str]) -> None:
    """Dialled back on a new connection: public, NAT or not (a forwarded port); never dialled back: not dialable."""
    assert judge(ME, observed, dialled_back=True) == "public"
    assert judge(ME, observed, dialled_back=False) == "behind_nat"
