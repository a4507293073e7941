"""The command line's moderation commands (mute, unmute, hide, unhide, mutes) and the size of a quota.

Everything they change stays on this node (docs/control-api.md, ``mute``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Final

from .. import api

__all__ = ["MODERATION_COMMANDS", "add_moderation_commands", "moderation_request", "parse_size"]

MODERATION_COMMANDS: Final = ("mute", "unmute", "hide", "unhide", "mutes")
_SIZE = re.compile(r"(\d+)\s*([kmgt]?)(?:i?b)?")
_SIZES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """'65536', '512K', '256M', '1G', '1GiB' -> bytes (binary units)."""
    match = _SIZE.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 512K, 256M or 1G")
    return int(match.group(1)) * _SIZES[match.group(2)]


def add_moderation_commands(cmd: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Add the moderation subcommands with ``cmd(name, help)``, the main parser's own helper."""
    for name, help_text in (
        ("mute", "hide posts with a word (or words, as a phrase), or a writer in one thread; never sent"),
        ("unmute", "undo a mute"),
    ):
        sp = cmd(name, help_text)
        sp.add_argument("words", nargs="*", metavar="WORD")
        sp.add_argument("--author", metavar="ID", help="the writer of this post or reply, in its thread")
    for name, help_text in (("hide", "hide a whole thread; never sent"), ("unhide", "show a hidden thread again")):
        sp = cmd(name, help_text)
        sp.add_argument("id", help="a post or reply of the thread")
    cmd("mutes", "list what you muted and hid")


def moderation_request(args: argparse.Namespace) -> api.Mute | api.Unmute | api.MuteList:
    """The request of a moderation command: a word (or phrase) or ``--author``; ``hide``/``unhide`` a thread.

    Raises:
        ValueError: neither or both of a word and ``--author``.
    """
    if args.command == "mutes":
        return api.MuteList()
    kind = api.Mute if args.command in ("mute", "hide") else api.Unmute
    if args.command in ("hide", "unhide"):
        return kind(thread=args.id)
    if bool(args.words) == bool(args.author):
        raise ValueError(f"{args.command}: give either a word (or words) or --author ID")
    return kind(word=" ".join(args.words)) if args.words else kind(author=args.author)
