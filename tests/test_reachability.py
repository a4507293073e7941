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
