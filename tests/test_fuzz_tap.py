"""Hypothesis fuzzing of the live TAP service over HTTP: generated and mutated ADQL.

Property: whatever the query, the service answers 200 with a parseable result or a 4xx DALI
error VOTable (QUERY_STATUS=ERROR, a fault-named message) - never a 5xx, never an HTML or
JSON error body, never a hang. Queries come from two sources: a small ADQL grammar over the
real TAP_SCHEMA columns (functions, geometry, casts, literals that divide by zero or overflow)
and mutations (deletions, duplications, hostile tokens) of the translation corpus in
tests/data/adql/cases.yaml. 300 cases run by default; the slow run sends 10,000.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from tap_support import seed_field
from uws_support import LiveServer, create_query_targets, phase_of, votable_status, wait_final

CASES = yaml.safe_load(
    (Path(__file__).parent / "data" / "adql" / "cases.yaml").read_text(encoding="utf-8")
)
SEEDS = [case["adql"] for case in CASES] + [
    "SELECT TOP 5 table_name FROM tap_schema.tables",
    "SELECT COUNT(*) AS nrow FROM TAP_SCHEMA.columns",
]
FUNCTIONS_1 = [
    "ABS",
    "SQRT",
    "LOG",
    "LOG10",
    "EXP",
    "FLOOR",
    "CEILING",
    "SIN",
    "ACOS",
    "RADIANS",
    "DEGREES",
    "UPPER",
    "LOWER",
    "pg_sleep",
    "version",
    "NOSUCH",
]
NUMBERS = [
    "0",
    "1",
    "-1",
    "0.5",
    "1e308",
    "1e-308",
    "9223372036854775807",
    "99999999999999999999999",
    "360",
    "-90",
    "1.5e400",
    "NaN",
]
STRINGS = ["'a'", "'it''s'", "''", "'%'", "'\\'", "'\u00e9\u4e2d'", "'--'", "';'"]
HOSTILE_TOKENS = [
    ";",
    "--",
    "/*",
    "*/",
    "'",
    '"',
    "$$",
    "::",
    "\\",
    "(",
    ")",
    ",",
    "*",
    " OR 1=1",
    " UNION SELECT * FROM uws.jobs",
    " pg_sleep(5)",
    "\u0000",
    "\ufffd",
    "\u202e",
    "\n",
    "TOP -1 ",
    " OFFSET -5",
    " WHERE ",
    "ORDER BY 99",
]
UTF8_CHARACTERS = st.characters(codec="utf-8")  # what an HTTP form can carry (no surrogates)
DEFAULT_FORMATS = ["votable", "votable/td", "csv", "tsv", "fits", "votable/b2"]


def columns_by_table(db_url: str) -> dict[str, list[tuple[str, str]]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, datatype FROM tap_schema.columns"
            " ORDER BY table_name, column_index"
        ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, datatype in rows:
        quoted = column if column.isidentifier() and column.islower() else f'"{column}"'
        tables.setdefault(table, []).append((quoted, datatype))
    return tables


@st.composite
def generated_adql(draw: st.DrawFn, tables: dict[str, list[tuple[str, str]]]) -> str:
    table = draw(st.sampled_from(sorted(tables)))
    columns = tables[table]
    numeric = [c for c, t in columns if t in ("short", "int", "long", "float", "double")] or ["1"]
    column = st.sampled_from([c for c, _ in columns])
    number = st.sampled_from(NUMBERS)
    scalar = st.one_of(
        column,
        number,
        st.sampled_from(STRINGS),
        st.builds(lambda f, c: f"{f}({c})", st.sampled_from(FUNCTIONS_1), column),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            st.sampled_from(numeric),
            st.sampled_from(["+", "-", "*", "/", "%", "||"]),
            number,
        ),
        st.builds(lambda c, n: f"ROUND({c}, {n})", st.sampled_from(numeric), number),
        st.builds(lambda c, n: f"TRUNCATE({c}, {n})", st.sampled_from(numeric), number),
        st.builds(
            lambda c, t: f"CAST({c} AS {t})",
            column,
            st.sampled_from(
                [
                    "INTEGER",
                    "BIGINT",
                    "REAL",
                    "DOUBLE PRECISION",
                    "CHAR(3)",
                    "VARCHAR",
                    "TIMESTAMP",
                    "POINT",
                    "BLOB",
                ]
            ),
        ),
        st.builds(lambda a, b: f"COALESCE({a}, {b})", column, number),
        st.builds(
            lambda r, d: f"DISTANCE(POINT('ICRS', {r}, {d}), POINT('ICRS', 10, 20))", number, number
        ),
        st.builds(
            lambda r, d, s: f"CONTAINS(POINT('ICRS', {r}, {d}), CIRCLE('ICRS', 10, 20, {s}))",
            number,
            number,
            number,
        ),
        st.builds(lambda c: f"CASE WHEN {c} IS NULL THEN 0 ELSE 1 END", column),
    )
    items = draw(st.lists(scalar, min_size=1, max_size=4))
    select = ", ".join(
        f"{item} AS c{i}" if draw(st.booleans()) else item for i, item in enumerate(items)
    )
    top = draw(st.sampled_from(["", "TOP 0 ", "TOP 3 ", "DISTINCT ", "TOP 99999999999 "]))
    query = f"SELECT {top}{select} FROM {table}"
    if draw(st.booleans()):
        op = draw(st.sampled_from(["=", "<>", "!=", "<", ">=", "LIKE", "IS NOT", "BETWEEN 0 AND"]))
        query += f" WHERE {draw(scalar)} {op} {draw(scalar)}"
    if draw(st.booleans()):
        query += f" ORDER BY {draw(st.sampled_from(['1', *[c for c, _ in columns]]))}"
        query += draw(st.sampled_from(["", " DESC", " ASC"]))
    if draw(st.booleans()):
        query += f" OFFSET {draw(st.sampled_from(['0', '2', '-1', '1e3']))}"
    return query


@st.composite
def mutated_adql(draw: st.DrawFn) -> str:
    query = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(query)))
        kind = draw(st.sampled_from(["insert", "delete", "duplicate", "replace", "text"]))
        if kind == "insert":
            query = query[:at] + draw(st.sampled_from(HOSTILE_TOKENS)) + query[at:]
        elif kind == "delete":
            query = query[:at] + query[at + draw(st.integers(1, 12)) :]
        elif kind == "duplicate":
            query = query[:at] + query[at : at + draw(st.integers(1, 20))] * 2 + query[at + 1 :]
        elif kind == "replace":
            query = query[:at] + draw(UTF8_CHARACTERS) + query[at + 1 :]
        else:
            query = query[:at] + draw(st.text(UTF8_CHARACTERS, max_size=8)) + query[at:]
    return query


@pytest.fixture(scope="module")
def fuzz_server(module_db_url: str, test_settings, tmp_path_factory):
    create_query_targets(module_db_url, test_settings.published_schema, test_settings.tap_role)
    seed_field(module_db_url, 300, xp_rows=20)
    live = LiveServer(
        module_db_url, tmp_path_factory.mktemp("fuzz-var"), tap_sync_timeout_s=5
    ).start()
    client = httpx.Client(timeout=60)
    yield live, client, columns_by_table(module_db_url)
    client.close()
    live.stop()


def check_answer(response: httpx.Response, query: str, responseformat: str) -> None:
    """The property: a result or a DALI error document, never a server failure."""
    assert response.status_code < 500, (query, response.text[:500])
    content_type = response.headers.get("content-type", "")
    if response.status_code != 200:
        assert response.status_code == 400, (query, response.status_code)
        assert content_type.startswith("application/x-votable+xml"), (query, content_type)
        status, message = votable_status(response.content)
        assert status == "ERROR" and message.startswith("UsageFault:"), (query, message)
        return
    if responseformat.startswith("votable"):
        status, message = votable_status(response.content)
        assert status in ("OK", "OVERFLOW", "ERROR"), (query, status)
        assert "FatalFault" not in message, (query, message)
    elif responseformat == "fits":
        assert response.content[:9] == b"SIMPLE  =", query
    else:
        response.content.decode("utf-8")


def fuzz_sync(
    fuzz_server, query: str, responseformat: str, maxrec: int, seen: Counter[int]
) -> None:
    server, client, _ = fuzz_server
    response = client.post(
        f"{server.base}/sync",
        data={
            "LANG": "ADQL",
            "QUERY": query,
            "RESPONSEFORMAT": responseformat,
            "MAXREC": str(maxrec),
        },
    )
    seen[response.status_code] += 1
    check_answer(response, query, responseformat)


def assert_both_outcomes(seen: Counter[int], cases: int) -> None:
    """The generator must reach the database (200s) as well as the refusals (400s)."""
    print(f"\n{sum(seen.values())} requests: HTTP statuses {dict(seen)}")
    assert sum(seen.values()) >= cases
    assert seen[200] >= cases // 10 and seen[400] >= cases // 10, seen


def queries(fuzz_server) -> st.SearchStrategy[str]:
    return st.one_of(generated_adql(fuzz_server[2]), mutated_adql())


COMMON = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


def test_fuzz_sync_300(fuzz_server) -> None:
    @settings(max_examples=300, **COMMON)
    @given(
        query=queries(fuzz_server),
        responseformat=st.sampled_from(DEFAULT_FORMATS),
        maxrec=st.sampled_from([0, 1, 5, 100]),
    )
    def run(query: str, responseformat: str, maxrec: int) -> None:
        fuzz_sync(fuzz_server, query, responseformat, maxrec, seen)

    seen: Counter[int] = Counter()
    run()
    assert_both_outcomes(seen, 300)


@pytest.mark.slow
def test_fuzz_sync_10000(fuzz_server) -> None:
    @settings(max_examples=10_000, **{**COMMON, "derandomize": False})
    @given(
        query=queries(fuzz_server),
        responseformat=st.sampled_from(DEFAULT_FORMATS),
        maxrec=st.sampled_from([0, 1, 5, 100, 10_000]),
    )
    def run(query: str, responseformat: str, maxrec: int) -> None:
        fuzz_sync(fuzz_server, query, responseformat, maxrec, seen)

    seen: Counter[int] = Counter()
    run()
    assert_both_outcomes(seen, 10_000)


@pytest.mark.parametrize("examples", [20, pytest.param(500, marks=pytest.mark.slow)])
def test_fuzz_async(fuzz_server, examples: int) -> None:
    """The same queries as jobs: created (303) or refused (400), then COMPLETED or ERROR."""
    server, client, _ = fuzz_server

    @settings(max_examples=examples, **COMMON)
    @given(query=queries(fuzz_server))
    def run(query: str) -> None:
        response = client.post(
            f"{server.base}/async",
            data={"LANG": "ADQL", "QUERY": query, "PHASE": "RUN", "MAXREC": "10"},
            follow_redirects=False,
        )
        if response.status_code != 303:
            check_answer(response, query, "votable")
            return
        job_url = response.headers["location"]
        job = wait_final(client, job_url)
        assert phase_of(job) in ("COMPLETED", "ERROR"), (query, etree.tostring(job))
        if phase_of(job) == "ERROR":
            error = client.get(f"{job_url}/error")
            status, message = votable_status(error.content)
            assert status == "ERROR" and message.startswith("UsageFault:"), (query, message)
        else:
            result = client.get(f"{job_url}/results/result")
            assert result.status_code == 200
            assert votable_status(result.content)[0] in ("OK", "OVERFLOW"), query
        assert client.delete(job_url, follow_redirects=False).status_code == 303

    run()
