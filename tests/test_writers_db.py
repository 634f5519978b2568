"""FIELDs from real PostgreSQL cursors, and rows streamed from the database into every format.

The type map is checked against what psycopg actually reports for each PostgreSQL type (binary
server-side cursor, as the query runner uses), and the values that come back from the readers
are compared with the values the database returned.
"""

from __future__ import annotations

import io
import math
import warnings
from datetime import UTC, datetime

import numpy as np
import pytest
import pyvo
from astropy.io.votable import parse
from astropy.table import Table

from sql.database import connect
from tap_service.adql import OutputColumn
from tap_service.catalog import ColumnInfo
from tap_service.writers import FieldSpec, ResultStatus, field_specs, get_writer

# (SQL expression, expected (datatype, arraysize, xtype))
TYPE_CASES = [
    ("1::int2", ("short", None, None)),
    ("1::int4", ("int", None, None)),
    ("1::int8", ("long", None, None)),
    ("1.5::float4", ("float", None, None)),
    ("1.5::float8", ("double", None, None)),
    ("1.5::numeric", ("double", None, None)),
    ("true", ("boolean", None, None)),
    ("'x'::text", ("unicodeChar", "*", None)),
    ("'x'::varchar(5)", ("unicodeChar", "*", None)),
    ("'x'::char(3)", ("unicodeChar", "*", None)),
    ("now()::timestamp", ("char", "*", "timestamp")),
    ("now()", ("char", "*", "timestamp")),
    ("current_date", ("char", "*", "timestamp")),
    ("ARRAY[1.0, 2.0]::float8[]", ("double", "*", None)),
    ("ARRAY[1.0, 2.0]::float4[]", ("float", "*", None)),
    ("ARRAY[1, 2]::int8[]", ("long", "*", None)),
    ("ARRAY[true]", ("boolean", "*", None)),
    ("ARRAY['a', 'b']", ("unicodeChar", "*", None)),
    ("'{\"a\": 1}'::jsonb", ("unicodeChar", "*", None)),
    ("interval '1 day'", ("char", "*", None)),
    ("gen_random_uuid()", ("char", "*", None)),
]


@pytest.fixture(scope="module")
def conn(module_db_url):
    with connect(module_db_url) as connection:
        yield connection


def cursor_for(conn, sql: str):
    cursor = conn.cursor("writers_test", binary=True)
    cursor.execute(sql)
    return cursor


@pytest.mark.parametrize(("expression", "expected"), TYPE_CASES, ids=[c[0] for c in TYPE_CASES])
def test_postgres_types_map_to_votable(conn, expression, expected):
    with conn.transaction():
        cursor = cursor_for(conn, f"SELECT {expression} AS v")
        (spec,) = field_specs(cursor.description)
        row = cursor.fetchmany(10)
        cursor.close()
    assert (spec.datatype, spec.arraysize, spec.xtype) == expected
    # and the value the database returns is writable and readable in that type
    data = b"".join(get_writer("votable").write([spec], [row], ResultStatus(), {}))
    assert len(parse(io.BytesIO(data)).get_first_table().array) == 1


def test_catalogue_metadata_flows_into_fields(conn):
    """Units, UCDs, descriptions, a declared arraysize and char-vs-unicodeChar come from TAP_SCHEMA."""
    ra = ColumnInfo(
        "ra", "double", unit="deg", ucd="pos.eq.ra;meta.main", description="Right ascension (ICRS)"
    )
    coeffs = ColumnInfo(
        "bp_coefficients", "double", arraysize="55", unit="e-/s", ucd="spect.continuum;arith.coeff"
    )
    label = ColumnInfo("label", "char", arraysize="*")
    point = ColumnInfo("point", "double", arraysize="2", unit="deg", xtype="point")
    outputs = [
        OutputColumn("ra", ra),
        OutputColumn("bp_coefficients", coeffs),
        OutputColumn("label", label),
        OutputColumn("pos", point),
        OutputColumn("ra", None),
    ]
    sql = (
        "SELECT 10.5::float8, array_fill(1.0::float8, ARRAY[55]), 'Be'::text, "
        "ARRAY[10.5, -3.0]::float8[], 2.0::float8"
    )
    with conn.transaction():
        cursor = cursor_for(conn, sql)
        specs = field_specs(cursor.description, outputs)
        cursor.close()
    assert specs == [
        FieldSpec("ra", "double", None, "deg", "pos.eq.ra;meta.main", "Right ascension (ICRS)"),
        FieldSpec("bp_coefficients", "double", "55", "e-/s", "spect.continuum;arith.coeff"),
        FieldSpec("label", "char", "*"),
        FieldSpec("pos", "double", "2", "deg", xtype="point"),
        FieldSpec("ra_2", "double"),
    ]


# (SQL value, TAP_SCHEMA datatype, FIELD datatype): the declared type wins where it is safe
DECLARED_CASES = [
    ("7::int2", "int", "int"),
    ("7::int8", "int", "int"),
    ("7::int4", "double", "double"),
    ("1.5::numeric", "float", "float"),
    ("1.5::float8", "long", "double"),  # never rounds a float into an integer
    ("1.5::float4", "char", "float"),
    ("ARRAY[1, 2]::int2[]", "int", "int"),
]


