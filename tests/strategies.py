"""Hypothesis strategies for the protocol's wire objects."""

from __future__ import annotations

from hypothesis import strategies as st

import protocol
from protocol._objects import MIN_TIME, TIME_QUANTUM

# Any character but the forbidden control and bidi ones; surrogates cannot be UTF-8.
_chars = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)])
    + "\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    + "\u2066\u2067\u2068\u2069\ufeff",
)
_blank = " \t\n\u00a0\u200c\u200d\u3000"
texts = st.text(_chars | st.just("\n"), min_size=1, max_size=protocol.MAX_TEXT_CHARS).filter(
    lambda t: t.strip(_blank) and not t.isspace()
)
names = st.text(_chars, min_size=1, max_size=protocol.MAX_NAME_CHARS).filter(
    lambda t: t.strip(_blank) and not t.isspace()
)
times = st.integers(MIN_TIME // TIME_QUANTUM, (1 << 33) // TIME_QUANTUM).map(lambda q: q * TIME_QUANTUM)
seeds = st.binary(min_size=32, max_size=32)
ids = st.binary(min_size=32, max_size=32)
nonces = st.binary(min_size=16, max_size=16)


@st.composite
def signed_objects(draw: st.DrawFn) -> protocol.Signed:
    """A signed object of any kind, made through the public constructors."""
    seed = draw(seeds)
    now = draw(times) + draw(st.integers(0, TIME_QUANTUM - 1))
    kind = draw(st.sampled_from(["post", "reply", "heart", "flag", "delete"]))
    root = protocol.make_post(
        draw(st.one_of(st.just(seed), seeds)),
        draw(texts),
        now=now,
        bg=draw(st.sampled_from(protocol.PALETTE)),
        name=draw(st.none() | names),
        expires_in=draw(st.none() | st.integers(1, protocol.MAX_TTL)),
        nonce=draw(nonces),
    )
    if kind == "post":
        return root
    if kind == "reply":
        return protocol.make_reply(seed, root, draw(texts), now=now, parent=draw(st.none() | ids), nonce=draw(nonces))
    if kind == "heart":
        return protocol.make_heart(seed, draw(ids), now=now)
    if kind == "flag":
        return protocol.make_flag(seed, draw(ids), now=now, reason=draw(st.sampled_from(protocol.FLAG_REASONS)))
    mine = protocol.make_post(seed, "to be deleted", now=now, nonce=draw(nonces))
    return protocol.make_delete(seed, mine, now=now)
