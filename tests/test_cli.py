"""The command line against a fake node: what it says after each action, and that every hint works as written."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.fakenode import FakeNode, Model, fake_node

import protocol
from p2pnet.api import Home, NodeNotRunning, locked_note
from p2pnet.cli import _parser, main


@pytest.fixture
def node() -> Iterator[FakeNode]:
    with fake_node() as served:
        served.call("swarm.create", name="friends")
        yield served


def cli(node: FakeNode, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["--home", str(node.socket.parent), *args])
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


def test_heart_flag_and_delete_say_what_happened(node: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    post = cli(node, capsys, "post", "a thought")
    short = post[:10]
    assert cli(node, capsys, "heart", short).startswith(f"hearted {short}; the heart goes out into 1 swarm (heart ")
    assert cli(node, capsys, "flag", short, "--reason", "spam").startswith(f"flagged {short} as spam (flag ")
    said = cli(node, capsys, "delete", short)
    assert said.startswith(f"deleted {short}: each node erases it when the delete reaches it (delete ")
    assert json.loads(cli(node, capsys, "heart", cli(node, capsys, "post", "more"), "--json"))["published_to"] == 1


def test_the_feed_cursor_goes_back_in(node: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(5):
        cli(node, capsys, "post", f"post {i}")
    page = json.loads(cli(node, capsys, "feed", "--limit", "2", "--json"))
    assert [p["text"] for p in page["posts"]] == ["post 4", "post 3"]
    for given in (",".join(map(str, page["cursor"])), json.dumps(page["cursor"])):
        again = json.loads(cli(node, capsys, "feed", "--limit", "2", "--json", "--cursor", given))
        assert [p["text"] for p in again["posts"]] == ["post 2", "post 1"]
    shown = cli(node, capsys, "feed", "--limit", "4")
    more = shown.splitlines()[-1].removeprefix("more: ")
    words = runs_as_written(more, node.socket.parent)
    assert words[0] == "feed" and cli(node, capsys, *words).endswith("post 0")
    with pytest.raises(SystemExit):
        main(["--home", str(node.socket.parent), "feed", "--cursor", "soon"])
    assert "not a cursor" in capsys.readouterr().err


def test_search_brackets_the_matches(node: FakeNode, capsys: pytest.CaptureFixture[str]) -> None:
    cli(node, capsys, "post", "gone fishing")
    assert cli(node, capsys, "search", "fish").endswith("] gone [fishing]")


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
