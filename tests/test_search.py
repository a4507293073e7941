"""Search by word beginnings (Store.find): "fish" finds "fishing", matches as offsets, user text never syntax."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_store import HOSTILE

import protocol
from p2pnet.store import InvalidArgument, SearchRow, Store
from p2pnet.store._search import prefix_query

NOW = 1_763_700_000
SEED, OTHER = bytes(range(32)), bytes(range(1, 33))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store.open(tmp_path / "node.db")
    yield st
    st.close()


def found(hits: list[SearchRow]) -> list[tuple[str, list[str]]]:
    """Each hit's text and the words its matches cover."""
    return [(h.text, [h.text[a:b] for a, b in h.matches]) for h in hits]


def test_words_match_the_words_they_begin(store: Store) -> None:
    sid = store.add_swarm("friends", bytes(32), 0, NOW).raw_id
    texts = ["gone fishing at dawn", "the nightlight glows", "Fish & chips, fish!", "a café in town", "lightly done"]
    posts = [protocol.make_post(SEED, t, now=NOW, nonce=bytes([i]) * 16) for i, t in enumerate(texts)]
    reply = protocol.make_reply(OTHER, posts[3], "which café? the fish one", now=NOW)
    store.ingest_many([(p, sid) for p in [*posts, reply]], NOW)

    assert sorted(found(store.find("fish", now=NOW))) == [
        ("Fish & chips, fish!", ["Fish", "fish"]),
        ("gone fishing at dawn", ["fishing"]),
        ("which café? the fish one", ["fish"]),
    ]
    assert found(store.find("night*", now=NOW)) == [("the nightlight glows", ["nightlight"])]
    assert found(store.find("light", now=NOW)) == [("lightly done", ["lightly"])], "a beginning, not any part"
    assert found(store.find("FI DA", now=NOW)) == [("gone fishing at dawn", ["fishing", "dawn"])], "words are ANDed"
    cafe = {h.id: h for h in store.find("CAFE", now=NOW)}
    assert set(cafe) == {posts[3].id, reply.id}
    assert cafe[reply.id].root == posts[3].id and cafe[reply.id].kind == protocol.KIND_REPLY
    assert [h.text[a:b] for h in store.find("caf", now=NOW) for a, b in h.matches] == ["café", "café"]
    assert store.find("a", now=NOW)[0].text == "a café in town", "one letter: whole words only"
    assert len(store.find("fish", limit=1, now=NOW)) == 1


def test_offsets_count_characters_not_bytes(store: Store) -> None:
    sid = store.add_swarm("friends", bytes(32), 0, NOW).raw_id
    store.ingest(protocol.make_post(SEED, "🎉 日本語 テキスト: naïve naïveté", now=NOW), sid, NOW)
    (hit,) = store.find("naive", now=NOW)
    assert [hit.text[a:b] for a, b in hit.matches] == ["naïve", "naïveté"]


def test_no_query_is_syntax(store: Store) -> None:
    sid = store.add_swarm("friends", bytes(32), 0, NOW).raw_id
    store.ingest(protocol.make_post(SEED, "meet me near the station AND bring (snacks)", now=NOW), sid, NOW)
    for query in HOSTILE:
        assert isinstance(store.find(query, now=NOW), list), query
    assert [found(store.find(q, now=NOW)) != [] for q in ("NEAR(", "(snack*", "bring AND", '"station')] == [True] * 4
    assert store.find("", now=NOW) == store.find("*** ()", now=NOW) == []
    assert prefix_query('say "hi"* x') == '"say"* """hi"""* "x"'
    with pytest.raises(InvalidArgument):
        store.find(None)  # type: ignore[arg-type]
