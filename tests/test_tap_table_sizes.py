"""Table sizes on the landing page: exact for small tables and views, estimates for big ones.

The planner's estimate for a view was shown before: 630 rows for tap_schema.schemas and 300
for an empty xpha.models. These cases run as the TAP role on a real database.
"""

from __future__ import annotations

import httpx
import psycopg
import pytest
from tap_support import live_server, seed_field, tap_settings

from tap_service.query import tap_conninfo
from tap_service.table_sizes import TableSize, table_size

N_SOURCES = 300


def exact_counts(url: str, names: list[str]) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {n: conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0]  # type: ignore[index]
                for n in names}


EMPTY_CASES = ["tap_schema.schemas", "tap_schema.tables", "tap_schema.columns", "xpha.models",
               "xpha.emitter_candidates", "xpha.gaia_source"]


def test_empty_database_counts_exactly(db_url: str) -> None:
    truth = exact_counts(db_url, EMPTY_CASES)
    assert truth["xpha.models"] == 0 and truth["tap_schema.schemas"] > 0
    with psycopg.connect(tap_conninfo(tap_settings(db_url), db_url), autocommit=True) as conn:
        for name in EMPTY_CASES:
            assert table_size(conn, name) == TableSize(truth[name], exact=True), name


# (table, threshold of a "small" base table, expected size given the seeded truth)
SEEDED_CASES = [
    ("xpha.models", 100_000, lambda t: TableSize(t["xpha.models"], True)),
    ("xpha.gaia_source", 100_000, lambda t: TableSize(N_SOURCES, True)),
    ("xpha.emitter_candidates", 100_000, lambda t: TableSize(t["xpha.emitter_candidates"], True)),
    # big base tables: the statistics' count of the biggest one (all partitions), no count(*)
    ("xpha.gaia_source", 100, lambda t: TableSize(N_SOURCES, False)),
    ("xpha.emitter_scores", 100, lambda t: TableSize(t["ml.emitter_scores"], False)),
    ("xpha.models", 100, lambda t: TableSize(t["xpha.models"], True)),  # ml.models is small
    ("xpha.no_such_table", 100_000, lambda t: None),
]


@pytest.fixture(scope="module")
def seeded(module_db_url: str) -> dict[str, int]:
    seed_field(module_db_url, N_SOURCES)
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return exact_counts(module_db_url, ["xpha.models", "xpha.emitter_candidates",
                                        "ml.emitter_scores"])


@pytest.mark.parametrize(("name", "small", "expected"), SEEDED_CASES)
def test_seeded_sizes(module_db_url: str, seeded: dict[str, int], name: str, small: int,
                      expected) -> None:
    with psycopg.connect(tap_conninfo(tap_settings(module_db_url), module_db_url),
                         autocommit=True) as conn:
        assert table_size(conn, name, small) == expected(seeded)
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection is still usable


def test_landing_page_shows_exact_counts(module_db_url: str, seeded: dict[str, int]) -> None:
    with live_server(tap_settings(module_db_url)) as root:
        html = httpx.get(root + "/", timeout=30).text
    assert "<th>rows</th>" in html
    row = html[html.index("<code>xpha.models</code>"):]
    assert f'<td class="n">{seeded["xpha.models"]}</td>' in row[:row.index("</tr>")]
    row = html[html.index("<code>xpha.gaia_source</code>"):]
    assert f'<td class="n">{N_SOURCES}</td>' in row[:row.index("</tr>")]
