"""ADQL translation against a real PostgreSQL with Q3C and pgSphere, driven by data files.

``tests/data/adql/cases.yaml``: ADQL in, rows (and SQL fragments, output metadata) out.
``tests/data/adql/errors.yaml``: ADQL in, an AdqlError naming line, column and token out.
``tests/data/adql/hostile.yaml``: queries that must be refused before reaching the database.
The fixture creates two small tables in the published schema with their TAP_SCHEMA rows and
runs every translated query as the read-only TAP role.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import yaml

from sql.settings import Settings
from tap_service.adql import AdqlError, AdqlSecurityError, translate
from tap_service.catalog import Catalog, load_catalog

DATA = Path(__file__).parent / "data" / "adql"
CASES = yaml.safe_load((DATA / "cases.yaml").read_text(encoding="utf-8"))
ERRORS = yaml.safe_load((DATA / "errors.yaml").read_text(encoding="utf-8"))
HOSTILE = yaml.safe_load((DATA / "hostile.yaml").read_text(encoding="utf-8"))

FIXTURE_SQL = (
    (DATA / "targets.sql").read_text(encoding="utf-8")
    + """
INSERT INTO tap_schema.schemas (schema_name, description) VALUES ('{schema}', 'published')
    ON CONFLICT DO NOTHING;
-- TAP_SCHEMA describes itself (migration 043 does; these keep this test independent of it).
INSERT INTO tap_schema.schemas (schema_name) VALUES ('tap_schema') ON CONFLICT DO NOTHING;
INSERT INTO tap_schema.tables (schema_name, table_name, table_type) VALUES
    ('tap_schema', 'tap_schema.tables', 'table') ON CONFLICT DO NOTHING;
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize) VALUES
    ('tap_schema.tables', 'table_name', 'char', '*') ON CONFLICT DO NOTHING;
