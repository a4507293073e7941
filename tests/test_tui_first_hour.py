"""End to end: a newcomer's first hour, two real TUIs in tmux on two real daemons.

A's TUI starts on a node with no identity: the first-run wizard, then a swarm
and its invite.  The key goes to B the way people pass it: copied with ``c``
(inside tmux that is tmux's paste buffer) and, separately, selected on screen
in the lines the dialog wrapped it into, then pasted into B's join field.
Then a post, a heart and a reply travel between the two, and A's node is
stopped and started again under a half-written post: the TUI reconnects and
the draft is still there.  Screens are read with ``tmux capture-pane``; every
wait polls with a generous deadline.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import protocol
from tests.harness.daemons import start_node
from tests.harness.polling import DEADLINE, wait_for
from tests.test_tui_e2e import Tmux, tui_command

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: the TUI e2e test needs it"),
]

FRAME = re.compile(r"[\s\u2500-\u259f]+")  # what a selection takes from the dialog besides the key


def key_as_selected(screen: str) -> str:
    """The invite key's lines as shown in the dialog: from the line it starts on to the first without it."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if "p2pnet-invite1" in line)
    picked = []
    for line in lines[start:]:
        part = line[line.index("p2pnet-invite1") :] if not picked else line
        if not FRAME.sub("", part):
            break
        picked.append(part)
    return "\n".join(picked)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill()


def step(tmux: Tmux, session: str, *keys: str, shows: str, timeout: float = DEADLINE) -> str:
    """Press ``keys`` in ``session`` and wait until its screen shows ``shows``."""
    tmux.keys(session, *keys)
    return tmux.wait_for(session, shows, timeout)


def write(tmux: Tmux, session: str, text: str) -> None:
    """Open the composer and type ``text`` (not sent)."""
    step(tmux, session, "c", shows="New post")
    tmux.type(session, text)
    tmux.wait_for(session, f"{len(text)} / 1000")


def test_a_newcomers_first_hour(tmp_path: Path, tmux: Tmux) -> None:
    a = start_node(tmp_path / "a", "127.0.0.75", init=False)
    try:
        b = start_node(tmp_path / "b", "127.0.0.76")
    except BaseException:
        a.stop()
        raise
    try:
        # -- A: first run, a swarm, its invite ------------------------------------------------------
        tmux.open("a", tui_command(a.home))
        tmux.wait_for("a", "Create your identity")
        tmux.keys("a", "Enter")  # no passphrase: past the first field ...
        tmux.keys("a", "Enter")  # ... and the second creates the identity
        tmux.wait_for("a", "Write this down")
        tmux.keys("a", "Space")  # "I have written down all 24 words"
        tmux.keys("a", "Tab", "Enter")
        tmux.wait_for("a", "You are in no swarm yet")
        tmux.type("a", "friends")
        tmux.keys("a", "Enter")
        shown = tmux.wait_for("a", "Invite friends to")
        tmux.keys("a", "c")
        tmux.wait_for("a", "paste buffer")
        copied = tmux.run("show-buffer")
        invite = protocol.decode_invite(copied, now=int(time.time()))
        assert invite.name == "friends" and "/ip4/127.0.0.75/" in invite.bootstrap[0]

        # -- B: joins by pasting the key as selected on A's screen, in several lines ----------------
        selected = key_as_selected(tmux.screen("a"))
        assert "\n" in selected, f"the dialog wraps the key, so a selection has several lines:\n{shown}"
        tmux.keys("a", "Escape")
        tmux.wait_for("a", "Latest")
        tmux.open("b", tui_command(b.home))
        tmux.wait_for("b", "You are in no swarm yet")
        tmux.keys("b", "Tab", "Tab")  # from the new swarm's name, past Create, to the invite field
        tmux.run("set-buffer", "-b", "selected", "--", selected)
        tmux.run("paste-buffer", "-p", "-b", "selected", "-t", "b")  # bracketed, as a terminal pastes
        tmux.keys("b", "Enter")
        tmux.wait_for("b", "Latest", timeout=DEADLINE * 2)
        assert [s["name"] for s in b.call("swarm.list")["swarms"]] == ["friends"]
        wait_for(lambda: a.in_mesh("friends") and b.in_mesh("friends"), what="a and b in one gossip mesh")

        # -- a post, a heart, a reply ---------------------------------------------------------------
        write(tmux, "a", "my first post here")
        tmux.keys("a", "C-s")
        tmux.wait_for("a", "posted")
        tmux.wait_for("b", "my first post here", timeout=DEADLINE * 2)
        tmux.keys("b", "h")
        tmux.wait_for("a", "♥ 1", timeout=DEADLINE * 2)
        step(tmux, "b", "Enter", shows="Reply")
        tmux.keys("b", "r")
        tmux.type("b", "welcome, newcomer")
        tmux.keys("b", "Enter")
        # A opens its post's thread; B's reply arrives in it.
        step(tmux, "a", "Enter", shows="welcome, newcomer", timeout=DEADLINE * 2)
        for session in ("a", "b"):
            step(tmux, session, "Escape", shows="Latest")

        # -- A's node goes away under a half-written post, and comes back ---------------------------
        write(tmux, "a", "words not sent yet")
        step(tmux, "a", "Escape", shows="Latest")  # closes the composer, keeps the draft
        a.stop()
        tmux.wait_for("a", "reconnecting")
        a.start()
        tmux.wait_for("a", "connected to your node again", timeout=DEADLINE * 2)
        step(tmux, "a", "c", shows="words not sent yet")
        tmux.keys("a", "C-s")
        tmux.wait_for("b", "words not sent yet", timeout=DEADLINE * 2)
    finally:
        a.stop()
        b.stop()
