"""Every method of the control API with its params and result type, and every event: the contract's index.

The types are declared in :mod:`._contract` and :mod:`._local`; the node
dispatches on :data:`METHODS`, the clients parse events with :data:`EVENTS`.
"""

from __future__ import annotations

from typing import Any, get_args, get_origin

from ._activity import Activity
from ._contract import (
    Announce,
    Delete,
    Event,
    Feed,
    Flag,
    Heart,
    IdentityCreate,
    IdentityRestore,
    IdentityUnlock,
    JoinProgress,
    Lagged,
    ObjectEvent,
    Peers,
    Post,
    Purged,
    Reply,
    Request,
    Result,
    Search,
    Shutdown,
    Status,
    StoppingEvent,
    Subscribe,
    SwarmCreate,
    SwarmEvent,
    SwarmInvite,
    SwarmJoin,
    SwarmLeave,
    SwarmLeftEvent,
    SwarmList,
    Thread,
)
from ._dm import Conversation, ConversationBlock, Dm, DmEvent, Inbox
from ._local import Mute, MuteList, SwarmSet, Unmute

__all__ = ["EVENTS", "METHODS", "REQUESTS", "result_type"]


def result_type(request: type[Request[Any]]) -> type[Result]:
    """The result type of a request type (``Post`` -> ``Published``), from its ``Request[...]`` base."""
    for base in getattr(request, "__orig_bases__", ()):
        if get_origin(base) is Request:
            result: type[Result] = get_args(base)[0]
            return result
    raise TypeError(f"{request.__name__} does not name its result type")


REQUESTS: tuple[type[Request[Any]], ...] = (
    Status,
    IdentityCreate,
    IdentityRestore,
    IdentityUnlock,
    SwarmCreate,
    SwarmJoin,
    SwarmInvite,
    SwarmLeave,
    SwarmList,
    SwarmSet,
    Announce,
    Post,
    Reply,
    Heart,
    Flag,
    Delete,
    Feed,
    Thread,
    Search,
    Mute,
    Unmute,
    MuteList,
    Dm,
    Inbox,
    Conversation,
    ConversationBlock,
    Activity,
    Peers,
    Subscribe,
    Shutdown,
)

#: method name -> (params type, result type)
METHODS: dict[str, tuple[type[Request[Any]], type[Result]]] = {r.method: (r, result_type(r)) for r in REQUESTS}

#: event name -> data type
EVENTS: dict[str, type[Event]] = {
    e.event: e for e in (ObjectEvent, JoinProgress, SwarmEvent, SwarmLeftEvent, Purged, StoppingEvent, Lagged, DmEvent)
}
