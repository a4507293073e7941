"""Real daemons in real processes on loopback: the swarm loop end to end.

Five ``p2pnet daemon`` processes, each with its own home and 127.0.0.N; one
creates a swarm, the others join with the invite key alone, and everything is
driven through the real CLI and control API.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness.daemons import LOW_DIFFICULTY, DaemonProcess, daemons, start_node
from harness.polling import wait_for

import protocol

pytestmark = pytest.mark.integration  # real daemon processes

FIRST_IP = 2  # this file uses 127.0.0.2 .. 127.0.0.9


def _feed(node: DaemonProcess) -> list[dict]:
    return node.cli_json("feed", "--limit", "500")["posts"]


def _feed_ids(node: DaemonProcess) -> set[str]:
    return {p["id"] for p in _feed(node)}


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("swarm")
    with daemons(base, 5, first_ip=FIRST_IP) as nodes:
        created = nodes[0].cli("swarm", "create", "friends", "--difficulty", LOW_DIFFICULTY).stdout.strip().splitlines()
        invite = created[-1]
        assert invite.startswith(protocol.INVITE_PREFIX)  # the invite key is the last line
        for node in nodes[1:]:
            joined = node.cli_json("swarm", "join", invite)
            assert joined["name"] == "friends" and joined["connected"] >= 1
        yield nodes, invite


def test_post_reply_heart_reach_every_node(swarm) -> None:
    nodes, _ = swarm
    post_id = nodes[1].cli("post", "the sea was warm today", "--bg", "ocean", "--name", "swimmer").stdout.strip()
    for node in nodes:
        wait_for(lambda node=node: post_id in _feed_ids(node), what=f"post on {node.home.name}")
    reply_id = nodes[3].cli("reply", post_id[:10], "jealous").stdout.strip()
    own_reply = nodes[1].cli("reply", post_id, "come along next time").stdout.strip()
    nodes[4].cli("heart", post_id)

    def complete(node: DaemonProcess) -> dict | None:
        thread = node.cli_json("thread", post_id)
        ids = {r["id"] for r in thread["replies"]}
        return thread if {reply_id, own_reply} <= ids and thread["root"]["hearts"] == 1 else None

    for node in nodes:
        thread = wait_for(lambda node=node: complete(node), what=f"thread on {node.home.name}")
        root = thread["root"]
        assert (root["text"], root["bg"], root["name"]) == ("the sea was warm today", "ocean", "swimmer")
        by_id = {r["id"]: r for r in thread["replies"]}
        assert by_id[own_reply]["is_author"] and not by_id[reply_id]["is_author"]  # the crown
        assert by_id[reply_id]["icon"] != by_id[own_reply]["icon"] or by_id[reply_id]["pubkey"] != root["pubkey"]
        assert root["mine"] == (node is nodes[1])
        feed_item = next(p for p in _feed(node) if p["id"] == post_id)
        assert feed_item["hearts"] == 1 and feed_item["replies"] == 2


def test_hundreds_of_posts_from_one_node_all_arrive(swarm) -> None:
    """The anonymous envelope needs a fresh seqno per message, or only the first one goes out."""
    nodes, _ = swarm
    sender = nodes[2]
    ids = [sender.call("post", text=f"burst {i}")["id"] for i in range(300)]
    for node in nodes:
        wait_for(lambda node=node: set(ids) <= _feed_ids(node), what=f"300 posts on {node.home.name}")


def test_delete_erases_everywhere(swarm) -> None:
    nodes, _ = swarm
    post_id = nodes[0].cli("post", "I regret this sentence").stdout.strip()
    for node in nodes:
        wait_for(lambda node=node: post_id in _feed_ids(node))
    refused = nodes[3].cli("delete", post_id, check=False)
    assert refused.returncode == 1 and "not yours" in refused.stderr
    nodes[0].cli("delete", post_id)
    for node in nodes:
        wait_for(lambda node=node: post_id not in _feed_ids(node), what=f"delete on {node.home.name}")
        assert node.cli_json("search", "regret")["results"] == []


def test_search_finds_gossiped_posts(swarm) -> None:
    nodes, _ = swarm
    nodes[4].cli("post", "penguins are underrated birds")
    hits = wait_for(lambda: nodes[0].cli_json("search", "pengu")["results"], what="search hit")
    assert hits[0]["text"] == "penguins are underrated birds" and hits[0]["matches"] == [[0, 8]]
    assert nodes[0].cli("search", "pengu").stdout.strip().endswith("[penguins] are underrated birds")


def test_stopped_node_reconnects_by_itself(swarm) -> None:
    nodes, _ = swarm
    node = nodes[4]
    node.stop()
    node.start()
    status = wait_for(
        lambda: node.call("status")["swarms"][0]["peers"] >= 1 and node.call("status"), what="redial after restart"
    )
    assert status["swarms"][0]["name"] == "friends"
    after = nodes[1].cli("post", "posted after node 4 came back").stdout.strip()
    wait_for(lambda: after in _feed_ids(node), what="gossip after reconnect")


def test_tampered_invite_is_refused_and_connects_nothing(swarm, tmp_path: Path) -> None:
    _, invite = swarm
    i = len(invite) // 2
    tampered = invite[:i] + ("a" if invite[i] != "a" else "b") + invite[i + 1 :]
    outsider = start_node(tmp_path / "outsider", f"127.0.0.{FIRST_IP + 6}")
    try:
        out = outsider.cli("swarm", "join", tampered, check=False)
        assert out.returncode == 1
        assert "checksum" in out.stderr and out.stderr.count("\n") <= 2
        assert outsider.cli_json("swarm", "list")["swarms"] == []
        assert outsider.call("peers")["swarms"] == []
    finally:
        outsider.stop()


def test_join_fails_clearly_when_no_peer_answers(tmp_path: Path) -> None:
    dead = "/ip4/127.0.0.250/tcp/9/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
    invite = protocol.encode_invite(protocol.Invite("ghosts", bytes(32), (dead,)))
    node = start_node(tmp_path / "lonely", f"127.0.0.{FIRST_IP + 7}")
    try:
        out = node.cli("swarm", "join", invite, check=False)
        assert out.returncode == 1 and "none of the 1 peers" in out.stderr
        assert node.cli_json("swarm", "list")["swarms"] == []  # nothing half-joined is kept
    finally:
        node.stop()


def test_cli_errors_are_one_clear_line(tmp_path: Path) -> None:
    node = DaemonProcess(tmp_path / "cli", "127.0.0.1")
    out = node.cli("status", check=False)
    assert out.returncode == 1 and "no p2pnet node is running" in out.stderr
    assert f"p2pnet --home {node.home} daemon" in out.stderr  # a hint that works as written
    assert out.stderr.count("\n") == 1
    out = node.cli("post", "x", "--expires", "soon", check=False)
    assert out.returncode == 2 and "not a duration" in out.stderr
    out = node.cli("post", "x", "--bg", "neon", check=False)
    assert out.returncode == 2


def test_json_output_is_json(swarm) -> None:
    nodes, _ = swarm
    for args in (["status"], ["peers"], ["swarm", "list"], ["feed"], ["feed", "--popular"], ["search", "sea"]):
        assert isinstance(nodes[0].cli_json(*args), dict), args
    assert json.loads(nodes[0].cli("swarm", "invite", "friends", "--json").stdout)["invite"].startswith("p2pnet-")
