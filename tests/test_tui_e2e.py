"""End to end: the real ``p2pnet`` TUI in tmux, for two real nodes in one swarm.

A post typed into the first TUI appears on the second TUI's screen, and a heart
given in the second shows up in the first.  Screens are read with
``tmux capture-pane``; waits poll with generous deadlines.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.daemons import start_node
from tests.harness.polling import DEADLINE, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: the TUI e2e test needs it"),
]

REPO = Path(__file__).resolve().parent.parent


class Tmux:
    """A private tmux server (its own -L socket name), killed at the end."""

    def __init__(self) -> None:
        self.name = f"p2pnet-e2e-{os.getpid()}-{time.monotonic_ns()}"

    def run(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(["tmux", "-L", self.name, *args], capture_output=True, text=True, timeout=30, check=False)
        if check and out.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {out.stderr}")
        return out.stdout

    def open(self, session: str, command: str) -> None:
        self.run("new-session", "-d", "-s", session, "-x", "100", "-y", "30", command)

    def screen(self, session: str) -> str:
        return self.run("capture-pane", "-p", "-t", session, check=False)

    def keys(self, session: str, *keys: str) -> None:
        self.run("send-keys", "-t", session, *keys)

    def type(self, session: str, text: str) -> None:
        self.run("send-keys", "-t", session, "-l", text)

    def wait_for(self, session: str, needle: str, timeout: float = DEADLINE) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(session)
            if needle in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} did not appear in tmux session {session!r}; screen:\n{screen}")

    def kill(self) -> None:
        self.run("kill-server", check=False)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    try:
        yield t
    finally:
        t.kill()


def tui_command(home: Path) -> str:
    # No redirection: Textual draws on stderr.  The node already runs, so the TUI only connects.
    env = f"PYTHONPATH={shlex.quote(str(REPO))} TERM=xterm-256color COLORTERM=truecolor"
    return f"cd {shlex.quote(str(REPO))} && env {env} {shlex.quote(sys.executable)} -m tui --home {home}"


def test_post_in_one_tui_appears_in_the_other_and_hearts_come_back(tmp_path: Path, tmux: Tmux) -> None:
    a = start_node(tmp_path / "a", "127.0.0.71")
    try:
        b = start_node(tmp_path / "b", "127.0.0.72")
    except BaseException:
        a.stop()
        raise
    try:
        invite = a.call("swarm.create", name="friends")["invite"]
        b.call("swarm.join", invite=invite)

        tmux.open("a", tui_command(a.home))
        tmux.open("b", tui_command(b.home))
        tmux.wait_for("a", "Latest")
        tmux.wait_for("b", "Latest")
        tmux.wait_for("b", "No posts")

        # Gossip only reaches peers in the mesh (the node has no catch-up sync yet): wait for it.
        wait_for(lambda: a.in_mesh("friends") and b.in_mesh("friends"), what="a and b in one gossip mesh")

        # Write a post in A's TUI.
        tmux.keys("a", "c")
        tmux.wait_for("a", "New post")
        tmux.type("a", "hello from the tmux side")
        tmux.wait_for("a", "24 / 1000")
        tmux.keys("a", "C-s")
        tmux.wait_for("a", "posted")

        # It shows up on B's screen, gossiped between the two real nodes.
        tmux.wait_for("b", "hello from the tmux side", timeout=DEADLINE * 2)

        # B hearts it (the new post is the selected card); A's card counts the heart.
        tmux.keys("b", "h")
        tmux.wait_for("b", "♥ 1")
        tmux.wait_for("a", "♥ 1", timeout=DEADLINE * 2)

        for session in ("a", "b"):
            tmux.keys(session, "q")
    finally:
        a.stop()
        b.stop()
