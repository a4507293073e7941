"""The ``p2pnet`` command line: every action as a subcommand.

Every subcommand but ``daemon``, ``recover``, ``init`` and ``demo`` is a thin
client of the running node's control API.  Errors are one line on stderr and a
non-zero exit.  With no command, the launcher (:mod:`tui.launch`) opens the TUI.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

import protocol

from .. import api
from ..api import (
    ControlClient,
    ControlError,
    Home,
    NodeNotRunning,
    mutes_text,
    resolve_home,
    size_text,
    sync_summary,
)
from ._moderation import MODERATION_COMMANDS, add_moderation_commands, moderation_request, parse_size
from ._show import age, marked, post_text, thread_text

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
_DURATION = re.compile(r"(\d+)\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class CliError(Exception):
    """A failure to report as one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def parse_duration(text: str) -> int:
    """'90', '90s', '10m', '2h', '7d', '1w' -> seconds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 2h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


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
    sp.add_argument("--announce-ip", help="IPv4 address to put in invite keys (default: the listen address)")

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
    sp.add_argument("--expires", type=parse_duration, help="self-destruct after DURATION (e.g. 1h, 7d; max 30d)")

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
    sp = cmd("thread", "read a thread")
    sp.add_argument("id")
    sp.add_argument("--show-flagged", action="store_true", help=flagged_help)
    sp = cmd("search", "search the posts on this node")
    sp.add_argument("query")
    sp.add_argument("--limit", type=int, default=20)

    add_moderation_commands(cmd)

    sp = cmd("demo", "start a local swarm of a few headless nodes with sample posts", json_out=False)
    sp.add_argument("--nodes", type=int, default=4, help="how many demo nodes (2-8)")
    return p


def _home(args: argparse.Namespace) -> Home:
    return Home(resolve_home(args.home))


def _client(home: Home) -> ControlClient:
    return ControlClient(home.socket)


def _print(args: argparse.Namespace, result: Any, text: str | None = None) -> None:
    if getattr(args, "json", False) or text is None:
        print(json.dumps(msgspec.to_builtins(result), indent=2, ensure_ascii=False))
    else:
        print(text)


def run_command(args: argparse.Namespace) -> int:
    home = _home(args)
    command = args.command
    if command == "init":
        return _init(args, home)
    if command == "daemon":
        from ..node import run_daemon

        return run_daemon(home, listen_ip=args.listen_ip, announce_ip=args.announce_ip)
    if command == "recover":
        from ..node import recover

        return recover(home)
    if command == "demo":
        from ..demo import run_demo

        return run_demo(home, nodes=args.nodes)
    with _client(home) as client:
        return _remote(args, client)


def _remote(args: argparse.Namespace, client: ControlClient) -> int:
    command = args.command
    now = time.time()
    if command == "status":
        st = client.request(api.Status())
        lines = [f"home: {st.home}", f"identity: {st.identity}", f"uptime: {st.uptime}s"]
        lines.append("stored: " + ", ".join(f"{k} {v}" for k, v in msgspec.to_builtins(st.counts).items()))
        for s in st.swarms:
            lines.append(f"swarm {s.name}: {s.peers} peers connected")
            lines.append(f"  sync: {sync_summary(s.sync, now)}")
        for u in st.usage:
            lines.append(
                f"store {u.swarm}: {size_text(u.bytes)} of {size_text(u.quota)}, {u.objects:,} objects"
                + (f", {u.evicted:,} evicted" if u.evicted else "")
            )
        if st.bans:
            lines.append(f"banned: {st.bans} (see: p2pnet peers)")
        _print(args, st, "\n".join(lines))
    elif command == "unlock":
        state = client.request(api.IdentityUnlock(passphrase=getpass.getpass("passphrase: ")))
        _print(args, state, f"identity: {state.identity}")
    elif command == "peers":
        peers = client.request(api.Peers())
        lines = []
        for sp in peers.swarms:
            lines.append(f"{sp.swarm} (you are {sp.peer_id}): {len(sp.connected)} connected, {sp.known} known")
            lines += [f"  {p}" for p in sp.connected]
        for ban in peers.bans:
            who = ban.peer_id or f"address {ban.ip}"
            lines.append(f"banned {who} for {age(int(now), ban.until)} more: {ban.reason}")
        _print(args, peers, "\n".join(lines) or "no swarms")
    elif command == "stop":
        _print(args, client.request(api.Shutdown()), "node stopping")
    elif command == "swarm":
        return _swarm(args, client)
    elif command == "post":
        done = client.request(
            api.Post(text=args.text, swarm=args.swarm, bg=args.bg, name=args.name, expires=args.expires)
        )
        _print(args, done, done.id)
    elif command == "reply":
        done = client.request(api.Reply(id=args.id, text=args.text))
        _print(args, done, done.id)
    elif command in ("heart", "delete"):
        done = client.request(api.Heart(id=args.id) if command == "heart" else api.Delete(id=args.id))
        _print(args, done, done.id)
    elif command == "flag":
        done = client.request(api.Flag(id=args.id, reason=args.reason))
        _print(args, done, done.id)
    elif command == "feed":
        page = client.request(api.Feed(popular=args.popular, swarm=args.swarm, limit=args.limit))
        shown = "\n\n".join(post_text(p, now, args.show_flagged) for p in page.posts)
        _print(args, page, shown or "no posts yet")
    elif command == "thread":
        thread = client.request(api.Thread(id=args.id))
        _print(args, thread, thread_text(thread, now, args.show_flagged))
    elif command in MODERATION_COMMANDS:
        try:
            request = moderation_request(args)
        except ValueError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        muted = client.request(request)
        _print(args, muted, mutes_text(muted))
    elif command == "search":
        hits = client.request(api.Search(query=args.query, limit=args.limit)).results
        _print(args, {"results": hits}, "\n".join(f"[{m.id[:12]}] {marked(m.text)}" for m in hits) or "no matches")
    else:
        raise CliError(f"unknown command {command!r}", EXIT_USAGE)
    return 0


def _swarm(args: argparse.Namespace, client: ControlClient) -> int:
    action = args.swarm_command
    if action == "create":
        created = client.request(api.SwarmCreate(name=args.name, difficulty=args.difficulty))
        said = f"created swarm {created.name!r}; give this invite key to your friends:\n{created.invite}"
        _print(args, created, said)
    elif action == "join":
        print("joining: dialling the peers in the invite…", file=sys.stderr)
        joined = client.request(api.SwarmJoin(invite=args.invite))
        _print(args, joined, f"joined swarm {joined.name!r}: connected to {joined.connected} peer(s)")
    elif action == "invite":
        invite = client.request(api.SwarmInvite(name=args.name, expires_in=args.expires))
        _print(args, invite, invite.invite)
    elif action == "set":
        settings = client.request(api.SwarmSet(name=args.name, quota=args.quota, flag_threshold=args.flag_threshold))
        said = f"swarm {settings.name!r}: quota {size_text(settings.quota)}, flag threshold {settings.flag_threshold}"
        _print(args, settings, said)
    elif action == "leave":
        left = client.request(api.SwarmLeave(name=args.name))
        _print(args, left, f"left swarm {left.left!r}")
    else:
        listed = client.request(api.SwarmList())
        lines = [f"{s.name}: {s.peers} peers" + ("" if s.running else " (not running)") for s in listed.swarms]
        _print(args, listed, "\n".join(lines) or "you are in no swarm yet")
    return 0


def _init(args: argparse.Namespace, home: Home) -> int:
    passphrase = None
    if args.passphrase:
        passphrase = getpass.getpass("new passphrase: ")
        if passphrase != getpass.getpass("again: "):
            raise CliError("the passphrases differ; nothing was written")
    if home.socket.exists():
        try:
            with _client(home) as client:
                if args.restore:
                    restored = client.request(api.IdentityRestore(phrase=sys.stdin.read(), passphrase=passphrase))
                    _print(args, restored, _phrase_text(None))
                else:
                    created = client.request(api.IdentityCreate(passphrase=passphrase))
                    _print(args, created, _phrase_text(created.phrase))
                return 0
        except NodeNotRunning:
            pass  # a stale socket: no node runs, so write the identity file directly
    if home.identity.exists():
        raise CliError(f"{home.root} already has an identity; nothing was changed")
    home.create()
    seed = protocol.phrase_to_seed(sys.stdin.read()) if args.restore else protocol.new_seed()
    home.write_private(home.identity, protocol.encode_identity_file(seed, passphrase))
    phrase = None if args.restore else protocol.seed_to_phrase(seed)
    _print(args, {"phrase": phrase, "home": str(home.root)}, _phrase_text(phrase))
    return 0


def _phrase_text(phrase: str | None) -> str:
    if phrase is None:
        return "identity restored"
    return (
        "Your identity is ready. This backup phrase is the only way to restore it;\n"
        "write it down and keep it safe — it is shown once:\n\n  " + phrase
    )


def main(argv: Sequence[str] | None = None, *, no_command: Callable[[Home], int] | None = None) -> int:
    """Run one ``p2pnet`` command line; returns the exit code.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).
        no_command: What to run when no command is given (the launcher in
            :mod:`tui.launch` opens the TUI); without it, the usage is shown.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            if no_command is None:
                parser.print_help()
                return EXIT_USAGE
            return no_command(_home(args))
        return run_command(args)
    except CliError as exc:
        print(f"p2pnet: error: {exc}", file=sys.stderr)
        return exc.code
    except ControlError as exc:
        print(f"p2pnet: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except protocol.ProtocolError as exc:
        print(f"p2pnet: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os._exit(EXIT_ERROR)
    except OSError as exc:
        print(f"p2pnet: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
