"""Settings a daemon takes from its environment: a bad one is a clear error before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2pnet.net import Rate
from p2pnet.node._daemon import _rate


@pytest.mark.parametrize(
    ("text", "rate"),
    [("20/1000", Rate(20.0, 1000.0)), ("0.5/1", Rate(0.5, 1.0)), ("1e6/1e6", Rate(1e6, 1e6))],
)
def test_a_gossip_limit_is_rate_over_burst(text: str, rate: Rate) -> None:
    assert _rate(text) == rate


@pytest.mark.parametrize("text", ["20", "20/", "/1000", "0/1000", "20/0", "-1/5", "inf/5", "nan/5", "a/b", "1/2/3"])
def test_anything_else_is_refused(text: str) -> None:
    assert _rate(text) is None


def test_the_daemon_refuses_a_bad_gossip_limit_and_says_what_it_takes(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "p2pnet", "--home", str(tmp_path / "home"), "daemon", "--listen-ip", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "P2PNET_GOSSIP_LIMIT": "lots"},
    )
    assert out.returncode == 1
    assert "P2PNET_GOSSIP_LIMIT must be RATE/BURST, e.g. 20/1000" in out.stderr
    assert not (tmp_path / "home" / "control.sock").exists()
