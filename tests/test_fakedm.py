"""The fake node's private messages behave as the node's (p2pnet/node/_dm.py, p2pnet/store/_messages.py)."""

from __future__ import annotations

import pytest

import protocol
from p2pnet import api
from p2pnet.api import ControlError
from tests.harness.fakedm import Mail
from tests.harness.fakenode import Model

NOW = 1_800_000_000


def _node(events: list[api.Event] | None = None) -> Model:
    model = Model(seed=protocol.new_seed(), clock=lambda: NOW)
    model.swarms["friends"] = b"k" * 32
    if events is not None:
        model.publish = events.append
    return model


def _call(model: Model, method: str, **params: object) -> api.Result:
    return model.dispatch(method, params)


def test_a_message_to_a_post_opens_only_for_its_author_and_the_answer_comes_back() -> None:
    a_events: list[api.Event] = []
    a, b, c = _node(a_events), _node(), _node()
    post = _call(a, "post", text="anyone up for chess?")
    assert isinstance(post, api.Published)
    Mail.carry(a, b, "friends")
    sent = _call(b, "dm", id=post.id, text="me! tonight?")
    assert isinstance(sent, api.DmSent)
    for other in (a, c):
        Mail.carry(b, other, "friends")
    assert a_events[-1] == api.DmEvent(conversation=sent.conversation)
    inbox = _call(a, "inbox")
    assert isinstance(inbox, api.InboxResult)
    assert inbox.unread == 1
    [talk] = inbox.conversations
    assert (talk.id, talk.about, talk.started, talk.preview) == (sent.conversation, post.id, False, "me! tonight?")
    assert _call(c, "inbox") == api.InboxResult(conversations=[], unread=0)  # C holds it and cannot open it
    read = _call(a, "conversation", id=sent.conversation[:8])
    assert isinstance(read, api.ConversationResult)
    assert [(m.mine, m.text) for m in read.messages] == [(False, "me! tonight?")]
    cleared = _call(a, "inbox")
    assert isinstance(cleared, api.InboxResult)
    assert (cleared.unread, cleared.conversations[0].unread) == (0, 0)  # reading cleared it
    _call(a, "dm", id=sent.conversation, text="8pm, the usual place")
    Mail.carry(a, b, "friends")
    back = _call(b, "conversation", id=sent.conversation)
    assert isinstance(back, api.ConversationResult)
    assert [(m.mine, m.text) for m in back.messages] == [(True, "me! tonight?"), (False, "8pm, the usual place")]
    assert back.conversation.answered and back.conversation.started


def test_writing_to_your_own_post_and_in_a_blocked_conversation_is_refused() -> None:
    a, b = _node(), _node()
    post = _call(a, "post", text="mine")
    assert isinstance(post, api.Published)
    with pytest.raises(ControlError) as own:
        _call(a, "dm", id=post.id, text="hello me")
    assert own.value.code == "bad_request" and "your own" in own.value.message
    Mail.carry(a, b, "friends")
    sent = _call(b, "dm", id=post.id, text="hi")
    assert isinstance(sent, api.DmSent)
    Mail.carry(b, a, "friends")
    info = _call(a, "conversation.block", id=sent.conversation)
    assert isinstance(info, api.ConversationInfo) and info.blocked
    assert _call(a, "inbox") == api.InboxResult(conversations=[], unread=0)
    with pytest.raises(ControlError) as blocked:
        _call(a, "dm", id=sent.conversation, text="still there?")
    assert blocked.value.code == "blocked"
    _call(b, "dm", id=sent.conversation, text="hello again")
    Mail.carry(b, a, "friends")  # nothing from a blocked conversation is kept
    _call(a, "conversation.block", id=sent.conversation, blocked=False)
    again = _call(a, "conversation", id=sent.conversation)
    assert isinstance(again, api.ConversationResult)
    assert [m.text for m in again.messages] == ["hi"]
    with pytest.raises(ControlError) as unknown:
        _call(a, "conversation", id="abcdef")
    assert unknown.value.code == "not_found"


def _published(model: Model, method: str, **params: object) -> api.Published:
    result = _call(model, method, **params)
    assert isinstance(result, api.Published)
    return result


def test_activity_lists_what_concerns_me_as_the_node_does() -> None:
    """The same story as tests/test_activity.py, told to the fake."""
    a, b, c = _node(), _node(), _node()
    mine = _published(a, "post", text="my question")
    theirs = _published(b, "post", text="b's own thread")
    elsewhere = _published(b, "post", text="a thread a never wrote in")
    for src, dst in ((a, b), (a, c), (b, a), (b, c)):
        Mail.carry(src, dst, "friends")
    in_theirs = _published(a, "reply", id=theirs.id, text="a writes in b's thread")
    Mail.carry(a, c, "friends")
    answer = _published(b, "reply", id=mine.id, text="b answers a")
    aside = _published(c, "reply", id=in_theirs.id, text="c answers a's reply")
    other = _published(c, "reply", id=theirs.id, text="c answers b, in a thread a wrote in")
    _published(c, "reply", id=elsewhere.id, text="nothing to do with a")
    heart = _published(c, "heart", id=mine.id)
    _call(a, "heart", id=mine.id)
    dm = _call(b, "dm", id=mine.id, text="privately, b")
    assert isinstance(dm, api.DmSent)
    for src in (b, c):
        Mail.carry(src, a, "friends")
    result = _call(a, "activity")
    assert isinstance(result, api.ActivityResult)
    got = {(i.kind, i.id): i for i in result.items}
    assert set(got) == {
        ("reply", answer.id),
        ("reply", aside.id),
        ("reply", other.id),
        ("heart", heart.id),
        ("message", dm.conversation),
    }
    assert got["reply", aside.id].about == in_theirs.id
    assert not got["reply", other.id].to_you
    assert got["heart", heart.id].text == "my question"
    assert got["message", dm.conversation].unread == 1
