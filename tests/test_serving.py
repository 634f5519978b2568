"""The candidates serving table: how it is built, and that TAP never sees it half-built.

``sql.serving.publish`` builds ``serving.emitter_candidates`` for the current model beside the
live one and swaps it in. These tests check the built table (partitions mirror gaia.source,
rows in Q3C order, every index, the model stored once), when a build happens, and the swap
under a running query: the query finishes on the old table, queries arriving meanwhile see the
old table whole, and afterwards everything sees the new one.
"""

from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest
from tap_support import FIELD_CENTRE, seed_field, tap_settings

from sql import serving
from sql.database import migrate
from tap_service.query import tap_conninfo
from training.registry import set_current

N = 600


@pytest.fixture
def seeded(db_url: str) -> dict:
    return seed_field(db_url, N, xp_rows=0)


def served_rows(url: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT model_id, count(*), sum(score)::float8 FROM xpha.emitter_candidates"
            " GROUP BY model_id"
        ).fetchall()


def test_the_built_table_covers_the_sky_in_q3c_regions(db_url: str, seeded: dict) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        bounds = conn.execute(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c"
            " ON c.oid = i.inhrelid WHERE i.inhparent = 'serving.emitter_candidates'::regclass"
            " ORDER BY c.relname"
        ).fetchall()
        assert len(bounds) == 12
        assert "MINVALUE" in bounds[0][0] and "MAXVALUE" in bounds[-1][0]
        assert f"TO ('{1 << 59}')" in bounds[0][0]
        # every row of the current model, joined to its source
        assert conn.execute(
            "SELECT count(*) FROM serving.emitter_candidates c JOIN ml.emitter_scores e"
            " USING (source_id) JOIN gaia.source s USING (source_id)"
            " WHERE e.model_id = c.model_id AND e.score = c.score AND s.ra = c.ra"
            " AND s.bp_rp IS NOT DISTINCT FROM c.bp_rp"
        ).fetchone() == (N,)
        # a cone's rows lie on as few pages as they can (loaded in Q3C order)
        pages, rows, per_page = conn.execute(
            "SELECT count(DISTINCT (tableoid, (ctid::text::point)[0])), count(*),"
            " max(n) FROM serving.emitter_candidates c,"
            " LATERAL (SELECT count(*) AS n FROM serving.emitter_candidates d"
            "  WHERE d.tableoid = c.tableoid"
            "  AND (d.ctid::text::point)[0] = (c.ctid::text::point)[0]) p"
            " WHERE q3c_join(%s, %s, c.ra, c.dec, 1.2)",
            FIELD_CENTRE,
        ).fetchone()
        assert rows > 50 and pages <= rows / per_page + 3, (pages, rows, per_page)
        # the indexes TAP_SCHEMA promises, on every partition
        indexes = conn.execute(
            "SELECT c.relname, array_agg(pg_get_indexdef(x.indexrelid) ORDER BY 1)"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_index x ON x.indrelid = c.oid"
            " WHERE i.inhparent = 'serving.emitter_candidates'::regclass GROUP BY 1"
        ).fetchall()
        assert len(indexes) == 12
        for _, definitions in indexes:
            text = " ".join(definitions)
            for column in ("(source_id)", 'q3c_ang2ipix(ra, "dec")', "(probability)", "(score)"):
                assert column in text
        # the model's id, kind and version are stored once, in the catalogue, not per row
        missing = conn.execute(
            "SELECT attname, atthasmissing FROM pg_attribute a JOIN pg_inherits i"
            " ON i.inhrelid = a.attrelid WHERE i.inhparent = 'serving.emitter_candidates'::regclass"
            " AND attname LIKE 'model_%' GROUP BY 1, 2"
        ).fetchall()
        assert sorted(missing) == [
            ("model_id", True),
            ("model_kind", True),
            ("model_version", True),
        ]
    assert served_rows(db_url)[0][:2] == (seeded["current_model"], N)


