"""The daemon's log: a peer gone for good is written about once, not at every redial."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from harness.daemons import daemons, join_swarm
from harness.polling import wait_for

from p2pnet.node._logs import QUIET, Repeats


def record(message: str, *args: object, name: str = "libp2p.transport.tcp.tcp") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, None)


def test_a_repeated_line_is_written_once_an_hour_with_a_count() -> None:
    now = [0.0]
    repeats = Repeats(clock=lambda: now[0])
    gone = "all attempts to connect to 127.0.15.2:34329 failed"
    written = [repeats.filter(record("Failed to open TCP stream: %s", gone)) for _ in range(5)]
    assert written == [True, False, False, False, False]
    assert repeats.filter(record("Failed to open TCP stream: %s", "another peer")), "another line is news"
    assert repeats.filter(record("Failed to open TCP stream: %s", gone, name="elsewhere")), "so is another place"
    assert repeats.filter(logging.LogRecord("x", logging.DEBUG, __file__, 1, "debug", (), None))
    now[0] = QUIET
    later = record("Failed to open TCP stream: %s", gone)
    assert repeats.filter(later)
    assert later.getMessage() == f"Failed to open TCP stream: {gone} (and 4 times more in the last hour, not written)"
    assert not repeats.filter(record("Failed to open TCP stream: %s", gone))


def _failures(home: Path) -> int:
    with sqlite3.connect(f"file:{home / 'node.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
        return int(db.execute("SELECT max(failures) FROM peers").fetchone()[0] or 0)


@pytest.mark.integration
def test_a_peer_gone_for_good_is_logged_once(tmp_path: Path) -> None:
    with daemons(tmp_path, 2, ip_prefix="127.0.15", first_ip=40) as (a, b):
        join_swarm(a, [b])
        wait_for(lambda: a.call("peers")["swarms"][0]["known"] >= 1, what="a remembers b")
        b.stop()
        # The redial backs off (1, 2, 4, 8 s); after four failed dials, the log still says it once.
        wait_for(lambda: _failures(a.home) >= 4, timeout=120, what="a to redial b four times")
        log = a.log.read_text()
        # py-libp2p words a refused dial one of two ways, by whether it dials from a given address.
        refused = ("Failed to open TCP stream", "Unexpected error opening TCP stream")
        assert sum(log.count(line) for line in refused) == 1, log
        assert "libp2p.transport.tcp.tcp" in log, "written with the node's own format"
