"""The contract of what stays on the node: mutes, and this node's own settings of a swarm.

Nothing these requests change is ever sent (docs/control-api.md, ``mute``
and ``swarm.set``); they are types like every other of the contract.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from ._contract import Icon, Request, Result

__all__ = ["Mute", "MuteList", "MutedAuthor", "MutedThread", "Mutes", "SwarmSet", "SwarmSettings", "Unmute"]


class SwarmSettings(Result):
    """This node's own settings of a swarm: never sent."""

    name: str
    quota: int  # the most wire bytes its objects may take here
    flag_threshold: int  # flags that collapse a post seen in it


class SwarmSet(Request[SwarmSettings]):
    method: ClassVar[str] = "swarm.set"
    name: str
    quota: Annotated[int, msgspec.Meta(ge=1)] | None = None  # bytes; the store takes 65,536 at least
    flag_threshold: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None


class MutedAuthor(Result):
    """A writer muted in one thread: their thread key, the thread, and the icon it showed them with."""

    key: str
    thread: str
    icon: Icon


class MutedThread(Result):
    id: str  # the thread's first post
    text: str | None  # its first words, or None when it is no longer stored here


class Mutes(Result):
    """Everything muted on this node; none of it is ever sent."""

    words: list[str]
    authors: list[MutedAuthor]
    threads: list[MutedThread]


class Mute(Request[Mutes]):
    method: ClassVar[str] = "mute"
    word: str | None = None  # a word, or words as a phrase
    author: str | None = None  # the id of a post or reply: its writer, in its thread
    thread: str | None = None  # the id of a post or reply: its whole thread


class Unmute(Request[Mutes]):
    method: ClassVar[str] = "unmute"
    word: str | None = None
    author: str | None = None  # as for mute, or the key that `mutes` lists
    thread: str | None = None


class MuteList(Request[Mutes]):
    method: ClassVar[str] = "mutes"
