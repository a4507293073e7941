"""The errors the store raises: every failure is a :class:`StoreError`, never an :class:`sqlite3.Error`."""

from __future__ import annotations

__all__ = [
    "AmbiguousId",
    "InvalidArgument",
    "SchemaTooNew",
    "StoreClosed",
    "StoreCorrupt",
    "StoreError",
    "SwarmExists",
    "UnknownId",
    "UnknownSwarm",
]


class StoreError(Exception):
    """Base class of every error the store raises."""


class StoreCorrupt(StoreError):
    """The file is not a readable SQLite database, or fails its integrity check."""


class SchemaTooNew(StoreError):
    """The database was written by a newer p2pnet with a newer schema."""


class StoreClosed(StoreError):
    """The store was used after :meth:`Store.close`."""


class InvalidArgument(StoreError, ValueError):
    """A caller passed a value of the wrong type or shape."""


class AmbiguousId(StoreError):
    """An id prefix matches more than one object."""


class UnknownId(StoreError, LookupError):
    """No stored object has this id or id prefix."""


class UnknownSwarm(StoreError, LookupError):
    """No joined swarm has this name or id."""


class SwarmExists(StoreError):
    """A swarm with this name or key is already joined."""
