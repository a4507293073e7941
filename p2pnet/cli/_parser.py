"""The command line's grammar: every subcommand, its arguments, and the parsers of durations and cursors."""

from __future__ import annotations

import argparse
import re

import protocol

from ._dm import add_dm_commands
from ._moderation import add_moderation_commands, parse_size

__all__ = ["_parser", "parse_cursor", "parse_duration", "parse_lifetime"]

_DURATION = re.compile(r"(\d+)\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """'90', '90s', '10m', '2h', '7d', '1w' -> seconds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 2h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_lifetime(text: str) -> int:
    """A self-destruct time: a duration the wire can honour, 10 minutes to 30 days."""
    seconds = parse_duration(text)
    if not protocol.TIME_QUANTUM <= seconds <= protocol.MAX_TTL:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a post self-destructs 10m to 30d after it is written (post times travel in 10-minute "
            "steps, so a shorter time could not be kept)"
        )
    return seconds


def parse_cursor(text: str) -> list[int]:
    """The cursor ``feed --json`` printed, as ``123,45`` or ``[123, 45]``."""
    try:
        cursor = [int(part) for part in text.strip().strip("[]").split(",")]
    except ValueError:
        cursor = []
    if len(cursor) != 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not a cursor like 1767225600,42 (feed --json prints it)")
    return cursor


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="p2pnet", description="Anonymous peer-to-peer social network.")
    p.add_argument("--home", help="node home directory (default: $P2PNET_HOME or the per-user data dir)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def cmd(name: str, help_text: str, *, json_out: bool = True) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if json_out:
            sp.add_argument("--json", action="store_true", help="print JSON for scripts")
        return sp

    sp = cmd("init", "create this home's identity and show its backup phrase")
    sp.add_argument("--restore", action="store_true", help="restore from a backup phrase read from stdin")
    sp.add_argument("--passphrase", action="store_true", help="protect the identity with a passphrase (prompted)")

    sp = cmd("daemon", "run the node in the foreground", json_out=False)
    sp.add_argument("--listen-ip", default="0.0.0.0", help="IPv4 address swarm hosts listen on (default 0.0.0.0)")
    sp.add_argument(
        "--announce-ip",
        help="IPv4 address invite keys name, for this run (default: the one set with `announce`, else this "
        "machine's own addresses when listening on 0.0.0.0, else the listen address)",
    )

    sp.add_argument(
        "--no-lan",
        action="store_true",
        help="do not look for members of your swarms on the local network (encrypted beacons; docs/nat.md)",
    )
    sp.add_argument(
        "--no-upnp",
        action="store_true",
        help="no port mapping asked of the router for your swarms' ports (UPnP-IGD, NAT-PMP; docs/nat.md)",
    )

    sp = cmd("announce", "show or set the address invite keys name, the one friends on other machines dial")
    sp.add_argument("ip", nargs="?", help="an IPv4 address friends can reach this machine at")
    sp.add_argument("--clear", action="store_true", help="name this machine's own addresses again")

    cmd("recover", "check the stopped node's database fully; move it aside if damaged", json_out=False)
    cmd("unlock", "unlock a passphrase-protected identity on the running node")
    cmd("status", "node health: identity, swarms, peers, stored objects")
    cmd("peers", "connected and known peers per swarm")
    cmd("stop", "stop the running node")

    swarm = sub.add_parser("swarm", help="create, join, list and leave swarms")
    ssub = swarm.add_subparsers(dest="swarm_command", metavar="ACTION", required=True)
    for name, help_text, arg in (
        ("create", "create a swarm and print its invite key (last line)", "name"),
        ("join", "join a friend's swarm with an invite key", "invite"),
        ("invite", "print an invite key for a swarm you are in", "name"),
        ("leave", "leave a swarm", "name"),
        ("list", "list your swarms", None),
        ("set", "change this node's own settings of a swarm (never sent); shows them", "name"),
    ):
        sp = ssub.add_parser(name, help=help_text, description=help_text)
        if arg:
            sp.add_argument(arg)
        sp.add_argument("--json", action="store_true", help="print JSON for scripts")
        if name == "invite":
            sp.add_argument("--expires", type=parse_duration, help="make the key expire after DURATION")
        if name == "set":
            sp.add_argument(
                "--flag-threshold",
                type=int,
                metavar="N",
                help="how many flags collapse a post seen in this swarm, 1 to 1000 (default 3)",
            )
            sp.add_argument(
                "--quota",
                type=parse_size,
                metavar="SIZE",
                help="the most its posts may take on this node, like 512M or 1G (at least 64K); "
                "over it, flagged and then the oldest others' posts are evicted, never yours",
            )
        if name == "create":
            sp.add_argument(
                "--difficulty",
                type=int,
                default=protocol.DEFAULT_DIFFICULTY,
                metavar="BITS",
                help="proof of work every object in the swarm needs, 0 to 32 bits; each bit doubles what "
                f"a post costs its sender (default {protocol.DEFAULT_DIFFICULTY}: about 0.1 s of one core)",
            )

    sp = cmd("post", "post a thought; prints the new post's id")
    sp.add_argument("text")
    sp.add_argument("--swarm", help="which swarm to post in (needed when you are in several)")
    sp.add_argument("--bg", choices=protocol.PALETTE, default="slate", help="background colour")
    sp.add_argument("--name", help="a display name for this post only")
    sp.add_argument(
        "--expires",
        type=parse_lifetime,
        metavar="DURATION",
        help="self-destruct after DURATION, 10m to 30d (e.g. 1h, 7d), at the first 10-minute mark after it",
    )

    sp = cmd("reply", "reply to a post or reply")
    sp.add_argument("id")
    sp.add_argument("text")
    for name, help_text in (("heart", "heart a post or reply"), ("delete", "delete your own post or reply")):
        sp = cmd(name, help_text)
        sp.add_argument("id")
    sp = cmd("flag", "flag a post or reply")
    sp.add_argument("id")
    sp.add_argument("--reason", choices=protocol.FLAG_REASONS, default="other")

    flagged_help = "show the text of posts collapsed by flags too"
    sp = cmd("feed", "read the latest (or popular) posts")
    sp.add_argument("--popular", action="store_true")
    sp.add_argument("--swarm")
    sp.add_argument("--limit", type=int, default=20)
    sp.add_argument("--show-flagged", action="store_true", help=flagged_help)
    sp.add_argument("--cursor", type=parse_cursor, help="where the last page ended, as feed printed it")
    sp = cmd("thread", "read a thread")
    sp.add_argument("id")
    sp.add_argument("--show-flagged", action="store_true", help=flagged_help)
    sp = cmd("search", "search the posts on this node")
    sp.add_argument("query")
    sp.add_argument("--limit", type=int, default=20)

    add_moderation_commands(cmd)
    add_dm_commands(cmd)

    sp = cmd("demo", "start a local swarm of a few headless nodes with sample posts", json_out=False)
    sp.add_argument("--nodes", type=int, default=4, help="how many demo nodes (2-8)")
    return p