@pytest.mark.parametrize(
    ("expression", "declared", "expected"), DECLARED_CASES, ids=[c[0] for c in DECLARED_CASES]
)
def test_declared_numeric_type_is_used_when_safe(conn, expression, declared, expected):
    with conn.transaction():
        cursor = cursor_for(conn, f"SELECT {expression} AS v")
        (spec,) = field_specs(cursor.description, [OutputColumn("v", ColumnInfo("v", declared))])
        rows = cursor.fetchmany(1)
        cursor.close()
    assert spec.datatype == expected
    data = b"".join(get_writer("votable").write([spec], [rows], ResultStatus(), {}))
    assert len(parse(io.BytesIO(data)).get_first_table().array) == 1


def test_too_large_for_declared_type_is_an_error_trailer(conn):
    with conn.transaction():
        cursor = cursor_for(conn, "SELECT 5000000000::int8 AS v")
        fields = field_specs(cursor.description, [OutputColumn("v", ColumnInfo("v", "int"))])
        rows = cursor.fetchmany(1)
        cursor.close()
    status = ResultStatus()
    b"".join(get_writer("votable").write(fields, [rows], status, {}))
    assert status.error.startswith("result column 'v' (int)")


def test_star_output_expands_to_cursor_columns(conn):
    """An upload's ``*`` stands for the columns PostgreSQL expanded it to; metadata stays aligned."""
    ra = ColumnInfo("ra", "double", unit="deg")
    with conn.transaction():
        cursor = cursor_for(conn, "SELECT 1::int4 AS a, 'x'::text AS b, 2.0::float8 AS ra")
        specs = field_specs(cursor.description, [OutputColumn("*", None), OutputColumn("ra", ra)])
        cursor.close()
    assert [(s.name, s.datatype, s.unit) for s in specs] == [
        ("a", "int", None),
        ("b", "unicodeChar", None),
        ("ra", "double", "deg"),
    ]


SOURCE_TABLE = """
CREATE TEMP TABLE writer_rows AS
SELECT i AS id,
       i::int8 * 1000000007 AS source_id,
       CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 360)::float8 + 0.125 END AS ra,
       CASE WHEN i % 11 = 0 THEN 'NaN'::float4 ELSE (i / 3.0)::float4 END AS g_mag,
       (i % 3 = 0) AS flag,
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'star ' || i || ' é<&>' END AS name,
       CASE WHEN i % 13 = 0 THEN NULL
            ELSE array_fill((i / 10.0)::float8, ARRAY[i % 4]) END AS coeffs,
       (i % 100)::numeric(10, 2) / 3 AS ratio,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute' AS observed
FROM generate_series(1, 2500) AS i
"""


@pytest.mark.parametrize("fmt", ["votable", "votable/b", "votable/td", "csv", "fits"])
def test_database_rows_round_trip(conn, fmt):
    """2,500 rows fetched in batches from PostgreSQL come back identical through each format."""
    with conn.transaction():
        conn.execute(SOURCE_TABLE)
        cursor = cursor_for(conn, "SELECT * FROM writer_rows ORDER BY id")
        fields = field_specs(cursor.description)
        batches = iter(lambda: cursor.fetchmany(333), [])
        status = ResultStatus()
        data = b"".join(get_writer(fmt).write(fields, batches, status, {"QUERY": "q"}))
        cursor.close()
        rows = conn.execute("SELECT * FROM writer_rows ORDER BY id").fetchall()
        conn.execute("DROP TABLE writer_rows")
    assert status.error is None
    if fmt == "fits":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = Table.read(io.BytesIO(data), format="fits")
    elif fmt == "csv":
        table = Table.read(io.BytesIO(data), format="ascii.csv")
    else:
        table = pyvo.dal.TAPResults(parse(io.BytesIO(data))).to_table()
    assert len(table) == 2500
    for i in (0, 4, 6, 10, 12, 1234, 2499):
        expected = rows[i]
        got = table[i]
        assert got["id"] == expected[0] and got["source_id"] == expected[1]
        _check_float(got["ra"], expected[2])
        _check_float(got["g_mag"], expected[3], float32=True)
        assert _text(got["name"]) == (expected[5] or "")
        assert math.isclose(float(got["ratio"]), float(expected[7]))
        observed = expected[8].astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
        assert _text(got["observed"]) == observed
        if fmt != "csv":
            assert bool(got["flag"]) == expected[4]
            assert _array(got["coeffs"]) == (expected[6] or [])


def _array(value) -> list[float]:
    if value is None or value is np.ma.masked:
        return []
    return [float(x) for x in np.ma.getdata(value)]


def _text(value) -> str:
    if value is None or value is np.ma.masked:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _check_float(got, expected, float32: bool = False):
    if expected is None or math.isnan(expected):
        assert got is np.ma.masked or math.isnan(got)
    elif float32:
        assert np.float32(got) == np.float32(expected)
    else:
        assert float(got) == expected


def test_timestamps_are_iso_utc(conn):
    with conn.transaction():
        cursor = cursor_for(
            conn,
            "SELECT timestamptz '2024-03-01 12:30:00+02' AS t, "
            "timestamp '2024-03-01 12:30:00.25' AS u",
        )
        fields = field_specs(cursor.description)
        batch = cursor.fetchmany(1)
        cursor.close()
    data = b"".join(get_writer("csv").write(fields, [batch], ResultStatus(), {}))
    assert data.decode().splitlines() == ["t,u", "2024-03-01T10:30:00Z,2024-03-01T12:30:00.250000"]
    assert fields[0].xtype == "timestamp"
    assert datetime.fromisoformat("2024-03-01T10:30:00")  # DALI timestamps parse as ISO-8601
