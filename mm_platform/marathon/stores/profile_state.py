"""What member_stats and the search index last published per coder (DW table
mmp_member_profile_state), and the lock that makes member_stats runs take turns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import Connection, bindparam, select, update

from mm_platform.core.sql import dialect_insert
from mm_platform.marathon.rules.member_stats import rank_fingerprint
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores.schema import MARATHON_RATING_TYPE_ID

state = dw.member_profile_state


def hold_lock(conn: Connection, name: str) -> None:
    """Until `conn`'s transaction ends, no other transaction holds the lock `name`. A member_stats run
    that read the DW before another round's load then finishes before the run that reads after it."""
    lock = dw.platform_lock
    conn.execute(dialect_insert(conn, lock).values(name=name).on_conflict_do_nothing(index_elements=["name"]))
    conn.execute(update(lock).where(lock.c.name == name).values(name=name))


def current_ranks(conn: Connection) -> dict[int, str]:
    """Every ranked coder's marathon rank rows (overall, active, country, school), as fingerprints:
    what a round's load can change in the stats items of members who did not take part in it."""
    ranks: dict[int, dict[object, tuple[int, float]]] = defaultdict(dict)
    for kind, table in (
        (None, dw.coder_rank),
        ("country", dw.country_coder_rank),
        ("school", dw.school_coder_rank),
    ):
        rows = conn.execute(
            select(table.c.coder_id, table.c.coder_rank_type_id, table.c.rank, table.c.percentile).where(
                table.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID
            )
        )
        for r in rows:
            key = r.coder_rank_type_id if kind is None else f"{kind}{r.coder_rank_type_id}"
            ranks[r.coder_id][key] = (r.rank, r.percentile)
    return {coder: rank_fingerprint(rows) for coder, rows in ranks.items()}


def published_ranks(conn: Connection) -> dict[int, str]:
    return dict(conn.execute(select(state.c.coder_id, state.c.ranks)).all())


def record_published(conn: Connection, ranks: Mapping[int, str]) -> None:
    """These coders' stats items were written, built with these rank rows: a new stats version."""
    if not ranks:
        return
    insert = dialect_insert(conn, state)
    statement = insert.on_conflict_do_update(
        index_elements=["coder_id"],
        set_={"ranks": insert.excluded.ranks, "stats_version": state.c.stats_version + 1},
    )
    rows = [{"coder_id": c, "ranks": r, "stats_version": 1, "indexed_version": 0} for c, r in ranks.items()]
    for start in range(0, len(rows), 1000):
        conn.execute(statement, rows[start : start + 1000])


def pending_index(conn: Connection) -> dict[int, int]:
    """Coders whose stats were published after the version the search index holds: coder -> version."""
    rows = conn.execute(
        select(state.c.coder_id, state.c.stats_version).where(state.c.stats_version > state.c.indexed_version)
    )
    return dict(rows.all())


def record_indexed(conn: Connection, versions: Mapping[int, int]) -> None:
    """The index holds these stats versions; a version published meanwhile stays pending."""
    if not versions:
        return
    statement = (
        update(state)
        .where(state.c.coder_id == bindparam("coder"), state.c.stats_version == bindparam("version"))
        .values(indexed_version=bindparam("version"))
    )
    conn.execute(statement, [{"coder": c, "version": v} for c, v in versions.items()])
