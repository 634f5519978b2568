"""The serving tables TAP reads: built beside the live ones, swapped in atomically.

``xpha.emitter_candidates`` is a view of one real table, ``serving.emitter_candidates``: the
current model's scores with the position and photometry of each source, in twelve sky regions
cut on the Q3C pixel (so cones and crossmatches read one or two), in Q3C order, indexed for
cones, crossmatches, TOP N and source_id lookups (migration 035 holds its DDL as SQL functions
and says why the regions are not gaia.source's). :func:`publish` makes it follow the current
model. It is called where the data behind it changes: after a model's scores are written and
after the current model changes.

A build never touches the live table: it fills a new one a gaia.source partition at a time
(two side by side), stamps the model, builds the indexes and ANALYZEs it, then swaps it in with
``serving.swap_candidates``. The swap waits for
the queries running on the live table to finish; it asks for its locks with a short
``lock_timeout`` and tries again, so queries arriving meanwhile wait at most that long.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from tqdm import tqdm

from sql.database import connect
from sql.errors import XphaError

BUILD_LOCK = 7_341_016  # pg_advisory_lock key: one build at a time
SWAP_LOCK_TIMEOUT_MS = 1000  # longest a TAP query waits behind one swap attempt
SWAP_DEADLINE_S = 600.0  # give up swapping after this long (a query kept the table busy)
FILL_JOBS = 2  # regions filled side by side (each is one INSERT ... SELECT ... ORDER BY)

SERVED_MODEL = (
    "SELECT model_id FROM serving.builds WHERE swapped_at IS NOT NULL"
    " ORDER BY swapped_at DESC, build_id DESC LIMIT 1"
)
CURRENT_MODEL = "SELECT model_id FROM ml.models WHERE is_current"
UNFINISHED_BUILDS = (
    "SELECT b.relation FROM serving.builds b WHERE b.swapped_at IS NULL"
    " AND to_regclass(format('serving.%I', b.relation)) IS NOT NULL"
)
NEW_BUILD = "INSERT INTO serving.builds (relation, model_id) VALUES ('', %s) RETURNING build_id"
NAME_BUILD = "UPDATE serving.builds SET relation = %s WHERE build_id = %s"
RECORD_BUILD = "UPDATE serving.builds SET rows = %s, seconds = %s WHERE build_id = %s"


class ServingError(XphaError):
    """A serving table could not be built or swapped in."""


@dataclass
class Build:
    """One candidates table built and swapped in: for the log and the benchmark."""

    build_id: int
    model_id: int | None
    rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def publish(url: str, changed_model: int | None = None) -> Build | None:
    """Make ``xpha.emitter_candidates`` show the current model's scores.

    Builds when the current model is not the one served, or when ``changed_model`` (whose
    scores were just written) is the current one; otherwise does nothing and returns None.
    """
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (BUILD_LOCK,))
        try:
            current = _one(conn, CURRENT_MODEL)
            served = _one(conn, SERVED_MODEL)
            if current == served and (changed_model is None or changed_model != current):
                return None
            return build(conn, url, current)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK,))


def build(conn: psycopg.Connection, url: str, model_id: int | None) -> Build:
    """Build the candidates of ``model_id`` (None: an empty table) and swap them in.

    ``conn`` is in autocommit mode and holds the build lock; ``FILL_JOBS`` more connections
    to ``url`` fill partitions side by side.
    """
    _drop_unfinished(conn)
    build_id = _one(conn, NEW_BUILD, (model_id,))
    assert build_id is not None, "INSERT ... RETURNING always gives its row"
    result = Build(build_id, model_id)
    relation = f"candidates_b{result.build_id}"
    conn.execute(NAME_BUILD, (relation, result.build_id))
    clock = time.perf_counter()
    try:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SELECT serving.create_candidates(%s)", (relation,))
        if model_id is not None:
            sources = [p for (p,) in conn.execute("SELECT serving.source_partitions()")]
            result.rows = _fill(url, relation, sources, model_id)
        clock = _lap(result, "load", clock)
        conn.execute("SELECT serving.stamp_candidates(%s, %s)", (relation, model_id))
        conn.execute("SELECT serving.index_candidates(%s)", (relation,))
        clock = _lap(result, "index", clock)
        # Statistics now (autovacuum never analyses a partitioned parent, and the planner
        # needs both); freezing and the visibility map are left to autovacuum.
        conn.execute(sql.SQL("ANALYZE serving.{}").format(sql.Identifier(relation)))
        clock = _lap(result, "analyze", clock)
        conn.execute(RECORD_BUILD, (result.rows, Jsonb(result.seconds), result.build_id))
        _swap(conn, relation, result.build_id)
        _lap(result, "swap", clock)
        conn.execute(RECORD_BUILD, (result.rows, Jsonb(result.seconds), result.build_id))
    except BaseException:
        _drop(conn, relation)
        raise
    return result


def _fill(url: str, relation: str, sources: list[str], model_id: int) -> int:
    """Add the candidates of every gaia.source partition, ``FILL_JOBS`` at a time."""
    bar = tqdm(total=len(sources), desc=f"serving table of model {model_id}", unit="region")
    local = threading.local()
    connections: list[psycopg.Connection] = []

    def fill(gaia_partition: str) -> int:
        if not hasattr(local, "conn"):
            local.conn = connect(url, autocommit=True)
            local.conn.execute("SET work_mem = '256MB'")  # each region's sort, in memory
            connections.append(local.conn)
        return (
            _one(
                local.conn,
                "SELECT serving.fill_candidates(%s, %s, %s)",
                (relation, gaia_partition, model_id),
            )
            or 0
        )

    rows = 0
    try:
        with ThreadPoolExecutor(FILL_JOBS) as pool:
            for done in as_completed([pool.submit(fill, p) for p in sources]):
                rows += done.result()
                bar.update()
                bar.set_postfix(rows=rows)
    finally:
        bar.close()
        for opened in connections:
            opened.close()
    return rows


def _swap(
    conn: psycopg.Connection, relation: str, build_id: int, deadline_s: float = SWAP_DEADLINE_S
) -> None:
    """Swap the built table in, retrying while running queries hold the live one."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(SWAP_LOCK_TIMEOUT_MS))
                conn.execute("SELECT serving.swap_candidates(%s, %s)", (relation, build_id))
            return
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
            if time.monotonic() > deadline:
                raise ServingError(
                    f"could not swap in the new candidates table within {deadline_s:g} s: "
                    "queries kept the live one busy; run the command again"
                ) from exc
            time.sleep(0.2)


def _drop_unfinished(conn: psycopg.Connection) -> None:
    """Tables of builds that never went live (a crash, a Ctrl-C): nobody reads them."""
    for (relation,) in conn.execute(UNFINISHED_BUILDS).fetchall():
        _drop(conn, relation)


def _drop(conn: psycopg.Connection, relation: str) -> None:
    # If the connection went with the build, the next build drops the table.
    with contextlib.suppress(psycopg.Error):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS serving.{}").format(sql.Identifier(relation)))


def _one(conn: psycopg.Connection, query: str, params: tuple = ()) -> int | None:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def _lap(result: Build, step: str, since: float) -> float:
    now = time.perf_counter()
    result.seconds[step] = round(now - since, 3)
    return now
