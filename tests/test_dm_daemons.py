"""Private messages through the ``p2pnet`` command line, between real daemon processes over real sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness.daemons import DaemonProcess, daemons, join_swarm
from harness.polling import wait_for

pytestmark = pytest.mark.integration  # real daemon processes


def test_dm_inbox_conversation_activity_and_block_between_daemons(tmp_path: Path) -> None:
    with daemons(tmp_path, 3, first_ip=1, ip_prefix="127.0.32") as (a, b, c):
        join_swarm(a, [b, c])
        post_id = a.cli("post", "tell me privately").stdout.strip()
        wait_for(lambda: b.stored_ids() >= {post_id}, what="the post at b")
        sent = b.cli("dm", post_id[:12], "hello from the command line").stdout.strip()
        assert len(sent) == 64 and int(sent, 16) >= 0  # the new message's id, alone on its line

        def inbox(node: DaemonProcess) -> list[dict[str, Any]]:
            conversations: list[dict[str, Any]] = node.cli_json("inbox")["conversations"]
            return conversations

        (conversation,) = wait_for(lambda: inbox(a), what="b's message in a's inbox")
        assert (conversation["about"], conversation["unread"], conversation["started"]) == (post_id, 1, False)
        assert "hello from the command line" in a.cli("inbox").stdout
        activity = a.cli_json("activity")["items"]
        assert [(i["kind"], i["id"], i["unread"]) for i in activity] == [("message", conversation["id"], 1)]
        assert "✉ 1 unread in conversation" in a.cli("activity").stdout
        answer = a.cli("dm", conversation["id"][:10], "hello back").stdout.strip()
        talk = wait_for(
            lambda: (t := b.cli_json("conversation", conversation["id"]))["messages"][1:] and t,
            what="a's answer at b",
        )
        assert [(m["mine"], m["text"]) for m in talk["messages"]] == [
            (True, "hello from the command line"),
            (False, "hello back"),
        ]
        assert talk["messages"][1]["id"] == answer
        wait_for(lambda: c.stored_ids() >= {sent, answer}, what="both messages at c")
        assert inbox(c) == []
        said = a.cli("block", conversation["id"]).stdout.strip()
        assert said == f"conversation {conversation['id'][:12]} blocked"
        assert inbox(a) == []
        refused = a.cli("dm", conversation["id"], "no", check=False)
        assert refused.returncode != 0 and "blocked" in refused.stderr
