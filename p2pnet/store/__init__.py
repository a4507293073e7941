"""The node's SQLite store: every verified object, the swarms, the peers.

See docs/storage.md.  Synchronous and stdlib-only (plus :mod:`protocol`): the
node calls it from worker threads; nothing here knows trio or libp2p.
"""

from ._bans import BanRow
from ._errors import (
    AmbiguousId,
    InvalidArgument,
    SchemaTooNew,
    StoreClosed,
    StoreCorrupt,
    StoreError,
    SwarmExists,
    UnknownId,
    UnknownSwarm,
)
from ._feed import popular_score
from ._ingest import IngestResult
from ._messages import ConversationRow, LineRow
from ._mutes import MAX_MUTED_WORDS
from ._quota import DEFAULT_QUOTA, MIN_QUOTA
from ._rows import (
    DEFAULT_FLAG_THRESHOLD,
    FeedPage,
    MuteRows,
    PeerRow,
    PostRow,
    RootRow,
    SearchRow,
    StampNeed,
    ThreadRows,
    UsageRow,
)
from ._schema import SCHEMA_VERSION
from ._store import Store
from ._swarms import Swarm

__all__ = [
    "DEFAULT_FLAG_THRESHOLD",
    "DEFAULT_QUOTA",
    "MAX_MUTED_WORDS",
    "MIN_QUOTA",
    "SCHEMA_VERSION",
    "AmbiguousId",
    "BanRow",
    "ConversationRow",
    "FeedPage",
    "IngestResult",
    "InvalidArgument",
    "LineRow",
    "MuteRows",
    "PeerRow",
    "PostRow",
    "RootRow",
    "SchemaTooNew",
    "SearchRow",
    "StampNeed",
    "Store",
    "StoreClosed",
    "StoreCorrupt",
    "StoreError",
    "Swarm",
    "SwarmExists",
    "ThreadRows",
    "UnknownId",
    "UnknownSwarm",
    "UsageRow",
    "popular_score",
]
