"""Copying text for the user: where the terminal lets a program copy, and saying so where it does not.

A program in a terminal copies by writing OSC 52, which the terminal may or
may not honour, and cannot ask whether it did.  Where it is known not to
work, the user is told how to copy instead of being told it was copied:

- inside tmux, OSC 52 from a program is dropped unless ``set-clipboard`` is
  ``on`` (the default is ``external``), so the text goes into tmux's paste
  buffer with ``tmux load-buffer -w``, which also hands it to the outer
  terminal's clipboard where tmux may;
- GNU screen, the Linux console, VTE terminals (GNOME Terminal, Tilix, …)
  and macOS Terminal take no OSC 52 at all;
- elsewhere the OSC 52 sequence is written, and the message says what to do
  if nothing pastes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Copied", "copy_text"]

Run = Callable[..., subprocess.CompletedProcess[str]]
MOUSE = "select it with the mouse (shift+drag in most terminals) and copy it from there"


@dataclass(frozen=True)
class Copied:
    """What became of a copy: ``ok`` when it reached a clipboard, and a sentence for the user."""

    ok: bool
    message: str


def _tmux(text: str, run: Run) -> Copied:
    try:
        run(["tmux", "load-buffer", "-w", "-"], input=text, text=True, capture_output=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return Copied(False, f"tmux did not take the copy: {MOUSE}")
    try:
        mode = run(
            ["tmux", "show-options", "-gv", "set-clipboard"], text=True, capture_output=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        mode = ""
    if mode == "off":
        return Copied(
            True,
            "copied into tmux's paste buffer (prefix ] pastes it); tmux's set-clipboard is off, "
            "so your terminal's clipboard does not have it",
        )
    return Copied(
        True,
        "copied into tmux's paste buffer (prefix ] pastes it) and, if your terminal takes it from tmux, its clipboard",
    )


def _cannot(env: Mapping[str, str]) -> str | None:
    """Why OSC 52 cannot work in this terminal, or None when it may."""
    if env.get("STY"):
        return "GNU screen does not pass a program's copy to the terminal"
    if env.get("TERM") in ("linux", "dumb"):
        return "this console has no clipboard a program can reach"
    if env.get("VTE_VERSION"):
        return "this terminal (GNOME Terminal, or another built on VTE) does not take copies from programs"
    if env.get("TERM_PROGRAM") == "Apple_Terminal":
        return "macOS Terminal does not take copies from programs"
    return None


def copy_text(text: str, *, env: Mapping[str, str], osc52: Callable[[str], None], run: Run = subprocess.run) -> Copied:
    """Copy ``text`` the best way this terminal allows.

    Args:
        text: what to copy.
        env: the environment the TUI runs in (``os.environ``).
        osc52: writes the OSC 52 sequence for ``text`` (the app's ``copy_to_clipboard``).
        run: runs a command (``subprocess.run``; tests pass their own).
    """
    if env.get("TMUX"):
        return _tmux(text, run)
    why = _cannot(env)
    if why is not None:
        return Copied(False, f"could not copy: {why}; {MOUSE}")
    osc52(text)
    return Copied(True, f"copied to your terminal's clipboard; if nothing pastes, the terminal refused it: {MOUSE}")