"""
)


@pytest.fixture(scope="module")
def adql_db(module_db_url: str, test_settings: Settings):
    """A connection to a database with the two test tables; queries run as the TAP role."""
    schema, role = test_settings.published_schema, test_settings.tap_role
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        conn.execute(FIXTURE_SQL.format(schema=schema, role=role))
        conn.execute(
            "CREATE TABLE public.adqltest_secret (x text); "
            "INSERT INTO public.adqltest_secret VALUES ('secret')"
        )
        catalog = load_catalog(conn, schema)
        conn.execute(
            "CREATE TEMP TABLE upload_mine (id integer, ra double precision, dec double precision);"
            "INSERT INTO upload_mine VALUES (100, 10.0, 20.0), (101, 200.0, -30.0);"
            f"GRANT SELECT ON upload_mine TO {role}"
        )
        yield conn, catalog, test_settings


def run_as_tap(conn: psycopg.Connection, sql: str, role: str) -> list[tuple]:
    with conn.transaction(force_rollback=True):
        conn.execute(f"SET LOCAL ROLE {role}")
        conn.execute("SET LOCAL statement_timeout = '5s'")
        return conn.execute(sql.encode("utf-8"), prepare=False).fetchall()


def normalise(value: object) -> object:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    return value


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_translation_case(adql_db, case: dict) -> None:
    conn, catalog, settings = adql_db
    translation = translate(
        case["adql"],
        catalog,
        row_limit=case.get("row_limit"),
        uploads={"mine": "pg_temp.upload_mine"},
        published_schema=settings.published_schema,
    )
    for fragment in case.get("sql_contains", []):
        assert fragment in translation.sql, translation.sql
    for fragment in case.get("sql_lacks", []):
        assert fragment not in translation.sql, translation.sql
    if "columns" in case:
        assert [c.name for c in translation.columns] == case["columns"]
    for name, expected in (case.get("metadata") or {}).items():
        column = next(c for c in translation.columns if c.name == name)
        assert column.source is not None, name
        for field, value in expected.items():
            assert getattr(column.source, field) == value, (name, field)
    rows = run_as_tap(conn, translation.sql, settings.tap_role)
    got = [normalise(list(r)) for r in rows]
    if "rows" in case:
        expected = [normalise(r) for r in case["rows"]]
        if not case.get("ordered", True):
            got, expected = sorted(got, key=repr), sorted(expected, key=repr)
        assert got == expected, translation.sql
    if "count" in case:
        assert len(got) == case["count"], translation.sql


@pytest.mark.parametrize("case", ERRORS, ids=[c["name"] for c in ERRORS])
def test_error_names_line_column_token(adql_db, case: dict) -> None:
    _, catalog, _ = adql_db
    with pytest.raises(AdqlError) as caught:
        translate(case["adql"], catalog, uploads={"mine": "pg_temp.upload_mine"})
    error = caught.value
    assert case["message"] in str(error)
    assert (error.line, error.column) == (case["line"], case["column"]), str(error)
    assert error.token.lower() == str(case["token"]).lower(), str(error)
    assert str(error).startswith(f"line {case['line']}, column {case['column']}: ")


@pytest.mark.parametrize("adql", [h["adql"] for h in HOSTILE], ids=[h["name"] for h in HOSTILE])
def test_hostile_query_is_refused(adql_db, adql: str) -> None:
    _, catalog, _ = adql_db
    with pytest.raises(AdqlError):
        translate(adql, catalog, uploads={"mine": "pg_temp.upload_mine"})


def test_hostile_corpus_is_large_and_mostly_security_errors(adql_db) -> None:
    _, catalog, _ = adql_db
    assert len(HOSTILE) >= 40
    security = 0
    for case in HOSTILE:
        try:
            translate(case["adql"], catalog)
        except AdqlSecurityError:
            security += 1
        except AdqlError:
            pass
    assert security >= len(HOSTILE) * 3 // 4


def test_catalog_reads_tap_schema(adql_db) -> None:
    _, catalog, settings = adql_db
    stars = catalog.table(f"{settings.published_schema}.adqltest_stars")
    assert stars is not None and stars.qualified.endswith(".adqltest_stars")
    assert list(stars.columns)[:3] == ["source_id", "ra", "dec"]
    ra = stars.column("RA")
    assert (ra.unit, ra.ucd, ra.indexed, ra.principal, ra.std) == (
        "deg",
        "pos.eq.ra",
        True,
        True,
        False,
    )
    assert stars.column("flux").arraysize == "*"
    assert isinstance(catalog, Catalog) and settings.published_schema in catalog.schemas()


def test_row_limit_and_top_combine(adql_db) -> None:
    _, catalog, settings = adql_db
    table = f"{settings.published_schema}.adqltest_stars"
    assert translate(f"SELECT TOP 3 ra FROM {table}", catalog, row_limit=10).sql.endswith("LIMIT 3")
    assert translate(f"SELECT TOP 30 ra FROM {table}", catalog, row_limit=10).sql.endswith(
        "LIMIT 10"
    )
    assert translate(f"SELECT ra FROM {table}", catalog, row_limit=0).sql.endswith("LIMIT 0")
    assert "LIMIT" not in translate(f"SELECT ra FROM {table}", catalog).sql


def test_translation_is_fast(adql_db) -> None:
    """Translation runs on every request; a typical cone query must take well under 10 ms."""
    _, catalog, _ = adql_db
    adql = (
        "SELECT TOP 100 s.source_id, s.ra, s.dec, s.mag, p.ew FROM xpha.adqltest_stars AS s "
        "JOIN xpha.adqltest_spectra AS p ON p.source_id = s.source_id "
        "WHERE 1 = CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', 10, 20, 0.5)) "
        "AND s.mag < 14 ORDER BY s.mag"
    )
    translate(adql, catalog)
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        translate(adql, catalog)
    per_query_ms = (time.perf_counter() - start) / runs * 1000
    assert per_query_ms < 10, per_query_ms
    assert math.isfinite(per_query_ms)


def test_every_catalogue_table_answers_top_star_and_count(adql_db) -> None:
    """Whatever TAP_SCHEMA publishes (the real views too) translates and runs as the TAP role."""
    conn, catalog, settings = adql_db
    assert catalog.tables
    for table in catalog.tables.values():
        for adql in (
            f"SELECT TOP 3 * FROM {table.qualified}",
            f"SELECT COUNT(*) AS nrow FROM {table.qualified}",
        ):
            translation = translate(adql, catalog, published_schema=settings.published_schema)
            assert [c.name for c in translation.columns][:1] != ["*"]
            if adql.startswith("SELECT TOP"):
                assert [c.source for c in translation.columns] == list(table.columns.values())
            run_as_tap(conn, translation.sql, settings.tap_role)


@pytest.mark.parametrize(
    "adql",
    [
        "SELECT schema_name, description, utype FROM TAP_SCHEMA.schemas",
        "SELECT * FROM TAP_SCHEMA.tables ORDER BY table_index",
        'SELECT table_name, column_name, "size", datatype FROM tap_schema.columns',
        "SELECT TOP 1 * FROM tap_schema.key_columns",
        "SELECT k.key_id, k.from_table, c.from_column FROM tap_schema.keys AS k "
        "JOIN tap_schema.key_columns AS c ON k.key_id = c.key_id",
    ],
)
def test_client_metadata_queries(adql_db, adql: str) -> None:
    """What TOPCAT and taplint ask of TAP_SCHEMA (if the service's migrations publish it)."""
    conn, catalog, settings = adql_db
    if catalog.table("tap_schema.keys") is None:
        pytest.skip("TAP_SCHEMA does not describe itself in this checkout")
    translation = translate(adql, catalog, published_schema=settings.published_schema)
    run_as_tap(conn, translation.sql, settings.tap_role)
