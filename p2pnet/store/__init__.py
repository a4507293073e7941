"""The node's SQLite store: every verified object, the swarms, the peers.

See docs/storage.md.  Synchronous and stdlib-only (plus :mod:`protocol`): the
node calls it from worker threads; nothing here knows trio or libp2p.
"""

from ._store import (
    FUTURE_SLACK,
    SCHEMA_VERSION,
    AmbiguousId,
    IngestResult,
    InvalidArgument,
    SchemaTooNew,
    Store,
    StoreClosed,
    StoreCorrupt,
    StoreError,
    Swarm,
    SwarmExists,
    UnknownId,
    UnknownSwarm,
    icon,
    popular_score,
)

__all__ = [
    "FUTURE_SLACK",
    "SCHEMA_VERSION",
    "AmbiguousId",
    "IngestResult",
    "InvalidArgument",
    "SchemaTooNew",
    "Store",
    "StoreClosed",
    "StoreCorrupt",
    "StoreError",
    "Swarm",
    "SwarmExists",
    "UnknownId",
    "UnknownSwarm",
    "icon",
    "popular_score",
]
