"""The feed: live root posts, Latest (keyset pages) or Popular (scored in SQL, scan cut by age).

docs/storage.md, section 4, has the orders, the cursors and why the Popular
cutoff never changes the result.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from ._args import int_arg, now_arg
from ._db import Database
from ._errors import InvalidArgument
from ._mutes import muted_filter
from ._rows import ROOT_COLUMNS, FeedPage, RootRow, root_row

__all__ = ["Feed", "popular_score"]


def popular_score(hearts: int, placed: int, now: int) -> float:
    """Popular ranking: ``(hearts + 1) / (age_hours + 2) ** 1.5``, the age counted from the place, never negative.

    A post's place is the earlier of its ``created`` and when this node first
    saw it (docs/storage.md, section 4): a post dated ahead ages from its arrival.
    """
    age_hours = max(0, now - placed) / 3600
    return float((hearts + 1) / (age_hours + 2) ** 1.5)


# Popular orders by popular_score() = (h + 1) / (age_h + 2) ** 1.5.  Squaring a
# positive score keeps its order, and (h + 1)^2 / (age_h + 2)^3 needs no pow()
# (an optional SQLite build feature) and no Python callback per row.
_POPULAR_KEY = """((p.hearts + 1.0) * (p.hearts + 1.0)
    / ((max(0, :now - p.place) / 3600.0 + 2.0) * (max(0, :now - p.place) / 3600.0 + 2.0)
       * (max(0, :now - p.place) / 3600.0 + 2.0)))"""


class Feed(Database):
    """One page of the feed at a time."""

    def feed(
        self,
        *,
        swarm: bytes | None = None,
        popular: bool = False,
        limit: int = 50,
        before: Sequence[Any] | None = None,
        now: int | None = None,
    ) -> FeedPage:
        """One page of root posts, not deleted, not expired and not muted (``_mutes``).

        Latest is newest place first: a post's place is the earlier of its
        ``created`` and the 10-minute step in which this node first saw it, so
        a post dated ahead stands where it arrived.  Inside one step (all the
        wire says) the post that arrived here last comes first.  It is paged
        by keyset: the cursor is ``[place, arrival]`` of the last item,
        ``arrival`` being a local counter; neither leaves the node.  Popular
        orders by :func:`popular_score` computed in SQL; its cursor is
        ``[now, offset]``, so later pages score with the clock of page one.

        Args:
            swarm: only posts seen in this swarm (32-byte id); None for all.
            popular: Popular instead of Latest.
            limit: 1 to 500 items.
            before: the ``next`` cursor of the previous page, or None.
            now: the current Unix time (default: the clock).

        Returns:
            The page's rows and the ``next`` cursor (None after the last page).
        """
        now = now_arg(now)
        limit = int_arg(limit, "limit", 1, 500)
        with self._use() as conn:
            where = ["p.kind = 1", "(p.expires IS NULL OR p.expires > :now)"]
            args: dict[str, Any] = {"now": now, "limit": limit}
            if swarm is not None:
                args["swarm"] = self._swarm_arg(swarm)
                where.append("EXISTS (SELECT 1 FROM object_swarms s WHERE s.swarm = :swarm AND s.id = p.id)")
            muted, muted_args = muted_filter(conn)
            where += muted
            args.update(muted_args)
            if popular:
                offset = 0
                if before is not None:
                    if not (isinstance(before, Sequence) and len(before) == 2):
                        raise InvalidArgument("a Popular cursor is [now, offset]")
                    args["now"] = int_arg(before[0], "cursor time")
                    offset = int_arg(before[1], "cursor offset")
                args["offset"] = offset
                args["cutoff"] = self._popular_cutoff(conn, where, args, offset + limit)
                where.append("p.place >= :cutoff")
                # Rank from the covering index alone, then fetch the page's rows:
                # the wide rows (text) are read for `limit` posts, not for all.
                sql = (
                    f"WITH top AS (SELECT p.rid, {_POPULAR_KEY} AS score, p.place, p.id FROM posts p "
                    f"WHERE {' AND '.join(where)} ORDER BY score DESC, p.place DESC, p.id DESC "
                    "LIMIT :limit OFFSET :offset) "
                    f"SELECT {ROOT_COLUMNS} FROM top JOIN posts p ON p.rid = top.rid "
                    "ORDER BY top.score DESC, top.place DESC, top.id DESC"
                )
            else:
                if before is not None:
                    if not (isinstance(before, Sequence) and len(before) == 2):
                        raise InvalidArgument("a Latest cursor is [place, arrival]")
                    args["bc"] = int_arg(before[0], "cursor time")
                    args["br"] = int_arg(before[1], "cursor arrival")
                    where.append("(p.place, p.rid) < (:bc, :br)")
                sql = (
                    f"SELECT {ROOT_COLUMNS} FROM posts p WHERE {' AND '.join(where)} "
                    "ORDER BY p.place DESC, p.rid DESC LIMIT :limit"
                )
            rows = tuple(root_row(r) for r in conn.execute(sql, args))
            cursor: tuple[int, int] | None = None
            if len(rows) == limit and popular:
                cursor = (args["now"], args["offset"] + limit)
            elif len(rows) == limit:
                last = conn.execute("SELECT place, rid FROM posts WHERE id = ?", (rows[-1].id,)).fetchone()
                cursor = (last[0], last[1])
            return FeedPage(rows, cursor)

    def feed_items(self, ids: Sequence[bytes], *, now: int | None = None) -> dict[bytes, RootRow]:
        """The row of each live root post among ``ids``, as :meth:`feed` reads it; others are left out."""
        now = now_arg(now)
        wanted = [bytes(i) for i in ids]
        if not wanted:
            return {}
        with self._use() as conn:
            marks = ",".join("?" * len(wanted))
            rows = conn.execute(
                f"SELECT {ROOT_COLUMNS} FROM posts p WHERE p.id IN ({marks}) AND p.kind = 1 "
                "AND (p.expires IS NULL OR p.expires > ?)",
                [*wanted, now],
            ).fetchall()
        return {row.id: row for row in map(root_row, rows)}

    @staticmethod
    def _popular_cutoff(conn: sqlite3.Connection, where: list[str], args: dict[str, Any], k: int) -> int:
        """The oldest place that can still reach the top ``k`` of Popular.

        Any ``k`` posts score at least T = the lowest of their scores, so the
        k-th best overall does too; a post ``a`` hours old scores at most
        (max_hearts + 1) / (a + 2) ** 1.5, below T once a passes
        ((max_hearts + 1) / T) ** (2 / 3) - 2.  Taking the newest ``k`` posts
        for T keeps the scan to recent posts; an hour of slack covers rounding.
        """
        newest = conn.execute(
            f"SELECT p.hearts, p.place FROM posts p WHERE {' AND '.join(where)} "
            "ORDER BY p.place DESC, p.rid DESC LIMIT :k",
            {**args, "k": k},
        ).fetchall()
        if len(newest) < k:
            return 0  # fewer posts than the page reaches: scan them all
        now: int = args["now"]
        floor = min(popular_score(h, c, now) for h, c in newest)
        max_hearts = conn.execute("SELECT max(hearts) FROM posts WHERE kind = 1").fetchone()[0] or 0
        max_age_hours = ((max_hearts + 1) / floor) ** (2 / 3) - 2 + 1
        return max(0, now - int(max_age_hours * 3600))
