"""A hostile swarm member cannot disturb delivery between honest nodes.

The attacker holds the swarm key (it was given an invite) and runs a raw
libp2p host that skips our validator on its own side, so it can publish
garbage, oversized payloads, bad signatures and objects from the future.
(Unstamped objects: tests/test_stamps.py.)
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import multiaddr
import pytest
import trio
from harness.daemons import DaemonProcess, daemons, hostile_peer
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.utils.varint import encode_varint_prefixed

import protocol

pytestmark = pytest.mark.integration  # real daemon processes

FIRST_IP = 10  # 127.0.0.10 .. 127.0.0.14


def _minted(signed: protocol.Signed, difficulty: int) -> protocol.Signed:
    return signed.with_stamp(protocol.mint_stamp(signed.id, difficulty) or b"")


def _hostile_payloads(difficulty: int) -> list[bytes]:
    # Minted for the swarm, so each is refused for its own fault and not at the stamp.
    good = _minted(protocol.make_post(os.urandom(32), "a perfectly normal post", now=1_763_700_000), difficulty)
    bad_sig = bytearray(good.wire)
    bad_sig[len(good.signed_bytes) + 5] ^= 0x40
    wrong_text = bytearray(good.wire)
    wrong_text[good.wire.index(b"normal")] ^= 0x01  # changes the text under the signature
    future = _minted(protocol.make_post(os.urandom(32), "from the future", now=4_000_000_000), difficulty)
    return [
        b"",
        b"garbage" * 10,
        os.urandom(4352),
        bytes(200_000),  # oversized
        bytes(bad_sig),
        bytes(wrong_text),
        future.wire,
        good.wire[:-1],
        good.wire + b"\x00",
    ]


async def _feed_ids(node: DaemonProcess) -> set[str]:
    page = await trio.to_thread.run_sync(node.cli_json, "feed", "--limit", "500")
    return {p["id"] for p in page["posts"]}


async def test_garbage_peer_does_not_disturb_honest_nodes(tmp_path: Path) -> None:
    with daemons(tmp_path, 3, first_ip=FIRST_IP) as nodes:
        invite_text = nodes[0].cli("swarm", "create", "circle").stdout.strip().splitlines()[-1]
        for node in nodes[1:]:
            node.cli("swarm", "join", invite_text)
        invite = protocol.decode_invite(invite_text, now=int(time.time()))
        async with hostile_peer(invite, f"127.0.0.{FIRST_IP + 3}", dial=len(invite.bootstrap)) as attacker:
            honest: list[str] = []
            for round_ in range(5):
                for payload in _hostile_payloads(invite.difficulty):
                    with contextlib.suppress(ValueError):  # too large even for our own host: never sent
                        await attacker.publish(payload)
                out = await trio.to_thread.run_sync(nodes[1].cli, "post", f"honest post {round_}")
                honest.append(out.stdout.strip())
            with trio.fail_after(60):
                for node in nodes:
                    while not set(honest) <= await _feed_ids(node):
                        await trio.sleep(0.2)
            for node in nodes:
                assert await _feed_ids(node) >= set(honest)
                status = await trio.to_thread.run_sync(node.call, "status")
                # only the honest posts were stored: nothing hostile got in
                assert status["counts"]["posts"] == len(honest)
            peers = await trio.to_thread.run_sync(nodes[0].call, "peers")
            invalid = peers["swarms"][0]["invalid"]
            assert invalid.get(attacker.peer_id, 0) > 0  # counted against the sender
        # A garbled RPC on a raw pubsub stream costs the sender that link, and the node nothing.
        # (A fresh peer on its own address: the first one may be banned by now, tests/hostile.)
        async with hostile_peer(invite, f"127.0.0.{FIRST_IP + 4}", dial=len(invite.bootstrap)) as garbler:
            info = info_from_p2p_addr(multiaddr.Multiaddr(invite.bootstrap[0]))
            stream = await garbler._host.new_stream(info.peer_id, ["/meshsub/1.1.0"])
            await stream.write(encode_varint_prefixed(b"\x0a\xff\xff\xff\xff\x0f not protobuf"))
            after = (await trio.to_thread.run_sync(nodes[2].cli, "post", "after the garbled RPC")).stdout.strip()
            with trio.fail_after(60):
                for node in nodes:
                    while after not in await _feed_ids(node):
                        await trio.sleep(0.2)
            for node in nodes:
                assert node.proc is not None and node.proc.poll() is None  # no daemon exited
