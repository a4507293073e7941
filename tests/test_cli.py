"""The ``p2pnet`` command line against the fake node (tests/harness/fakenode.py): what a user reads.

The CLI is a client of the control API; the fake serves that API from an
in-memory model in this process, so each test takes a moment.  The CLI on
real daemons is covered by the integration tests (tests/test_swarm.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from harness.fakenode import FakeNode, fake_node

import protocol
from p2pnet import cli


@pytest.fixture
def fake() -> Iterator[FakeNode]:
    """A fake node with an identity and the swarm 'friends'."""
    with fake_node() as node:
        node.call("swarm.create", name="friends")
        yield node


def p2pnet(fake: FakeNode, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``p2pnet --home <the fake's home> ARGS``; its output, or a failure with what it said."""
    code = cli.main(["--home", str(fake.socket.parent), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_thread_names_what_a_reply_to_a_reply_answers(fake: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    now = int(time.time())
    root = protocol.make_post(bytes([9]) * 32, "Which book changed your mind?", now=now)
    said = "Thinking, Fast and Slow, for the way it names things."
    first = protocol.make_reply(bytes([10]) * 32, root, said, now=now)
    plain = protocol.make_reply(bytes([11]) * 32, root, "None yet.", now=now)
    answer = protocol.make_reply(bytes([12]) * 32, root, "Why that one?", now=now, parent=first.id)
    for signed in (root, first, plain, answer):
        fake.run(fake.model.arrive, signed, "friends")
    out = p2pnet(fake, capsys, "thread", root.id.hex()[:10])
    blocks = out.split("\n    [")
    assert [b.split("]")[0] for b in blocks[1:]] == [r.id.hex()[:12] for r in (first, plain, answer)]
    assert "replying to" not in blocks[1] + blocks[2]
    assert f"↳ replying to [{first.id.hex()[:12]}] “Thinking, Fast and Slow, for the way it…”" in blocks[3]


def test_a_swarm_s_quota_is_set_and_its_usage_shown(fake: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    said = p2pnet(fake, capsys, "swarm", "set", "friends").strip()
    assert said == "swarm 'friends': quota 256.0 MiB, flag threshold 3"
    said = p2pnet(fake, capsys, "swarm", "set", "friends", "--quota", "512K", "--flag-threshold", "5").strip()
    assert said == "swarm 'friends': quota 512.0 KiB, flag threshold 5"
    signed = protocol.make_post(bytes([9]) * 32, "one post", now=int(time.time()))
    fake.run(fake.model.arrive, signed, "friends")
    assert f"store friends: {len(signed.wire)} B of 512.0 KiB, 1 objects" in p2pnet(fake, capsys, "status")
    assert cli.main(["--home", str(fake.socket.parent), "swarm", "set", "friends", "--quota", "1K"]) == 1
    assert "quota must be at least 65536" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["swarm", "set", "friends", "--quota", "lots"])
    assert "'lots' is not a size like 512K, 256M or 1G" in capsys.readouterr().err


def test_mute_hide_and_a_collapsed_post(fake: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    now = int(time.time())
    spoiler = protocol.make_post(bytes([9]) * 32, "Spoilers: the butler did it", now=now)
    flagged = protocol.make_post(bytes([10]) * 32, "buy cheap watches", now=now)
    flags = [protocol.make_flag(bytes([20 + k]) * 32, flagged.id, now=now, reason="spam") for k in range(3)]
    for signed in (spoiler, flagged, *flags):
        fake.run(fake.model.arrive, signed, "friends")
    feed = p2pnet(fake, capsys, "feed")
    assert "⚑ collapsed: flagged 3 times in this swarm (--show-flagged shows it)" in feed
    assert "cheap watches" not in feed and "cheap watches" in p2pnet(fake, capsys, "feed", "--show-flagged")
    assert p2pnet(fake, capsys, "mute", "SPOILERS").strip() == "muted word: spoilers"
    assert "butler" not in p2pnet(fake, capsys, "feed", "--show-flagged")
    said = p2pnet(fake, capsys, "hide", flagged.id.hex()[:8])
    assert f"hidden thread [{flagged.id.hex()[:12]}] buy cheap watches" in said
    assert p2pnet(fake, capsys, "feed").strip() == "no posts yet"
    assert "(you hid this thread; p2pnet unhide" in p2pnet(fake, capsys, "thread", flagged.id.hex())
    p2pnet(fake, capsys, "unhide", flagged.id.hex())
    assert p2pnet(fake, capsys, "unmute", "spoilers").strip() == "nothing muted"
    assert cli.main(["--home", str(fake.socket.parent), "mute"]) == 2
    assert "give either a word (or words) or --author ID" in capsys.readouterr().err
    assert cli.main(["--home", str(fake.socket.parent), "unmute", "never-muted"]) == 1
    assert "that is not muted here" in capsys.readouterr().err
