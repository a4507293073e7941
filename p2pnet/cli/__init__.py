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
import shlex
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
    locked_note,
    mutes_text,
    path_text,
    reach_lines,
    reach_text,
    resolve_home,
    size_text,
    sync_summary,
)
from ._dm import DM_COMMANDS, dm_command
from ._moderation import MODERATION_COMMANDS, moderation_request
from ._parser import _parser, parse_lifetime
from ._show import age, marked, post_text, thread_text

__all__ = ["main", "parse_lifetime"]

EXIT_ERROR = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure to report as one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _home(args: argparse.Namespace) -> Home:
    return Home(resolve_home(args.home))


def _client(home: Home) -> ControlClient:
    return ControlClient(home.socket)


def _print(args: argparse.Namespace, result: Any, text: str | None = None) -> None:
    if getattr(args, "json", False) or text is None:
        print(json.dumps(msgspec.to_builtins(result), indent=2, ensure_ascii=False))
    else:
        print(text)


def _warn(args: argparse.Namespace, note: str) -> None:
    """A warning beside a result, on stderr: stdout keeps only what scripts read (the key)."""
    if note and not getattr(args, "json", False):
        print(f"warning: {note}", file=sys.stderr)


def run_command(args: argparse.Namespace) -> int:
    home = _home(args)
    command = args.command
    if command == "init":
        return _init(args, home)
    if command == "daemon":
        from ..node import run_daemon

        return run_daemon(
            home, listen_ip=args.listen_ip, announce_ip=args.announce_ip, lan=not args.no_lan, upnp=not args.no_upnp
        )
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
        if st.identity == "locked":
            lines.insert(2, f"  {locked_note(_home(args))}")
        lines.append("stored: " + ", ".join(f"{k} {v}" for k, v in msgspec.to_builtins(st.counts).items()))
        for s in st.swarms:
            lines.append(f"swarm {s.name}: {s.peers} peers connected, {reach_text(s)}")
            lines += [f"  {line}" for line in reach_lines(s)]
            lines.append(f"  sync: {sync_summary(s.sync, now)}")
        for u in st.usage:
            lines.append(
                f"store {u.swarm}: {size_text(u.bytes)} of {size_text(u.quota)}, {u.objects:,} objects"
                + (f", {u.evicted:,} evicted" if u.evicted else "")
            )
        if st.bans:
            lines.append(f"banned: {st.bans} (see: p2pnet peers)")
        if st.mailbox is not None:
            box = st.mailbox
            lines.append(f"private messages: {box.tried:,} tried with {box.live_keys:,} keys, {box.opened:,} opened")
        _print(args, st, "\n".join(lines))
    elif command == "unlock":
        state = client.request(api.IdentityUnlock(passphrase=getpass.getpass("passphrase: ")))
        _print(args, state, f"identity: {state.identity}")
    elif command == "peers":
        peers = client.request(api.Peers())
        lines = []
        for sp in peers.swarms:
            lines.append(f"{sp.swarm} (you are {sp.peer_id}): {len(sp.connected)} connected, {sp.known} known")
            lines += [f"  {p}" + (f" ({path})" if (path := path_text(sp, p)) else "") for p in sp.connected]
        for ban in peers.bans:
            who = ban.peer_id or f"address {ban.ip}"
            lines.append(f"banned {who} for {age(int(now), ban.until)} more: {ban.reason}")
        _print(args, peers, "\n".join(lines) or "no swarms")
    elif command == "announce":
        announced = client.request(api.Announce(ip=args.ip, clear=args.clear))
        _print(args, announced, _announced_text(announced, _home(args).command("announce", "IP")))
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
    elif command == "heart":
        done = client.request(api.Heart(id=args.id))
        into = f"{done.published_to} swarm{'' if done.published_to == 1 else 's'}"
        _print(args, done, f"hearted {args.id}; the heart goes out into {into} (heart {done.id[:12]})")
    elif command == "delete":
        done = client.request(api.Delete(id=args.id))
        said = f"deleted {args.id}: each node erases it when the delete reaches it (delete {done.id[:12]})"
        _print(args, done, said)
    elif command == "flag":
        done = client.request(api.Flag(id=args.id, reason=args.reason))
        _print(args, done, f"flagged {args.id} as {args.reason} (flag {done.id[:12]})")
    elif command == "feed":
        _feed(args, client, now)
    elif command == "thread":
        thread = client.request(api.Thread(id=args.id))
        _print(args, thread, thread_text(thread, now, args.show_flagged))
    elif command in DM_COMMANDS:
        dm_command(args, client, _print)
    elif command in MODERATION_COMMANDS:
        try:
            request = moderation_request(args)
        except ValueError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        muted = client.request(request)
        _print(args, muted, mutes_text(muted))
    elif command == "search":
        hits = client.request(api.Search(query=args.query, limit=args.limit)).results
        _print(args, {"results": hits}, "\n".join(f"[{m.id[:12]}] {marked(m)}" for m in hits) or "no matches")
    else:
        raise CliError(f"unknown command {command!r}", EXIT_USAGE)
    return 0


def _announced_text(announced: api.Announced, set_one: str) -> str:
    if not announced.ips:
        return (
            "invite keys can name no address: this machine has none a friend on another machine could reach.\n"
            f"Name the one they reach you at with: {set_one}"
        )
    where = "set with announce" if announced.ip else f"this machine's own; name another with: {set_one}"
    return f"invite keys name: {', '.join(announced.ips)} ({where})"


def _feed(args: argparse.Namespace, client: ControlClient, now: float) -> None:
    page = client.request(api.Feed(popular=args.popular, swarm=args.swarm, limit=args.limit, cursor=args.cursor))
    text = "\n\n".join(post_text(p, now, args.show_flagged) for p in page.posts) or "no posts yet"
    if page.cursor is not None and page.posts:
        more = ["feed", *(["--popular"] if args.popular else []), *(["--swarm", args.swarm] if args.swarm else [])]
        more += ["--limit", str(args.limit), "--cursor", ",".join(map(str, page.cursor))]
        text += "\n\nmore: " + _home(args).command(*map(shlex.quote, more))
    _print(args, page, text)


def _swarm(args: argparse.Namespace, client: ControlClient) -> int:
    action = args.swarm_command
    if action == "create":
        created = client.request(api.SwarmCreate(name=args.name, difficulty=args.difficulty))
        said = f"created swarm {created.name!r}; give this invite key to your friends:\n{created.invite}"
        _print(args, created, said)
        _warn(args, created.reach_note)
    elif action == "join":
        print("joining: dialling the peers in the invite…", file=sys.stderr)
        joined = client.request(api.SwarmJoin(invite=args.invite))
        _print(args, joined, f"joined swarm {joined.name!r}: connected to {joined.connected} peer(s)")
    elif action == "invite":
        invite = client.request(api.SwarmInvite(name=args.name, expires_in=args.expires))
        _print(args, invite, invite.invite)
        _warn(args, invite.reach_note)
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
        if not all(s.running for s in listed.swarms) and client.request(api.Status()).identity == "locked":
            lines.append(locked_note(_home(args)))
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
