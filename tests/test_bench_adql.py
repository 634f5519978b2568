"""Benchmark: ADQL translation rate against its ceiling, sqlglot's bare parse + generate.

Translation runs on every TAP request. The ceiling is what the parser alone costs (no
allow-list, no name resolution, no rewriting); the ratio says what safety and ADQL
semantics add. Prints the rates and the ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import sqlglot

from tap_service.adql import translate
from tap_service.adql.dialect import Adql
from tap_service.catalog import Catalog, ColumnInfo, TableInfo

QUERIES = [
    "SELECT TOP 100 source_id, ra, dec, mag FROM xpha.stars "
    "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 0.5)) ORDER BY mag",
    "SELECT s.source_id, p.ew FROM xpha.stars AS s JOIN xpha.spectra AS p "
    "ON 1 = CONTAINS(POINT(p.ra, p.dec), CIRCLE(s.ra, s.dec, 1.0/3600)) WHERE s.mag < 15",
    "SELECT band, COUNT(*) AS n, AVG(ew) FROM xpha.spectra GROUP BY band HAVING COUNT(*) > 1",
    "SELECT * FROM xpha.stars WHERE source_id IN (SELECT source_id FROM xpha.spectra "
    "WHERE ew > 10) AND ROUND(mag, 1) BETWEEN 12 AND 14",
]


def _catalog() -> Catalog:
    def columns(*specs: tuple[str, str]) -> dict[str, ColumnInfo]:
        return {n: ColumnInfo(name=n, datatype=t, indexed=n in ("ra", "dec")) for n, t in specs}

    return Catalog.of(
        [
            TableInfo(
                "xpha",
                "stars",
                None,
                columns(
                    ("source_id", "long"), ("ra", "double"), ("dec", "double"), ("mag", "float")
                ),
            ),
            TableInfo(
                "xpha",
                "spectra",
                None,
                columns(
                    ("source_id", "long"),
                    ("ew", "double"),
                    ("ra", "double"),
                    ("dec", "double"),
                    ("band", "char"),
                ),
            ),
        ]
    )


def _rate(work: Callable[[str], str], seconds: float = 2.0) -> float:
    """Queries per second, the best of several rounds (the machine is shared)."""
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for query in QUERIES * 25:
            work(query)
        best = max(best, len(QUERIES) * 25 / (time.perf_counter() - start))
    return best


@pytest.mark.benchmark
def test_translation_rate_against_bare_parser() -> None:
    catalog = _catalog()

    def bare(query: str) -> str:
        return sqlglot.parse_one(query, read=Adql).sql(dialect="postgres", identify=True)

    def ours(query: str) -> str:
        return translate(query, catalog, row_limit=1001, published_schema="xpha").sql

    ceiling = _rate(bare)
    rate = _rate(ours)
    print(
        f"\nADQL translation: {rate:,.0f} queries/s ({1000 / rate:.2f} ms each); "
        f"bare sqlglot parse+generate: {ceiling:,.0f}/s ({1000 / ceiling:.2f} ms); "
        f"ratio {rate / ceiling:.2f} (sqlglot compiled: "
        f"{sqlglot.tokens.SQLGLOTC_INSTALLED})"
    )
    assert rate > 0
