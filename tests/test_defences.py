"""The pieces every defence is made of: the token bucket, the guard's bans, and bans kept in the store.

Buckets and offence counts run on trio's clock, so a MockClock moves them;
bans are wall-clock (they outlive the process), given here as a fake clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from p2pnet.net import Ban, Guard, GuardParams, Rate, TokenBucket
from p2pnet.net._bucket import Buckets
from p2pnet.store import BanRow, InvalidArgument, Store

pytestmark = pytest.mark.trio


@pytest.mark.parametrize("sent", [0, 1, 7, 10, 11, 50])
async def test_a_bucket_accepts_exactly_what_it_holds(mock_clock: trio.testing.MockClock, sent: int) -> None:
    bucket = TokenBucket(Rate(rate=2.0, burst=10))
    assert sum(bucket.take() for _ in range(sent)) == min(sent, 10)
    # After 3 s it has gained 6 tokens (never more than the burst).
    mock_clock.jump(3.0)
    left = max(0, 10 - sent)
    assert sum(bucket.take() for _ in range(sent)) == min(sent, min(10, left + 6))


async def test_a_bucket_refills_at_its_rate_and_says_how_long_to_wait(mock_clock: trio.testing.MockClock) -> None:
    bucket = TokenBucket(Rate(rate=0.5, burst=4))
    for _ in range(4):
        assert bucket.take()
    assert not bucket.take() and bucket.wait() == pytest.approx(2.0)
    mock_clock.jump(1.9)
    assert not bucket.take()
    mock_clock.jump(0.1)
    assert bucket.take()
    assert bucket.wait(5) == float("inf")  # more than it can ever hold
    mock_clock.jump(1000)
    assert bucket.available() == 4 and bucket.full
    bucket.spend(10)  # what was already used can overdraw it
    assert bucket.available() == -6 and bucket.wait(1) == pytest.approx(14.0)


async def test_buckets_per_key_forget_full_ones_first(mock_clock: trio.testing.MockClock) -> None:
    buckets = Buckets(Rate(rate=1.0, burst=2), max_keys=3)
    assert buckets.take("z") and buckets.take("z") and not buckets.take("z")
    # A stream of new keys whose buckets are full (a full bucket is a new one)
    # does not make the emptied one forget.
    for key in "abcdefgh":
        assert buckets[key].full
    assert not buckets.take("z")
    # A new key's bucket counts from its first take, however many keys there are.
    assert buckets.take("x") and buckets.take("x") and not buckets.take("x")
    # Only when every bucket kept is in use does the least recently used go.
    for key in "yw":
        buckets.take(key)
    assert buckets.take("z")


class WallClock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


async def test_offences_ban_a_peer_and_enough_banned_ids_ban_their_address(
    mock_clock: trio.testing.MockClock,
) -> None:
    wall = WallClock()
    stored: list[Ban] = []
    guard = Guard(GuardParams(offences=3, forgive=60, ban_seconds=3600, ip_strikes=2), on_ban=stored.append, now=wall)
    seen: list[Ban] = []
    guard.on_ban(seen.append)
    assert [guard.offence("p1", "10.0.0.9", "stem") for _ in range(3)] == [None] * 3
    ban = guard.offence("p1", "10.0.0.9", "stem")
    assert ban is not None and ban.peer_id == "p1" and ban.until == wall.t + 3600
    assert guard.banned("p1") == ban and guard.banned(ip="10.0.0.9") is None
    # Forgiven at the bucket's rate: one offence a minute never bans.
    for _ in range(10):
        mock_clock.jump(60)
        assert guard.offence("p2", "10.0.0.9", "sync") is None
    # A second id from the same address banned: the address is banned too.
    guard.ban("p3", "10.0.0.9", "gossip score -60")
    assert guard.banned("someone-new", "10.0.0.9") is not None
    assert [b.key for b in seen] == [b.key for b in stored] == ["peer:p1", "peer:p3", "ip:10.0.0.9"]
    wall.t += 3601
    assert guard.banned("p1") is None and guard.active() == []


async def test_bans_are_stored_and_come_back_until_they_end(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "node.sqlite3")
    try:
        store.save_ban(BanRow("12D3KooWpeer", "127.0.13.5", 2000, "stem"))
        store.save_ban(BanRow(None, "127.0.13.5", 3000, "ip"))
        store.save_ban(BanRow("12D3KooWpeer", "127.0.13.5", 2500, "sync"))  # replaces the first
        with pytest.raises(InvalidArgument):
            store.save_ban(BanRow(None, None, 1, "nothing"))
        assert store.bans(1000) == [
            BanRow("12D3KooWpeer", "127.0.13.5", 2500, "sync"),
            BanRow(None, "127.0.13.5", 3000, "ip"),
        ]
        assert store.bans(2600) == [BanRow(None, "127.0.13.5", 3000, "ip")]
    finally:
        store.close()
    reopened = Store.open(tmp_path / "node.sqlite3")
    try:
        assert reopened.bans(2600) == [BanRow(None, "127.0.13.5", 3000, "ip")]
        assert reopened.bans(3000) == []
    finally:
        reopened.close()
