"""Fuzzing the translator: generated and mutated ADQL either translates or raises AdqlError.

No other exception may escape (the service would turn it into a 500), and whatever translates
must only name published relations. The default run tries a few hundred inputs; the
``slow`` run tries 10,000.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_service.adql import AdqlError, translate
from tap_service.catalog import Catalog, ColumnInfo, TableInfo

DATA = Path(__file__).parent / "data" / "adql"
SEEDS = [c["adql"] for c in yaml.safe_load((DATA / "cases.yaml").read_text(encoding="utf-8"))]
SEEDS += [c["adql"] for c in yaml.safe_load((DATA / "hostile.yaml").read_text(encoding="utf-8"))]


def _columns(*names_types: tuple[str, str]) -> dict[str, ColumnInfo]:
    return {
        n.lower(): ColumnInfo(name=n, datatype=t, indexed=n in ("ra", "dec"))
        for n, t in names_types
    }


CATALOG = Catalog.of(
    [
        TableInfo(
            "xpha",
            "adqltest_stars",
            None,
            _columns(
                ("source_id", "long"),
                ("ra", "double"),
                ("dec", "double"),
                ("mag", "float"),
                ("name", "char"),
                ("emitter", "boolean"),
                ("Mixed Case", "int"),
                ("size", "int"),
                ("flux", "double"),
            ),
        ),
        TableInfo(
            "xpha",
            "adqltest_spectra",
            None,
            _columns(
                ("source_id", "long"),
                ("ew", "double"),
                ("ra", "double"),
                ("dec", "double"),
                ("band", "char"),
            ),
        ),
        TableInfo("tap_schema", "tables", None, _columns(("table_name", "char"))),
    ]
)
LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
ALLOWED_RELATIONS = (
    '"xpha"."adqltest_stars"',
    '"xpha"."adqltest_spectra"',
    '"tap_schema"."tables"',
    '"pg_temp"."upload_mine"',
)

TOKENS = [
    "SELECT",
    "TOP",
    "10",
    "*",
    "FROM",
    "xpha.adqltest_stars",
    "xpha.adqltest_spectra",
    "AS",
    "s",
    "p",
    "WHERE",
    "ra",
    "dec",
    "s.ra",
    "p.dec",
    "mag",
    "name",
    "=",
    "<>",
    "!=",
    "<",
    ">=",
    "(",
    ")",
    ",",
    "'x'",
    "''''",
    "1",
    "0.5",
    "-",
    "+",
    "/",
    "||",
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "IN",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "EXISTS",
    "JOIN",
    "ON",
    "USING",
    "NATURAL",
    "LEFT",
    "UNION",
    "EXCEPT",
    "WITH",
    "ORDER",
    "BY",
    "GROUP",
    "HAVING",
    "OFFSET",
    "CAST",
    "INTEGER",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "COUNT",
    "MAX",
    "LOG",
    "ROUND",
    "TRUNCATE",
    "MOD",
    "POINT",
    "CIRCLE",
    "BOX",
    "POLYGON",
    "CONTAINS",
    "INTERSECTS",
    "DISTANCE",
    "AREA",
    "COORD1",
    "CENTROID",
    "REGION",
    "'ICRS'",
    "TAP_UPLOAD.mine",
    '"size"',
    '"Mixed Case"',
    "--",
    "\n",
    ";",
    "/*",
    "$$",
    "::",
    "pg_sleep",
    "gaia.source",
    "pg_catalog.pg_class",
]


def _mutate(seed: str, edits: list[tuple[int, int, str]]) -> str:
    text = seed
    for kind, position, token in edits:
        at = position % (len(text) + 1)
        if kind == 0:
            text = text[:at] + " " + token + " " + text[at:]
        elif kind == 1:
            text = text[:at] + text[at + 1 + position % 7 :]
        else:
            text = text[:at] + token + text[at:]
    return text


mutated = st.builds(
    _mutate,
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.sampled_from(TOKENS)),
        min_size=1,
        max_size=4,
    ),
)
generated = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).map(" ".join)
anything = st.one_of(mutated, generated, st.text(max_size=80))


def check(adql: str) -> None:
    try:
        translation = translate(
            adql,
            CATALOG,
            row_limit=101,
            uploads={"mine": "pg_temp.upload_mine"},
            published_schema="xpha",
        )
    except AdqlError as error:
        assert str(error)
        return
    sql = translation.sql
    bare = LITERALS.sub("_", sql)  # as PostgreSQL reads it (standard_conforming_strings=on)
    assert ";" not in bare and "/*" not in bare and "--" not in bare, sql
    assert "\\" not in sql, sql  # backslashes travel as chr(92): safe under any setting
    for word in ("pg_sleep", "pg_catalog", "information_schema"):
        assert word not in bare, (
            sql
        )  # outside quotes: a name the client chose (AS pg_sleep) is quoted
    for schema in ("gaia", "pg_catalog", "information_schema"):
        assert f'"{schema}".' not in sql, sql  # nothing of another schema
    assert "_(" not in bare, sql  # no quoted name is called as a function
    for part in sql.split(" FROM ")[1:]:
        relation = part.split(" ")[0]
        if relation.startswith('"') and "." in relation:
            assert relation.rstrip(")") in ALLOWED_RELATIONS, sql


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(anything)
def test_fuzzed_adql_never_crashes(adql: str) -> None:
    check(adql)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(anything)
def test_fuzzed_adql_never_crashes_long(adql: str) -> None:
    check(adql)
