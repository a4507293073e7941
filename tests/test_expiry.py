"""Self-destruct times: only what the wire can honour is offered, and it is kept to the 10-minute mark."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import trio
import trio.testing
from harness.inproc import fake_nodes, join, stored
from harness.polling import until

import protocol
from p2pnet import api
from p2pnet.cli import main, parse_lifetime
from p2pnet.node import ApiError


@pytest.mark.parametrize("asked", ["1m", "599s", "9m", "31d", "5w"])
def test_the_cli_refuses_a_time_the_wire_cannot_keep(asked: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="10m to 30d"):
        parse_lifetime(asked)


def test_the_cli_says_why_before_asking_the_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--home", str(tmp_path), "post", "hello", "--expires", "1m"])
    assert exited.value.code == 2
    assert "10-minute steps" in capsys.readouterr().err
    assert [parse_lifetime(t) for t in ("10m", "1h", "30d")] == [600, 3600, protocol.MAX_TTL]


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.mark.trio
async def test_a_post_lives_until_the_first_ten_minute_mark_after_its_time(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with fake_nodes(tmp_path, 2) as (_, (a, b)):
        await join(a, [b])
        with pytest.raises(ApiError) as refused:
            await a.dispatch("post", {"text": "gone in a minute", "expires": 60})
        assert refused.value.code == "bad_request" and "600" in str(refused.value)
        asked = a.now() + 600
        post = await a.request(api.Post(text="gone soon", expires=600))
        item = (await a.request(api.Feed())).posts[0]
        assert item.id == post.id and asked <= item.expires < asked + protocol.TIME_QUANTUM
        assert item.expires % protocol.TIME_QUANTUM == 0
        await until(lambda: stored(b, post.id), "the post at b")
        await trio.sleep(item.expires - a.now() - 1)
        for node in (a, b):
            assert [p.id for p in (await node.request(api.Feed())).posts] == [post.id]
        await trio.sleep(1)
        for node in (a, b):
            assert (await node.request(api.Feed())).posts == [], "hidden from that second on, everywhere"
