"""No daemon exits during the hostile suite: every daemon a test started must still be running when it stops it.

A daemon that died under attack (an exception out of a loop, a crash in
libp2p) shows up when the test stops it: its process has already ended.
Stopping it is the test's own doing and fine; finding it gone is a failure,
with its log.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from harness.daemons import DaemonProcess


@pytest.fixture(autouse=True)
def no_daemon_exits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    died: list[str] = []
    started: list[DaemonProcess] = []
    stop, start = DaemonProcess.stop, DaemonProcess.start

    def checked_stop(self: DaemonProcess, *args: Any, **kwargs: Any) -> int:
        if self.proc is not None and self.proc.poll() is not None:
            died.append(f"{self.home} exited by itself with {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")
        return stop(self, *args, **kwargs)

    def tracked_start(self: DaemonProcess) -> DaemonProcess:
        started.append(self)
        return start(self)

    monkeypatch.setattr(DaemonProcess, "stop", checked_stop)
    monkeypatch.setattr(DaemonProcess, "start", tracked_start)
    yield
    for daemon in started:  # one the test left running is still checked, then stopped
        daemon.stop()
    assert not died, "a daemon exited during a hostile test:\n" + "\n".join(died)
