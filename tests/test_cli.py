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
