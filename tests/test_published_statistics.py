"""True sizes and the candidates' pre-aggregates, counted when the data change.

The landing page once showed ~476,000 candidates (the base table of every model's scores) for
a current model that had scored 119,000. Here each size in TAP_SCHEMA, VOSI (read by pyvo) and
on the landing page must equal ``SELECT COUNT(*)`` of the relation, after the real data-change
points (ingest, set-current), and the pictures' aggregates must equal the same counts taken
from the rows at every threshold. The page and its pictures must work with the candidates
unreadable: they never read them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
import pyvo
from tap_support import live_server, seed_field, tap_settings

from sql import candidate_summary as summary
from sql import serving
from sql.published_statistics import refresh_published_statistics
from tap_service.query import tap_conninfo

N_SOURCES = 900
REAL_XP = (
    Path(__file__).resolve().parent.parent / "ingest/data/real/gaiaxpy_tests/XP_CONTINUOUS_RAW.fits"
)


def sizes(url: str) -> dict[str, int | None]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT table_name, nrows FROM tap_schema.tables"))


def true_counts(url: str, names) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            n: conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0]  # type: ignore[index]
            for n in names
        }


def test_a_fresh_database_has_exact_sizes(db_url: str) -> None:
    published = sizes(db_url)
    assert len(published) == 12
    assert published == true_counts(db_url, published)
    assert published["xpha.emitter_candidates"] == 0 and published["tap_schema.tables"] == 12


def seed_reported_case(url: str) -> str:
    """Two models; the current one scored a third of the sources (the reported case)."""
    data = seed_field(url, N_SOURCES, xp_rows=100)
    with psycopg.connect(url) as conn:
        conn.execute(
            "DELETE FROM ml.emitter_scores WHERE model_id = %(m)s AND source_id NOT IN"
            " (SELECT source_id FROM ml.emitter_scores WHERE model_id = %(m)s"
            "  ORDER BY source_id LIMIT %(keep)s)",
            {"m": data["current_model"], "keep": N_SOURCES // 3},
        )
    serving.publish(url, changed_model=data["current_model"])  # as score_all: build, then count
    with psycopg.connect(url) as conn:
        refresh_published_statistics(conn)
    return url


@pytest.fixture(scope="module")
def scored(module_db_url: str) -> str:
    """The reported case, shared by the tests that only read."""
    return seed_reported_case(module_db_url)


@pytest.fixture
def changing(db_url: str) -> str:
    """The reported case in a database of its own, for a test that changes it."""
    return seed_reported_case(db_url)


def test_sizes_are_what_each_relation_returns(scored: str) -> None:
    published = sizes(scored)
    assert published == true_counts(scored, published)
    assert published["xpha.emitter_candidates"] == N_SOURCES // 3
    assert published["xpha.emitter_scores"] == N_SOURCES + N_SOURCES // 3


def test_set_current_and_ingest_recount_what_they_changed(changing: str) -> None:
    from ingest.gaia_xp import ingest_xp
    from training.registry import set_current

    with psycopg.connect(changing) as conn:
        other = conn.execute("SELECT model_id FROM ml.models WHERE NOT is_current").fetchone()[0]
        before = dict(conn.execute("SELECT table_name, counted_at FROM stats.published_sizes"))
    set_current(changing, other)  # the data-change point itself
    published = sizes(changing)
    assert (
        published["xpha.emitter_candidates"]
        == N_SOURCES
        == true_counts(changing, ["xpha.emitter_candidates"])["xpha.emitter_candidates"]
    )
    ingest_xp([REAL_XP], changing, progress=False)
    assert sizes(changing) == true_counts(changing, published)
    with psycopg.connect(changing) as conn:
        after = dict(conn.execute("SELECT table_name, counted_at FROM stats.published_sizes"))
        assert conn.execute("SELECT count(*) FROM stats.changes").fetchone()[0] == 0
        model = conn.execute("SELECT model_name FROM stats.candidate_refresh").fetchone()[0]
    recounted = {name for name in after if after[name] != before[name]}
    assert {"xpha.emitter_candidates", "xpha.models", "xpha.xp_continuous"} <= recounted
    assert not recounted & {"xpha.emitter_scores", "xpha.latents", "xpha.training_labels"}
    assert model == "dae_head-0.1.0"


def test_nothing_changed_nothing_counted_but_a_recreated_or_repointed_view_is(
    changing: str,
) -> None:
    with psycopg.connect(changing) as conn:
        report = refresh_published_statistics(conn)
        assert {n.split(".")[0] for n in report.counted} == {"tap_schema"}
        definition = conn.execute("SELECT pg_get_viewdef('xpha.latents')").fetchone()[0]
        conn.execute("DROP VIEW xpha.latents")
        conn.execute(f"CREATE VIEW xpha.latents AS {definition.rstrip(';')} LIMIT 7")
        report = refresh_published_statistics(conn)
        assert report.counted["xpha.latents"] == 7
        # A table built beside the live one and swapped in under the same view (the view's oid
        # stays, what it reads changes; nothing was written to a table it read before).
        conn.execute("CREATE TABLE ml.latents_built AS SELECT * FROM ml.latents LIMIT 5")
        conn.execute(
            "CREATE OR REPLACE VIEW xpha.latents AS "
            + definition.rstrip(";").replace("ml.latents", "ml.latents_built")
        )
        report = refresh_published_statistics(conn)
    assert report.counted["xpha.latents"] == 5 and sizes(changing)["xpha.latents"] == 5


THRESHOLDS = [0.0, 0.3, 0.5, 0.97, 0.999, 1.0]


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_aggregates_equal_the_rows_at_every_threshold(scored: str, threshold: float) -> None:
    first_bin, edge = summary.threshold_bin(threshold)
    assert edge <= threshold and (
        first_bin == len(summary.PROBABILITY_EDGES)
        or summary.PROBABILITY_EDGES[first_bin] > threshold
    )
    with psycopg.connect(scored) as conn:
        rows = conn.execute(
            "SELECT source_id, probability, bp_rp, phot_g_mean_mag, halpha_excess_ew"
            " FROM xpha.emitter_candidates"
        ).fetchall()
        cells, counts = summary.read_sky(conn, first_bin)
        cmd = summary.read_cmd(conn, first_bin)
        excess = summary.read_excess(conn, first_bin)
    source_id, p, colour, g, ew = (
        np.array([r[i] for r in rows], dtype=float if i else np.int64) for i in range(5)
    )
    above = p >= edge
    truth_cells, truth_counts = np.unique(
        source_id[above] >> summary.SOURCE_ID_SHIFT, return_counts=True
    )
    order = np.argsort(cells)
    np.testing.assert_array_equal(cells[order], truth_cells)
    np.testing.assert_array_equal(counts[order], truth_counts)
    grid_all, _, _ = np.histogram2d(colour, g, [summary.BP_RP.edges, summary.G_MAG.edges])
    grid_above, _, _ = np.histogram2d(
        colour[above], g[above], [summary.BP_RP.edges, summary.G_MAG.edges]
    )
    p_sum, _, _ = np.histogram2d(
        colour[above], g[above], [summary.BP_RP.edges, summary.G_MAG.edges], weights=p[above]
    )
    np.testing.assert_array_equal(cmd["all"], grid_all)
    np.testing.assert_array_equal(cmd["above"], grid_above)
    np.testing.assert_allclose(cmd["probability_sum"], p_sum, rtol=1e-5)
    measured = ~np.isnan(ew)
    histogram, _ = np.histogram(ew[measured & above], summary.EXCESS.edges)
    np.testing.assert_array_equal(excess["above"][1:-1], histogram)
    assert excess["unmeasured"] == int((~measured).sum()) > 0


@pytest.fixture(scope="module")
def served(scored: str) -> Iterator[str]:
    with live_server(tap_settings(scored)) as root:
        yield root


def test_vosi_tap_schema_and_the_landing_page_tell_the_true_sizes(scored: str, served: str) -> None:
    truth = true_counts(tap_conninfo(tap_settings(scored)), sizes(scored))  # as the TAP role
    tap = pyvo.dal.TAPService(served + "/tap")
    assert {t.name: t.nrows for t in tap.tables} == truth  # VOSI /tables, read by pyvo
    rows = tap.run_sync("SELECT table_name, nrows FROM tap_schema.tables").to_table()
    assert dict(zip(rows["table_name"], rows["nrows"], strict=True)) == truth
    html = httpx.get(served + "/", timeout=60).text
    shown = dict(re.findall(r'<code>([a-z_.]+)</code></a></td><td class="n">([\d,]+)</td>', html))
    assert {k: int(v.replace(",", "")) for k, v in shown.items()} == truth


def test_page_and_pictures_never_read_the_candidates(changing: str) -> None:
    """With every published relation closed to the TAP role, the page and its pictures still
    come: they read TAP_SCHEMA and the aggregates only."""
    settings = tap_settings(changing)
    with psycopg.connect(changing, autocommit=True) as conn:
        conn.execute(f"REVOKE SELECT ON ALL TABLES IN SCHEMA xpha FROM {settings.tap_role}")
        expected = conn.execute(
            "SELECT count(*) FROM xpha.emitter_candidates WHERE probability >= 0.9"
        ).fetchone()[0]
    with live_server(settings) as served:
        html = httpx.get(served + "/?threshold=0.92", timeout=60)
        assert html.status_code == 200
        assert f"<b>{expected:,}</b> with probability &ge; 0.9" in html.text
        for name in ("sky", "cmd", "excess"):
            png = httpx.get(f"{served}/plots/{name}.png", params={"threshold": "0.92"}, timeout=60)
            assert png.status_code == 200 and png.content.startswith(b"\x89PNG"), name
            assert len(png.content) > 5000


BAD_REQUESTS = [
    ("/?threshold=1.5", 400, "THRESHOLD='1.5' must be a probability between 0 and 1"),
    ("/plots/sky.png?THRESHOLD=nan", 400, "THRESHOLD='nan' must be a probability"),
    ("/plots/sky.png?threshold=%3Cscript%3E", 400, "THRESHOLD='<script>'"),
    ("/plots/passwd.png", 404, "no picture 'passwd'"),
]


@pytest.mark.parametrize(("path", "status", "message"), BAD_REQUESTS)
def test_bad_picture_requests_get_dali_errors(
    served: str, path: str, status: int, message: str
) -> None:
    response = httpx.get(served + path, timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    assert message.replace("<", "&lt;").replace(">", "&gt;") in response.text
