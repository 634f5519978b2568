"""Benchmark of true sizes and the landing page's pictures (``make bench``), 1,000,000 candidates.

1. The refresh after scoring (every published relation recounted, the candidates aggregated
   per HEALPix cell, CMD cell and excess bin in one pass) against its ceiling: bare
   ``SELECT count(*)`` of the same relations.
2. A page view (the page, then the three pictures at a new threshold: a cache miss; then again:
   hits) against what it would cost without the aggregates: one scan of the candidates for the
   sky map alone. Every sky cell is occupied (49,152 x 24 probability bins at most), the worst
   case for the aggregates.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from tap_support import live_server, tap_settings

from sql import serving
from sql.published_statistics import refresh_published_statistics

pytestmark = pytest.mark.benchmark

N_ROWS = 1_000_000
SCAN_FOR_SKY = (
    "SELECT source_id >> 47 AS cell, count(*) FROM xpha.emitter_candidates"
    " WHERE probability >= 0.5 GROUP BY 1"
)


@pytest.fixture(scope="module")
def million(module_db_url: str) -> str:
    """1M sources in every HEALPix level-6 cell, scored by a current model with an excess."""
    started = time.perf_counter()
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO gaia.source (source_id, ra, dec, phot_g_mean_mag, bp_rp)"
            " SELECT (floor(random() * 49152)::bigint << 47) + i, random() * 360,"
            " degrees(asin(2 * random() - 1)), 10 + random() * 8, random() * 3"
            " FROM generate_series(1, %s) AS i",
            (N_ROWS,),
        )
        model = conn.execute(
            "INSERT INTO ml.models (kind, version, is_current) VALUES ('bench', '1', true)"
            " RETURNING model_id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO ml.emitter_scores (model_id, source_id, score, probability,"
            " halpha_excess_ew) SELECT %s, source_id, random(), random() ^ 4,"
            " -5 + 40 * random() ^ 3 FROM gaia.source",
            (model,),
        )
        conn.execute("VACUUM ANALYZE gaia.source")
        conn.execute("VACUUM ANALYZE ml.emitter_scores")
    serving.publish(module_db_url)  # what xpha score does last: the table TAP reads
    print(f"\nseeded {N_ROWS:,} sources + scores in {time.perf_counter() - started:.1f} s")
    return module_db_url


def _seconds(conn: psycopg.Connection, statement: str) -> float:
    start = time.perf_counter()
    conn.execute(statement).fetchall()
    return time.perf_counter() - start


def test_refresh_after_scoring_against_bare_counts(million: str) -> None:
    with psycopg.connect(million, autocommit=True) as conn:
        report = refresh_published_statistics(conn)
        counted = [n for n in report.counted if not n.startswith("tap_schema.")]
        ceiling = sum(_seconds(conn, f"SELECT count(*) FROM {n}") for n in counted)
        candidates = _seconds(conn, "SELECT count(*) FROM xpha.emitter_candidates")
        aggregate_rows = dict(
            conn.execute("SELECT picture, count(*) FROM stats.candidate_bins GROUP BY picture")
        )
    assert report.counted["xpha.emitter_candidates"] == N_ROWS
    print(
        f"\nrefresh of {', '.join(counted)}: {report.seconds:.2f} s;"
        f" bare count(*) of the same {ceiling:.2f} s (candidates alone {candidates:.2f} s):"
        f" ratio {report.seconds / ceiling:.2f}; aggregate rows {aggregate_rows}"
    )


@pytest.fixture(scope="module")
def root(million: str) -> Iterator[str]:
    with psycopg.connect(million, autocommit=True) as conn:
        refresh_published_statistics(conn)
    with live_server(tap_settings(million)) as url:
        yield url


def _get(url: str) -> float:
    start = time.perf_counter()
    response = httpx.get(url, timeout=120)
    assert response.status_code == 200
    return time.perf_counter() - start


def test_page_view_against_a_scan_of_the_candidates(million: str, root: str) -> None:
    pictures = ("sky", "cmd", "excess")

    def view(threshold: str) -> float:
        return _get(f"{root}/?threshold={threshold}") + sum(
            _get(f"{root}/plots/{p}.png?threshold={threshold}") for p in pictures
        )

    view("0.5")  # the first drawing: imports, the map's pixel grid (once per process)
    miss = view("0.7")
    hit = min(view("0.7") for _ in range(5))
    floor = min(_get(f"{root}/tap/availability") for _ in range(20)) * 4  # four round trips
    with psycopg.connect(million) as conn:
        scan = min(_seconds(conn, SCAN_FOR_SKY) for _ in range(3))
    print(
        f"\npage + 3 pictures at a new threshold (cache miss): {miss * 1000:.0f} ms;"
        f" again (cached): {hit * 1000:.1f} ms, four /tap/availability round trips"
        f" {floor * 1000:.1f} ms (ratio {hit / floor:.2f}); without the aggregates one scan of"
        f" the {N_ROWS:,} candidates for the sky map alone takes {scan * 1000:.0f} ms"
        f" (miss/scan {miss / scan:.2f}, and the scan grows with the catalogue)"
    )
