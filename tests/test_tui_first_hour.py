"""End to end: a newcomer's first hour, three real TUIs in tmux on three real daemons.

A's TUI starts on a node with no identity: the first-run wizard, then a swarm
and its invite.  The key goes to B the way people pass it: copied with ``c``
(inside tmux that is tmux's paste buffer) and selected on screen in the lines
the dialog wrapped it into, then pasted into B's join field.  A post, a heart
and a reply travel between the two, and A answers the reply (nested, shown in
order under it).  A makes a second swarm, "work", which D joins the same way,
and posts in either.  A's heart carries B's post into work, and B's delete
reaches D's carried copy.  Last, A's node is stopped and started again under a
half-written post: the TUI reconnects and the draft is still there.  Screens
are read with ``tmux capture-pane``, and keys wait for the cursor where the
focus must be first; every wait polls with a generous deadline.
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


def cursor_on(tmux: Tmux, session: str, field: str) -> None:
    """Wait until the terminal cursor is in the field whose placeholder or text is ``field``.

    The focus moves a moment after the key that moves it, and keys sent in
    between go to the field before; the cursor shows where typing goes now.
    """

    def there() -> bool:
        row = int(tmux.run("display", "-p", "-t", session, "#{cursor_y}").strip())
        return field in tmux.screen(session).splitlines()[row]

    wait_for(there, what=f"the cursor in {field!r} in {session}")


def changed(tmux: Tmux, session: str, line_with: str, before: str) -> str:
    """Wait until the line holding ``line_with``, colours included, differs from ``before``; returns it."""

    def line() -> str:
        screen = tmux.run("capture-pane", "-e", "-p", "-t", session, check=False)
        return next((row for row in screen.splitlines() if line_with in re.sub(r"\x1b\[[0-9;]*m", "", row)), "")

    if not before:
        return line()
    return wait_for(lambda: (now := line()) != before and now, what=f"{line_with!r} to change in {session}")


def step(tmux: Tmux, session: str, *keys: str, shows: str, timeout: float = DEADLINE) -> str:
    """Press ``keys`` in ``session`` and wait until its screen shows ``shows``."""
    tmux.keys(session, *keys)
    return tmux.wait_for(session, shows, timeout)


def write(tmux: Tmux, session: str, text: str) -> None:
    """Open the composer and type ``text`` (not sent)."""
    step(tmux, session, "c", shows="New post")
    tmux.type(session, text)
    tmux.wait_for(session, f"{len(text)} / 1000")


def join_by_pasting(tmux: Tmux, session: str, home: Path, selected: str) -> None:
    """Open a TUI on ``home`` (in no swarm yet) and join by pasting ``selected`` into the invite field."""
    tmux.open(session, tui_command(home))
    tmux.wait_for(session, "You are in no swarm yet")
    cursor_on(tmux, session, "name for a new swarm")
    tmux.keys(session, "Tab", "Tab")  # past Create, to the invite field
    cursor_on(tmux, session, "paste an invite key")
    tmux.run("set-buffer", "-b", "selected", "--", selected)
    tmux.run("paste-buffer", "-p", "-b", "selected", "-t", session)  # bracketed, as a terminal pastes
    tmux.wait_for(session, "p2pnet-invite1ai")  # the key in the field, not the placeholder's "p2pnet-invite1…"
    tmux.keys(session, "Enter")
    tmux.wait_for(session, "Latest", timeout=DEADLINE * 2)


def scope(tmux: Tmux, session: str, swarm: str) -> None:
    """Switch the feed (``w``: all, then each swarm in turn) until it shows ``swarm``."""

    def shown() -> str:
        return re.findall(r"swarm: (\S+) ▸", tmux.screen(session))[0]

    for _ in range(4):
        now = wait_for(shown, what=f"the feed's swarm in {session}")
        if now == swarm:
            return
        tmux.keys(session, "w")
        wait_for(lambda was=now: shown() != was, what=f"the feed's swarm in {session} to change from {now}")
    raise AssertionError(f"{session}'s feed never showed the swarm {swarm}")


def wait_gone(tmux: Tmux, session: str, needle: str, timeout: float = DEADLINE * 2) -> None:
    wait_for(lambda: needle not in tmux.screen(session), timeout=timeout, what=f"{needle!r} gone from {session}")


def test_a_newcomers_first_hour(tmp_path: Path, tmux: Tmux) -> None:
    a = start_node(tmp_path / "a", "127.0.0.75", init=False)
    started = [a]
    try:
        b = start_node(tmp_path / "b", "127.0.0.76")
        started.append(b)
        d = start_node(tmp_path / "d", "127.0.0.77")
        started.append(d)
    except BaseException:
        for node in started:
            node.stop()
        raise
    try:
        # -- A: first run, a swarm, its invite ------------------------------------------------------
        tmux.open("a", tui_command(a.home))
        tmux.wait_for("a", "Create your identity")
        cursor_on(tmux, "a", "passphrase (optional)")
        tmux.keys("a", "Enter")  # no passphrase: on to the second field ...
        cursor_on(tmux, "a", "passphrase again")
        step(tmux, "a", "Enter", shows="Write this down")  # ... which creates the identity
        disabled = changed(tmux, "a", "Continue", "")
        tmux.keys("a", "Space")  # "I have written down all 24 words"
        changed(tmux, "a", "Continue", disabled)  # Continue is enabled
        tmux.keys("a", "Tab", "Enter")
        tmux.wait_for("a", "You are in no swarm yet")
        cursor_on(tmux, "a", "name for a new swarm")
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
        join_by_pasting(tmux, "b", b.home, selected)
        assert [s["name"] for s in b.call("swarm.list")["swarms"]] == ["friends"]
        wait_for(lambda: a.in_mesh("friends") and b.in_mesh("friends"), what="a and b in one gossip mesh")

        # -- a post, a heart, a reply ---------------------------------------------------------------
        write(tmux, "a", "my first post here")
        tmux.keys("a", "C-s")
        tmux.wait_for("a", "posted")
        tmux.wait_for("b", "my first post here", timeout=DEADLINE * 2)
        tmux.keys("b", "h")
        tmux.wait_for("a", "♥ 1", timeout=DEADLINE * 2)
        step(tmux, "b", "Enter", shows="No replies yet")
        tmux.keys("b", "r")
        cursor_on(tmux, "b", "write a reply")
        tmux.type("b", "welcome, newcomer")
        tmux.keys("b", "Enter")
        # A opens its post's thread; B's reply arrives in it.
        step(tmux, "a", "Enter", shows="welcome, newcomer", timeout=DEADLINE * 2)
        # A answers B's reply itself: nested, after it in B's thread, with a line naming what it answers.
        unselected = changed(tmux, "a", "welcome, newcomer", "")
        tmux.keys("a", "j")  # down to B's reply: its line takes the selection's colours
        changed(tmux, "a", "welcome, newcomer", unselected)
        tmux.keys("a", "r")
        cursor_on(tmux, "a", "reply to ")
        tmux.type("a", "thank you, b")
        tmux.keys("a", "Enter")
        seen = tmux.wait_for("b", "thank you, b", timeout=DEADLINE * 2)
        assert seen.index("welcome, newcomer") < seen.index("replying to") < seen.index("thank you, b"), seen
        for session in ("a", "b"):
            step(tmux, session, "Escape", shows="Latest")

        # -- a second swarm, D in it only; posting in either -----------------------------------------
        step(tmux, "a", "s", shows="Your swarms")
        tmux.keys("a", "c")  # to the new swarm's name
        cursor_on(tmux, "a", "name for a new swarm")
        tmux.type("a", "work")
        step(tmux, "a", "Enter", shows="Invite friends to “work”")
        # A notice over the dialog (the earlier copy's) would be in the selection: select once it is gone.
        wait_for(lambda: "paste buffer" not in tmux.screen("a"), what="the notice gone from a's screen")
        join_by_pasting(tmux, "d", d.home, key_as_selected(tmux.screen("a")))
        step(tmux, "a", "Escape", shows="Your swarms")
        step(tmux, "a", "Escape", shows="Latest")
        wait_for(lambda: a.in_mesh("work") and d.in_mesh("work"), what="a and d in one gossip mesh")
        scope(tmux, "a", "work")
        write(tmux, "a", "only for work")
        step(tmux, "a", "C-s", shows="posted")
        tmux.wait_for("d", "only for work", timeout=DEADLINE * 2)
        scope(tmux, "a", "friends")
        write(tmux, "a", "for friends again")
        step(tmux, "a", "C-s", shows="posted")
        tmux.wait_for("b", "for friends again", timeout=DEADLINE * 2)
        assert "for friends again" not in tmux.screen("d")

        # -- A hearts B's post into work; B's delete reaches D's carried copy -----------------------
        write(tmux, "b", "a secret from b")
        step(tmux, "b", "C-s", shows="posted")
        tmux.wait_for("a", "a secret from b", timeout=DEADLINE * 2)
        tmux.keys("a", "g", "h")  # the newest card, B's post: the heart carries it into work
        tmux.wait_for("d", "a secret from b", timeout=DEADLINE * 2)
        step(tmux, "b", "g", "d", shows="Delete this post for everyone?")
        step(tmux, "b", "y", shows="deleted")
        wait_gone(tmux, "d", "a secret from b")
        scope(tmux, "a", "all")

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
        for node in started:
            node.stop()
