"""The command line's private messages (dm, inbox, conversation, block, unblock) and what concerns you (activity)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Final

from .. import api

__all__ = ["DM_COMMANDS", "add_dm_commands", "dm_command"]

DM_COMMANDS: Final = ("dm", "inbox", "conversation", "block", "unblock", "activity")

Show = Callable[[argparse.Namespace, object, str], None]


def add_dm_commands(cmd: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Add the private-message subcommands with ``cmd(name, help)``, the main parser's own helper."""
    sp = cmd("dm", "write privately to the author of a post or reply, or in a conversation; prints the message id")
    sp.add_argument("id", help="a post or reply (its author), or a conversation id")
    sp.add_argument("text")
    cmd("inbox", "list your private conversations")
    sp = cmd("conversation", "read a private conversation")
    sp.add_argument("id", help="a conversation id or a unique prefix")
    for name, help_text in (
        ("block", "block a conversation: nothing from it is shown again; the other side is not told"),
        ("unblock", "unblock a conversation"),
    ):
        sp = cmd(name, help_text)
        sp.add_argument("id", help="a conversation id or a unique prefix")
    sp = cmd("activity", "replies to you and in your threads, hearts on your posts, unread messages (local only)")
    sp.add_argument("--limit", type=int, default=50, help="at most this many, the latest first (1 to 500)")


def _line(c: api.ConversationInfo) -> str:
    unread = f" ({c.unread} new)" if c.unread else ""
    who = "you wrote first" if c.started else "wrote to you"
    return f"[{c.id[:12]}] about {c.about[:12]}, {who}, {c.messages} messages{unread}: {c.preview or ''}"


def _activity_line(item: api.ActivityItem) -> str:
    if item.kind == "message":
        return f"✉ {item.unread} unread in conversation {item.id[:12]}: {item.text}"
    if item.kind == "heart":
        return f"♥ on your {item.about[:12]}: {item.text}"
    where = "to you" if item.to_you else "in your thread"
    return f"↩ reply {item.id[:12]} {where} (thread {(item.root or '')[:12]}): {item.text}"


def dm_command(args: argparse.Namespace, client: api.ControlClient, show: Show) -> None:
    """Run one private-message command through ``client``; ``show`` prints text or --json."""
    command = args.command
    if command == "dm":
        sent = client.request(api.Dm(id=args.id, text=args.text))
        show(args, sent, sent.id)
    elif command == "inbox":
        box = client.request(api.Inbox())
        show(args, box, "\n".join(_line(c) for c in box.conversations) or "no conversations yet")
    elif command == "conversation":
        talk = client.request(api.Conversation(id=args.id))
        lines = [_line(talk.conversation)]
        lines += [f"{'you' if m.mine else 'them'}: {m.text}" for m in talk.messages]
        show(args, talk, "\n".join(lines))
    elif command == "activity":
        done = client.request(api.Activity(limit=args.limit))
        show(args, done, "\n".join(_activity_line(i) for i in done.items) or "nothing new concerns you")
    else:
        info = client.request(api.ConversationBlock(id=args.id, blocked=command == "block"))
        show(args, info, f"conversation {info.id[:12]} {'blocked' if info.blocked else 'unblocked'}")
