"""The ``p2pnet`` command line against the fake node (tests/harness/fakenode.py): what a user reads.

The CLI is a client of the control API; the fake serves that API from an
in-memory model in this process, so each test takes a moment.  The CLI on
real daemons is covered by the integration tests (tests/test_swarm.py).

Also: what it says after each action, and that every hint works as written.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

import pytest
from harness.fakenode import FakeNode, Model, fake_node

import protocol
from p2pnet.api import Home, NodeNotRunning, locked_note
from p2pnet.cli import _parser, main


def cli(fake: FakeNode, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``p2pnet --home <the fake's home> ARGS``; its output, or a failure with what it said."""
    code = main(["--home", str(fake.socket.parent), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.strip()


def runs_as_written(hint: str, home: Path) -> list[str]:
    """The command a hint names parses as a p2pnet command line for ``home``; returns its words."""
    words = shlex.split(hint)
    assert words[0] == "p2pnet", hint
    args = _parser().parse_args(words[1:])
    assert args.home == str(home) and args.command, hint
    return words[3:]


def test_heart_flag_and_delete_say_what_happened(fake: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    post = cli(fake, capsys, "post", "a thought")
    short = post[:10]
    assert cli(fake, capsys, "heart", short).startswith(f"hearted {short}; the heart goes out into 1 swarm (heart ")
    assert cli(fake, capsys, "flag", short, "--reason", "spam").startswith(f"flagged {short} as spam (flag ")
    said = cli(fake, capsys, "delete", short)
    assert said.startswith(f"deleted {short}: each node erases it when the delete reaches it (delete ")
    assert json.loads(cli(fake, capsys, "heart", cli(fake, capsys, "post", "more"), "--json"))["published_to"] == 1


def test_the_feed_cursor_goes_back_in(fake: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(5):
        cli(fake, capsys, "post", f"post {i}")
    page = json.loads(cli(fake, capsys, "feed", "--limit", "2", "--json"))
    assert [p["text"] for p in page["posts"]] == ["post 4", "post 3"]
    for given in (",".join(map(str, page["cursor"])), json.dumps(page["cursor"])):
        again = json.loads(cli(fake, capsys, "feed", "--limit", "2", "--json", "--cursor", given))
        assert [p["text"] for p in again["posts"]] == ["post 2", "post 1"]
    shown = cli(fake, capsys, "feed", "--limit", "4")
    more = shown.splitlines()[-1].removeprefix("more: ")
    words = runs_as_written(more, fake.socket.parent)
    assert words[0] == "feed" and cli(fake, capsys, *words).endswith("post 0")
    with pytest.raises(SystemExit):
        main(["--home", str(fake.socket.parent), "feed", "--cursor", "soon"])
    assert "not a cursor" in capsys.readouterr().err


def test_search_brackets_the_matches(fake: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    cli(fake, capsys, "post", "gone fishing")
    assert cli(fake, capsys, "search", "fish").endswith("] gone [fishing]")


def test_a_locked_node_says_so_and_how_to_unlock(capsys: pytest.CaptureFixture[str]) -> None:
    model = Model(seed=protocol.new_seed(), passphrase="sesame", swarms={"friends": os.urandom(32)})
    with fake_node(model) as locked:
        status = cli(locked, capsys, "status")
        assert "no swarm runs and nothing syncs" in status
        listed = cli(locked, capsys, "swarm", "list")
        assert "not running" in listed and "unlock" in listed
        assert runs_as_written(listed.split("unlock it with: ")[1], locked.socket.parent) == ["unlock"]
        assert main(["--home", str(locked.socket.parent), "post", "hi"]) == 1
        assert "unlock it with: p2pnet --home" in capsys.readouterr().err


def test_every_hint_runs_as_written(tmp_path: Path) -> None:
    home = tmp_path / "a home with spaces"
    hints = {
        "unlock": locked_note(Home(home)).split("with: ")[1],
        "daemon": NodeNotRunning(home / "control.sock").message.split("with: ")[1],
        "announce": Home(home).command("announce", "IP"),
        "recover": Home(home).command("recover"),
    }
    for command, hint in hints.items():
        assert runs_as_written(hint, home)[0] == command


def test_thread_names_what_a_reply_to_a_reply_answers(fake: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    now = int(time.time())
    root = protocol.make_post(bytes([9]) * 32, "Which book changed your mind?", now=now)
    said = "Thinking, Fast and Slow, for the way it names things."
    first = protocol.make_reply(bytes([10]) * 32, root, said, now=now)
    plain = protocol.make_reply(bytes([11]) * 32, root, "None yet.", now=now)
    answer = protocol.make_reply(bytes([12]) * 32, root, "Why that one?", now=now, parent=first.id)
    for signed in (root, first, plain, answer):
        fake.run(fake.model.arrive, signed, "friends")
    out = cli(fake, capsys, "thread", root.id.hex()[:10])
    blocks = out.split("\n    [")
    assert [b.split("]")[0] for b in blocks[1:]] == [r.id.hex()[:12] for r in (first, plain, answer)]
    assert "replying to" not in blocks[1] + blocks[2]
    assert f"↳ replying to [{first.id.hex()[:12]}] “Thinking, Fast and Slow, for the way it…”" in blocks[3]


def test_a_swarm_s_quota_is_set_and_its_usage_shown(fake: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    said = cli(fake, capsys, "swarm", "set", "friends").strip()
    assert said == "swarm 'friends': quota 256.0 MiB, flag threshold 3"
    said = cli(fake, capsys, "swarm", "set", "friends", "--quota", "512K", "--flag-threshold", "5").strip()
    assert said == "swarm 'friends': quota 512.0 KiB, flag threshold 5"
    signed = protocol.make_post(bytes([9]) * 32, "one post", now=int(time.time()))
    fake.run(fake.model.arrive, signed, "friends")
    assert f"store friends: {len(signed.wire)} B of 512.0 KiB, 1 objects" in cli(fake, capsys, "status")
    assert main(["--home", str(fake.socket.parent), "swarm", "set", "friends", "--quota", "1K"]) == 1
    assert "quota must be at least 65536" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["swarm", "set", "friends", "--quota", "lots"])
    assert "'lots' is not a size like 512K, 256M or 1G" in capsys.readouterr().err


def test_mute_hide_and_a_collapsed_post(fake: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    now = int(time.time())
    spoiler = protocol.make_post(bytes([9]) * 32, "Spoilers: the butler did it", now=now)
    flagged = protocol.make_post(bytes([10]) * 32, "buy cheap watches", now=now)
    flags = [protocol.make_flag(bytes([20 + k]) * 32, flagged.id, now=now, reason="spam") for k in range(3)]
    for signed in (spoiler, flagged, *flags):
        fake.run(fake.model.arrive, signed, "friends")
    feed = cli(fake, capsys, "feed")
    assert "⚑ collapsed: flagged 3 times in this swarm (--show-flagged shows it)" in feed
    assert "cheap watches" not in feed and "cheap watches" in cli(fake, capsys, "feed", "--show-flagged")
    assert cli(fake, capsys, "mute", "SPOILERS").strip() == "muted word: spoilers"
    assert "butler" not in cli(fake, capsys, "feed", "--show-flagged")
    said = cli(fake, capsys, "hide", flagged.id.hex()[:8])
    assert f"hidden thread [{flagged.id.hex()[:12]}] buy cheap watches" in said
    assert cli(fake, capsys, "feed").strip() == "no posts yet"
    assert "(you hid this thread; p2pnet unhide" in cli(fake, capsys, "thread", flagged.id.hex())
    cli(fake, capsys, "unhide", flagged.id.hex())
    assert cli(fake, capsys, "unmute", "spoilers").strip() == "nothing muted"
    assert main(["--home", str(fake.socket.parent), "mute"]) == 2
    assert "give either a word (or words) or --author ID" in capsys.readouterr().err
    assert main(["--home", str(fake.socket.parent), "unmute", "never-muted"]) == 1
    assert "that is not muted here" in capsys.readouterr().err
