"""The activity view on real nodes (store, pipelines, control API) on the in-memory network.

A posts and replies in B's thread; B and C answer, heart and write privately;
A's ``activity`` lists what concerns A, and only that, from A's store alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio.testing
from harness.inproc import fake_nodes, join, stored
from harness.polling import until

from p2pnet import api

pytestmark = pytest.mark.trio


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_replies_hearts_and_unread_messages_that_concern_me(
    tmp_path: Path, clock: trio.testing.MockClock
) -> None:
    async with fake_nodes(tmp_path, 3) as (_, (a, b, c)):
        await join(a, [b, c])
        mine = await a.request(api.Post(text="my question"))
        theirs = await b.request(api.Post(text="b's own thread"))
        elsewhere = await b.request(api.Post(text="a thread a never wrote in"))
        await until(lambda: stored(a, theirs.id) and stored(c, mine.id), "the posts everywhere")
        in_theirs = await a.request(api.Reply(id=theirs.id, text="a writes in b's thread"))
        await until(lambda: stored(b, in_theirs.id) and stored(c, in_theirs.id), "a's reply")
        answer = await b.request(api.Reply(id=mine.id, text="b answers a"))
        aside = await c.request(api.Reply(id=in_theirs.id, text="c answers a's reply"))
        other = await c.request(api.Reply(id=theirs.id, text="c answers b, in a thread a wrote in"))
        unrelated = await c.request(api.Reply(id=elsewhere.id, text="nothing to do with a"))
        heart = await c.request(api.Heart(id=mine.id))
        own_heart = await a.request(api.Heart(id=mine.id))
        dm = await b.request(api.Dm(id=mine.id, text="privately, b"))
        sent = [answer, aside, other, unrelated, heart, dm]
        await until(lambda: all(stored(a, x.id) for x in sent), "everything at a")
        await until(lambda: a.mailbox.opened == 1, "b's message opened")
        result = await a.request(api.Activity())
        assert isinstance(result, api.ActivityResult)
        got = {(i.kind, i.id): i for i in result.items}
        assert set(got) == {
            ("reply", answer.id),
            ("reply", aside.id),
            ("reply", other.id),
            ("heart", heart.id),
            ("message", dm.conversation),
        }  # not a's own heart nor the reply in a thread a never wrote in
        assert own_heart.id not in {i.id for i in result.items}
        assert (got["reply", answer.id].about, got["reply", answer.id].to_you) == (mine.id, True)
        assert (got["reply", aside.id].about, got["reply", aside.id].to_you) == (in_theirs.id, True)
        assert (got["reply", other.id].root, got["reply", other.id].to_you) == (theirs.id, False)
        assert (got["heart", heart.id].about, got["heart", heart.id].text) == (mine.id, "my question")
        message = got["message", dm.conversation]
        assert (message.about, message.unread, message.text, message.root) == (mine.id, 1, "privately, b", None)
        assert [i.when for i in result.items] == sorted((i.when for i in result.items), reverse=True)
        # Reading the conversation takes it off; a limit keeps the latest.
        await a.request(api.Conversation(id=dm.conversation))
        after = await a.request(api.Activity(limit=2))
        assert len(after.items) == 2 and all(i.kind != "message" for i in after.items)
        # C wrote in B's thread: A's reply there concerns C too, though it answers B.
        seen_by_c = await c.request(api.Activity())
        assert [(i.kind, i.id, i.to_you) for i in seen_by_c.items] == [("reply", in_theirs.id, False)]


async def test_what_the_user_muted_is_left_out_of_activity_too(tmp_path: Path, clock: trio.testing.MockClock) -> None:
    async with fake_nodes(tmp_path, 3) as (_, (a, b, c)):
        await join(a, [b, c])
        mine = await a.request(api.Post(text="my question"))
        second = await a.request(api.Post(text="another question"))
        await until(lambda: all(stored(n, p.id) for n in (b, c) for p in (mine, second)), "a's posts")
        rude = await b.request(api.Reply(id=mine.id, text="a rude answer"))
        kind = await c.request(api.Reply(id=mine.id, text="a kind answer"))
        spoiler = await c.request(api.Reply(id=second.id, text="spoiler: it ends well"))
        await until(lambda: all(stored(a, x.id) for x in (rude, kind, spoiler)), "the replies at a")

        async def shown() -> set[str]:
            return {i.id for i in (await a.request(api.Activity())).items if i.kind == "reply"}

        assert await shown() == {rude.id, kind.id, spoiler.id}
        await a.request(api.Mute(author=rude.id))  # b, in that thread
        await a.request(api.Mute(word="spoiler"))
        assert await shown() == {kind.id}
        await a.request(api.Mute(thread=mine.id))
        assert await shown() == set()
        await a.request(api.Unmute(word="spoiler"))
        assert await shown() == {spoiler.id}