def test_cones_and_crossmatches_read_one_region(db_url: str, seeded: dict) -> None:
    """Partition pruning on the Q3C pixel: when planned for a cone, per row for an upload."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT * FROM xpha.emitter_candidates c"
                " WHERE q3c_join(%s, %s, c.ra, c.dec, 0.5)",
                FIELD_CENTRE,
            ).fetchall()
        )
        assert len(set(re.findall(r" on (candidates_\w+)", plan))) <= 2, plan
        conn.execute("CREATE TEMP TABLE up AS SELECT ra, dec FROM gaia.source LIMIT 40")
        conn.execute("ANALYZE up")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM up m JOIN xpha.emitter_candidates c"
                " ON q3c_join(m.ra, m.dec, c.ra, c.dec, 1.0 / 3600)"
            ).fetchall()
        )
        loops = [int(x) for x in re.findall(r"Bitmap Heap Scan .*loops=(\d+)", plan)]
        assert sum(loops) <= 2 * 40, plan  # one or two regions per upload row, not twelve


def test_a_build_happens_only_when_the_data_changed(db_url: str, seeded: dict) -> None:
    current = seeded["current_model"]
    assert serving.publish(db_url) is None  # already served
    assert serving.publish(db_url, changed_model=seeded["dae_model"]) is None  # not current
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ml.emitter_scores SET score = score + 1 WHERE model_id = %s", (current,)
        )
    build = serving.publish(db_url, changed_model=current)  # its scores were rewritten
    assert build is not None and build.rows == N and build.model_id == current
    assert set(build.seconds) == {"load", "index", "analyze", "swap"}
    set_current(db_url, seeded["dae_model"])  # `xpha models set-current`
    [(model, n, _)] = served_rows(db_url)
    assert (model, n) == (seeded["dae_model"], N)
    with psycopg.connect(db_url, autocommit=True) as conn:
        kinds = conn.execute(
            "SELECT DISTINCT model_kind, model_version FROM xpha.emitter_candidates"
        ).fetchall()
        assert kinds == [("dae_head", "0.1.0")]
        # older models stay queryable, by model_id
        assert conn.execute(
            "SELECT count(*) FROM xpha.emitter_scores WHERE model_id = %s", (current,)
        ).fetchone() == (N,)
        # one live table: every build but the last was dropped
        assert conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = 'serving'"
            " AND c.relkind = 'p'"
        ).fetchone() == (1,)


def test_no_model_current_serves_an_empty_table(db_url: str, seeded: dict) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE ml.models SET is_current = false")
    build = serving.publish(db_url)
    assert build is not None and build.model_id is None and build.rows == 0
    assert served_rows(db_url) == []


def test_the_swap_waits_for_running_queries_and_tap_never_sees_a_half_table(
    db_url: str, seeded: dict
) -> None:
    tap = tap_conninfo(tap_settings(db_url), db_url)
    before = served_rows(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ml.emitter_scores SET score = -score WHERE model_id = %s",
            (seeded["current_model"],),
        )
    long_query = psycopg.connect(tap)  # a query still running on the live table: it holds it
    long_query.execute("SELECT count(*) FROM xpha.emitter_candidates").fetchone()
    result: dict = {}

    def rebuild() -> None:
        result["build"] = serving.publish(db_url, changed_model=seeded["current_model"])

    thread = threading.Thread(target=rebuild)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(db_url, autocommit=True) as conn:  # the build waits to swap
            while conn.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'"
            ).fetchone() == (0,):
                assert time.monotonic() < deadline and thread.is_alive()
                time.sleep(0.05)
        # queries arriving meanwhile wait at most one swap attempt and see the old table whole
        for _ in range(3):
            started = time.monotonic()
            assert served_rows(tap) == before
            assert time.monotonic() - started < 3 * serving.SWAP_LOCK_TIMEOUT_MS / 1000
        assert thread.is_alive()
        # the running query finishes normally on the table it started with
        assert long_query.execute(
            "SELECT sum(score)::float8 FROM xpha.emitter_candidates"
        ).fetchone() == (before[0][2],)
    finally:
        long_query.close()
        thread.join(timeout=60)
    assert result["build"].rows == N
    [(model, n, total)] = served_rows(tap)
    assert (model, n) == (seeded["current_model"], N)
    assert total == pytest.approx(-before[0][2], rel=1e-6)


def test_a_failed_build_leaves_the_live_table_and_is_cleaned_up(
    db_url: str, seeded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = served_rows(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ml.emitter_scores SET probability = NULL WHERE model_id = %s",
            (seeded["current_model"],),
        )
        # what a build killed half-way (a crash, Ctrl-C) leaves behind: a table never swapped in
        conn.execute("SELECT serving.create_candidates('candidates_b999')")
        conn.execute(
            "INSERT INTO serving.builds (build_id, relation, model_id)"
            " VALUES (999, 'candidates_b999', %s)",
            (seeded["current_model"],),
        )

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(serving, "_swap", interrupted)
    with pytest.raises(KeyboardInterrupt):
        serving.publish(db_url, changed_model=seeded["current_model"])
    assert served_rows(db_url) == before  # nothing live changed
    monkeypatch.undo()
    with psycopg.connect(db_url, autocommit=True) as conn:
        # the leftover was dropped when the build started, the interrupted one when it failed
        tables = conn.execute(
            "SELECT relname FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = 'serving'"
            " AND c.relkind = 'p' ORDER BY 1"
        ).fetchall()
        assert tables == [("emitter_candidates",)]
    assert serving.publish(db_url, changed_model=seeded["current_model"]) is not None
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT count(*) FROM xpha.emitter_candidates WHERE probability IS NULL"
        ).fetchone() == (N,)


def test_migrating_an_older_database_serves_its_current_model(
    db_url: str, seeded: dict, test_settings
) -> None:
    """A database scored before serving tables existed: migration 035 builds its table."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE serving.emitter_candidates CASCADE")
        conn.execute("DELETE FROM serving.builds")
        conn.execute("DELETE FROM public.xpha_migrations WHERE version IN (35, 41)")
    migrate(db_url, test_settings)
    assert served_rows(db_url)[0][:2] == (seeded["current_model"], N)
    assert serving.publish(db_url) is None
