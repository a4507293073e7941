"""The database schema, as the migrations that build it (docs/storage.md, section 2)."""

from __future__ import annotations

from typing import Final

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION"]

SCHEMA_VERSION: Final = 6
APPLICATION_ID: Final = 0x7032706E  # "p2pn": tells our files from other SQLite files
# Each entry migrates the schema from version i to i + 1, inside one transaction.
# Never edit a released entry: append a new one.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE swarms (
            id      BLOB PRIMARY KEY CHECK (length(id) = 32),
            name    TEXT NOT NULL UNIQUE,
            psk     BLOB NOT NULL CHECK (length(psk) = 32),
            port    INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
            joined  INTEGER NOT NULL
        )""",
        """CREATE TABLE objects (
            rid     INTEGER PRIMARY KEY,
            id      BLOB NOT NULL UNIQUE,
            kind    INTEGER NOT NULL,
            pubkey  BLOB NOT NULL,
            created INTEGER NOT NULL,
            wire    BLOB NOT NULL
        )""",
        """CREATE TABLE object_swarms (
            swarm   BLOB NOT NULL REFERENCES swarms(id) ON DELETE CASCADE,
            id      BLOB NOT NULL,
            PRIMARY KEY (swarm, id)
        ) WITHOUT ROWID""",
        "CREATE INDEX object_swarms_id ON object_swarms(id)",
        """CREATE TABLE posts (
            rid     INTEGER PRIMARY KEY,
            id      BLOB NOT NULL UNIQUE,
            kind    INTEGER NOT NULL CHECK (kind IN (1, 2)),
            pubkey  BLOB NOT NULL,
            created INTEGER NOT NULL,
            text    TEXT NOT NULL,
            bg      TEXT,
            name    TEXT,
            expires INTEGER,
            root    BLOB,
            parent  BLOB,
            hearts  INTEGER NOT NULL DEFAULT 0,
            flags   INTEGER NOT NULL DEFAULT 0,
            replies INTEGER NOT NULL DEFAULT 0
        )""",
        # Latest walks this index; Popular scans it without touching the wide rows.
        # rid is local arrival order: it orders posts inside one 10-minute time step.
        "CREATE INDEX posts_latest ON posts(created DESC, rid DESC, hearts, expires) WHERE kind = 1",
        "CREATE INDEX posts_hearts ON posts(hearts) WHERE kind = 1",  # max(hearts) bounds the Popular scan
        "CREATE INDEX posts_thread ON posts(root, created, id) WHERE kind = 2",
        "CREATE INDEX posts_expires ON posts(expires) WHERE expires IS NOT NULL",
        """CREATE VIRTUAL TABLE search USING fts5(
            text, content='posts', content_rowid='rid', tokenize='unicode61 remove_diacritics 2'
        )""",
        """CREATE TABLE hearts (
            target  BLOB NOT NULL,
            pubkey  BLOB NOT NULL,
            id      BLOB NOT NULL UNIQUE,
            created INTEGER NOT NULL,
            PRIMARY KEY (target, pubkey)
        ) WITHOUT ROWID""",
        """CREATE TABLE flags (
            target  BLOB NOT NULL,
            pubkey  BLOB NOT NULL,
            id      BLOB NOT NULL UNIQUE,
            created INTEGER NOT NULL,
            reason  TEXT NOT NULL,
            PRIMARY KEY (target, pubkey)
        ) WITHOUT ROWID""",
        """CREATE TABLE tombstones (
            id      BLOB PRIMARY KEY,
            target  BLOB NOT NULL,
            pubkey  BLOB NOT NULL,
            created INTEGER NOT NULL,
            applied INTEGER NOT NULL CHECK (applied IN (0, 1))
        ) WITHOUT ROWID""",
        "CREATE INDEX tombstones_target ON tombstones(target)",
        """CREATE TABLE erased (
            id      BLOB PRIMARY KEY,
            pubkey  BLOB NOT NULL,
            reason  TEXT NOT NULL CHECK (reason IN ('deleted', 'expired'))
        ) WITHOUT ROWID""",
        """CREATE TABLE peers (
            swarm     BLOB NOT NULL REFERENCES swarms(id) ON DELETE CASCADE,
            peer_id   TEXT NOT NULL,
            addrs     TEXT NOT NULL,
            last_seen INTEGER NOT NULL,
            failures  INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (swarm, peer_id)
        ) WITHOUT ROWID""",
        "CREATE TABLE own (id BLOB PRIMARY KEY) WITHOUT ROWID",
    ),
    (
        # Own objects not yet seen coming back through gossip (still on the
        # stem): never listed or handed to peers, re-sent after a restart.
        "CREATE TABLE held (id BLOB PRIMARY KEY) WITHOUT ROWID",
    ),
    (
        # Proof-of-work stamps (docs/protocol.md, section 13).  Every swarm
        # stored so far was joined by a version 1 invite, which means 18 bits.
        """ALTER TABLE swarms ADD COLUMN difficulty INTEGER NOT NULL DEFAULT 18
            CHECK (difficulty BETWEEN 0 AND 32)""",
        # The stored stamp's leading zero bits.  Objects stored so far are
        # version 1 (no stamp) or were never minted: 0.
        "ALTER TABLE objects ADD COLUMN work INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # Bans that outlive a restart (docs/gossip-notes.md, "Defences"): a
        # peer id, or an IP address (peer_id NULL); a peer's ban names the
        # address it came from, so bans of many ids from one address add up.
        """CREATE TABLE bans (
            peer_id TEXT CHECK (peer_id IS NULL OR length(peer_id) BETWEEN 1 AND 128),
            ip      TEXT CHECK (ip IS NULL OR length(ip) BETWEEN 1 AND 64),
            until   INTEGER NOT NULL,
            reason  TEXT NOT NULL,
            CHECK (peer_id IS NOT NULL OR ip IS NOT NULL)
        )""",
        "CREATE UNIQUE INDEX bans_key ON bans(coalesce(peer_id, 'ip:' || ip))",
    ),
    (
        # When this node first saw each post and reply, coarsened to the
        # 10-minute step: a post's place in Latest and in its thread is the
        # earlier of its claimed time and that, so a post dated ahead cannot
        # hold the top.  The order inside a step is rid; no arrival second is
        # kept.  Rows stored before: first seen unknown, taken as created (the
        # order they had).
        "ALTER TABLE posts ADD COLUMN seen INTEGER NOT NULL DEFAULT 0",
        "UPDATE posts SET seen = created",
        "ALTER TABLE posts ADD COLUMN place INTEGER GENERATED ALWAYS AS (min(created, seen)) VIRTUAL",
        "DROP INDEX posts_latest",
        "CREATE INDEX posts_latest ON posts(place DESC, rid DESC, hearts, expires) WHERE kind = 1",
        "DROP INDEX posts_thread",
        "CREATE INDEX posts_thread ON posts(root, place, rid) WHERE kind = 2",
        # The store quota per swarm (docs/storage.md, section 7).  NULL: the
        # node's default, so a better default later reaches every swarm that
        # was not given its own.
        "ALTER TABLE swarms ADD COLUMN quota INTEGER CHECK (quota IS NULL OR quota > 0)",
        # What each swarm's objects take.  Ingest adds to it once per swarm and
        # transaction (a trigger per insert cost a fifth of the ingest rate);
        # a trigger takes off what any erase, eviction or leaving drops.
        """CREATE TABLE usage (
            swarm   BLOB PRIMARY KEY REFERENCES swarms(id) ON DELETE CASCADE,
            objects INTEGER NOT NULL,
            bytes   INTEGER NOT NULL
        ) WITHOUT ROWID""",
        """INSERT INTO usage(swarm, objects, bytes)
            SELECT s.swarm, count(*), sum(length(o.wire)) FROM object_swarms s JOIN objects o ON o.id = s.id
            GROUP BY s.swarm""",
        """CREATE TRIGGER usage_drop AFTER DELETE ON object_swarms BEGIN
            UPDATE usage SET objects = objects - 1,
                bytes = bytes - coalesce((SELECT length(wire) FROM objects WHERE id = OLD.id), 0)
                WHERE swarm = OLD.swarm;
        END""",
        # Objects evicted to keep a quota, remembered for a while in each swarm
        # they were in: refused if they come again, and listed to sync as held
        # (never served), so it does not fetch them back at once.
        """CREATE TABLE evicted (
            id      BLOB NOT NULL,
            swarm   BLOB NOT NULL REFERENCES swarms(id) ON DELETE CASCADE,
            created INTEGER NOT NULL,
            until   INTEGER NOT NULL,
            PRIMARY KEY (id, swarm)
        ) WITHOUT ROWID""",
        "CREATE INDEX evicted_swarm ON evicted(swarm, created, id)",
        "CREATE INDEX evicted_until ON evicted(until)",
        # Moderation, local and anonymous (docs/storage.md, section 4): the
        # flags that collapse a post here (NULL: the default), and what the
        # user muted.  Never sent: muted posts are still stored, relayed and
        # served, so no peer can tell.
        "ALTER TABLE swarms ADD COLUMN flag_threshold INTEGER CHECK (flag_threshold IS NULL OR flag_threshold > 0)",
        "CREATE TABLE muted_words (word TEXT PRIMARY KEY) WITHOUT ROWID",
        "CREATE TABLE muted_keys (pubkey BLOB PRIMARY KEY, root BLOB NOT NULL) WITHOUT ROWID",
        "CREATE TABLE hidden_threads (root BLOB PRIMARY KEY) WITHOUT ROWID",
    ),
    (
        # Private messages (docs/protocol.md, section 14).  The sealed objects
        # themselves are rows of `objects` (kind 16) like any other, kept for
        # their lifetime and then purged.  What this node opened or sent stays
        # here, local: never served, never sent.
        """CREATE TABLE conversations (
            id        BLOB PRIMARY KEY CHECK (length(id) = 32),
            mine      BLOB NOT NULL UNIQUE CHECK (length(mine) = 32),
            basis     BLOB NOT NULL CHECK (length(basis) = 32),
            peer      BLOB NOT NULL CHECK (length(peer) = 32),
            addressed BLOB NOT NULL CHECK (length(addressed) = 32),
            about     BLOB NOT NULL CHECK (length(about) = 32),
            started   INTEGER NOT NULL CHECK (started IN (0, 1)),
            answered  INTEGER NOT NULL DEFAULT 0 CHECK (answered IN (0, 1)),
            blocked   INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
            unread    INTEGER NOT NULL DEFAULT 0,
            last      INTEGER NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX conversations_last ON conversations(last)",
        """CREATE TABLE dm_lines (
            id           BLOB NOT NULL UNIQUE,
            conversation BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            mine         INTEGER NOT NULL CHECK (mine IN (0, 1)),
            sent         INTEGER NOT NULL,
            seen         INTEGER NOT NULL,
            text         TEXT NOT NULL
        )""",
        "CREATE INDEX dm_lines_conversation ON dm_lines(conversation, seen)",
        "CREATE INDEX objects_messages ON objects(created) WHERE kind = 16",
    ),
)
assert len(MIGRATIONS) == SCHEMA_VERSION
