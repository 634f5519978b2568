"""The columnar fetch (binary COPY -> numpy -> writers) against the row-tuple path it replaces.

Every case runs the same ADQL through both paths on a real database and requires the same
document, byte for byte (the request date aside), in every output format: NULLs, booleans,
integer types narrowed by TAP_SCHEMA, empty results, the row limit and OVERFLOW. The stream
decoder is checked against the whole-stream parser for every way a stream can be cut.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg.pq import Trace, TransactionStatus
from tap_support import seed_field, tap_settings

from sql.binary_copy import TRAILER, CopyColumn, CopyFormatError, pack, parse, stream
from sql.varlen_copy import TEXT, VARIABLE, Varlen
from sql.varlen_copy import stream as varlen_stream
from tap_service.adql import translate
from tap_service.columnar import copy_blocks, shape
from tap_service.errors import UsageFault
from tap_service.query import TapEngine, TapRequest, _fetch_columns, run_query

N_SOURCES = 1200
FETCH_ROWS = 250  # several batches per result, and a limit that cuts one in the middle

# --- the stream decoder ----------------------------------------------------------------------
LAYOUT = [
    CopyColumn("nulls0", "int8"),
    CopyColumn("a", "int4"),
    CopyColumn("b", "float8"),
    CopyColumn("c", "bool"),
    CopyColumn("d", "int2"),
]


def packed(n: int) -> tuple[bytes, dict[str, np.ndarray]]:
    rng = np.random.default_rng(n)
    arrays = {
        "nulls0": rng.integers(0, 16, n),
        "a": rng.integers(-9, 9, n).astype(np.int32),
        "b": rng.normal(size=n),
        "c": rng.random(n) < 0.5,
        "d": rng.integers(-9, 9, n).astype(np.int16),
    }
    return pack(arrays, LAYOUT), arrays


# (rows, chunk size in bytes, batch rows)
STREAM_CASES = [
    (0, 7, 10),
    (1, 1, 10),
    (10, 3, 4),
    (97, 50, 10),
    (1000, 4096, 128),
    (1000, 10**6, 1000),
    (999, 33, 1),
]


@pytest.mark.parametrize(("n", "chunk", "batch"), STREAM_CASES)
def test_stream_equals_parse(n: int, chunk: int, batch: int) -> None:
    data, arrays = packed(n)
    batches = list(stream((data[i : i + chunk] for i in range(0, len(data), chunk)), LAYOUT, batch))
    assert [len(b["a"]) for b in batches[:-1]] == [batch] * (len(batches) - 1)
    whole = parse(data, LAYOUT)
    for column in LAYOUT:
        joined = np.concatenate([b[column.name] for b in batches]) if batches else []
        assert np.array_equal(joined, whole[column.name])
        assert np.array_equal(joined, arrays[column.name])


BROKEN_STREAMS = [
    (b"", "ended before its header"),
    (b"not a copy stream at all", "binary signature"),
    (packed(3)[0][:-2] + b"\x00", "without its trailer"),
    (packed(3)[0][:-3] + b"\xff\xff", "not fixed-width"),
]


@pytest.mark.parametrize(("data", "message"), BROKEN_STREAMS)
def test_broken_streams_are_named(data: bytes, message: str) -> None:
    with pytest.raises(CopyFormatError, match=message):
        list(stream([data], LAYOUT, 10))


# --- rows with strings and arrays ---------------------------------------------------------------
VARLEN_SQL = """
SELECT i::int8 AS id, i * 0.5::float8 AS x,
       CASE WHEN i % 5 = 0 THEN NULL WHEN i % 3 = 0 THEN '' WHEN i < 300 THEN 'same'
            ELSE repeat('Å', i % 4) || i END AS t,
       CASE WHEN i % 11 = 0 THEN NULL WHEN i % 13 = 0 THEN '{}'::float8[]
            WHEN i % 17 = 0 THEN ARRAY[[1, 2], [3, i]]::float8[]
            WHEN i % 19 = 0 THEN ARRAY[1, NULL, i]::float8[]
            ELSE array_fill(i::float8, ARRAY[i % 4 + 1]) END AS a,
       ARRAY[i, -i]::int2[] AS s
FROM generate_series(1, %s) AS i
"""
VARLEN_LAYOUT = [
    CopyColumn("id", "int8"),
    CopyColumn("x", "float8"),
    CopyColumn("t", TEXT),
    CopyColumn("a", "float8", VARIABLE),
    CopyColumn("s", "int2", VARIABLE),
]


def expected_rows(url: str, n: int) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(VARLEN_SQL.replace("%s", str(n))).fetchall()


def decoded_rows(batches: list[dict]) -> list[tuple]:
    rows = []
    for batch in batches:
        for i in range(len(batch["id"])):

            def cell(name: str, i: int = i, batch: dict = batch) -> object:
                value: Varlen = batch[name]
                if value.null[i]:
                    return None
                part = value.values[value.offsets[i] : value.offsets[i + 1]]
                return part.tobytes().decode() if name == "t" else part.tolist()

            rows.append(
                (int(batch["id"][i]), float(batch["x"][i]), cell("t"), cell("a"), cell("s"))
            )
    return rows


def flat(value: object) -> object:
    if isinstance(value, list):
        out = []
        for item in value:
            out.extend(flat(item) if isinstance(item, list) else [item])
        return [math.nan if v is None else v for v in out]
    return value


@pytest.mark.parametrize(
    ("n", "chunk", "batch"),
    [(0, 7, 10), (1, 1, 10), (500, 37, 64), (2000, 1 << 20, 2000), (2000, 5, 333)],
)
def test_varlen_stream_decodes_what_postgresql_sends(
    db_url: str, n: int, chunk: int, batch: int
) -> None:
    with (
        psycopg.connect(db_url) as conn,
        conn.cursor().copy(
            f"COPY ({VARLEN_SQL.replace('%s', str(n))}) TO STDOUT (FORMAT binary)"
        ) as copy,
    ):
        data = b"".join(bytes(c) for c in copy)
    batches = list(
        varlen_stream(
            (data[i : i + chunk] for i in range(0, len(data), chunk)), VARLEN_LAYOUT, batch
        )
    )
    assert [len(b["id"]) for b in batches[:-1]] == [batch] * (len(batches) - 1)
    expected = expected_rows(db_url, n)
    got = decoded_rows(batches)
    assert len(got) == n
    for mine, theirs in zip(got, expected, strict=True):
        assert mine[0] == theirs[0] and mine[2] == theirs[2] and mine[4] == theirs[4]
        a, b = flat(mine[3]), flat(theirs[3])
        assert (a is None and b is None) or np.array_equal(a, b, equal_nan=True)


def test_varlen_stream_refuses_a_broken_stream(db_url: str) -> None:
    with (
        psycopg.connect(db_url) as conn,
        conn.cursor().copy(
            f"COPY ({VARLEN_SQL.replace('%s', '50')}) TO STDOUT (FORMAT binary)"
        ) as copy,
    ):
        data = b"".join(bytes(c) for c in copy)
    with pytest.raises(CopyFormatError, match="ends inside a row"):
        list(varlen_stream([data[:-40] + data[-2:]], VARLEN_LAYOUT, 10))
    with pytest.raises(CopyFormatError, match="without its trailer"):
        list(varlen_stream([data[:-2]], VARLEN_LAYOUT, 10))
    wrong = [*VARLEN_LAYOUT[:3], CopyColumn("a", "int4", VARIABLE), VARLEN_LAYOUT[4]]
    with pytest.raises(CopyFormatError, match="not int4"):
        list(varlen_stream([data], wrong, 10))


# --- reading the COPY from libpq in blocks ---------------------------------------------------
BIG_COPY = (
    "COPY (SELECT i, i * 0.5 AS x, md5(i::text) AS t FROM generate_series(1, {n}) AS i)"
    " TO STDOUT (FORMAT binary)"
)


def test_copy_blocks_are_the_rows_psycopg_reads(db_url: str) -> None:
    """The same bytes as psycopg's row-by-row ``Copy``, in blocks of many rows, and the
    connection idle afterwards (the COPY's final result read)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        with conn.cursor().copy(BIG_COPY.format(n=200_000)) as copy:
            rows = b"".join(bytes(row) for row in copy)
        with conn.cursor().copy(BIG_COPY.format(n=200_000)):
            blocks = list(copy_blocks(conn))
        assert b"".join(blocks) == rows and 1 < len(blocks) < 200_000
        assert conn.info.transaction_status == TransactionStatus.IDLE
        with conn.cursor().copy(BIG_COPY.format(n=0)):
            assert b"".join(copy_blocks(conn)).endswith(TRAILER)
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_copy_blocks_raise_what_the_server_sent_mid_stream(db_url: str) -> None:
    """An error after some rows: the rows before it, then psycopg's own exception (SQLSTATE
    and message, as the service reports them); the connection stays usable."""
    sql = "COPY (SELECT 1 / (150000 - i) FROM generate_series(1, 200000) AS i) TO STDOUT"
    with psycopg.connect(db_url, autocommit=True) as conn:
        received = 0
        with (
            pytest.raises(psycopg.errors.DivisionByZero, match="division by zero"),
            conn.cursor().copy(sql),
        ):
            for block in copy_blocks(conn):
                received += block.count(b"\n")
        assert 0 < received < 150_000
        assert conn.execute("SELECT 1").fetchone() == (1,)


# --- both paths on a real database -----------------------------------------------------------
@pytest.fixture(scope="module")
def engines(module_db_url: str) -> Iterator[tuple[TapEngine, TapEngine]]:
    seed_field(module_db_url, N_SOURCES)
    pair = []
    for copy_fetch in (True, False):
        settings = tap_settings(
            module_db_url,
            tap_copy_fetch=copy_fetch,
            tap_pool_size=2,
            tap_fetch_rows=FETCH_ROWS,
            tap_maxrec_default=1000,
            tap_catalog_ttl_s=3600,
        )
        engine = TapEngine(settings, module_db_url)
        engine.open()
        pair.append(engine)
    yield pair[0], pair[1]
    for engine in pair:
        engine.close()


QUERIES = [
    # all numeric: the columnar path (parallax is NULL in every 10th row)
    ("SELECT source_id, ra, dec, parallax, phot_g_mean_mag FROM xpha.gaia_source", True),
    ("SELECT source_id, parallax IS NULL AS no_plx, has_xp_continuous FROM xpha.gaia_source", True),
    (
        "SELECT TOP 300 source_id, score, probability, model_id FROM xpha.emitter_candidates"
        " ORDER BY score DESC",
        True,
    ),
    (
        "SELECT source_id, CAST(1 AS SMALLINT) AS s, ra * 2 AS r, parallax FROM xpha.gaia_source"
        " WHERE parallax IS NULL",
        True,
    ),
    ("SELECT COUNT(*) AS n, AVG(parallax) AS p FROM xpha.gaia_source", True),
    ("SELECT source_id FROM xpha.gaia_source WHERE ra > 1000", True),  # empty
    ("SELECT TOP 250 source_id FROM xpha.gaia_source ORDER BY source_id", True),  # one batch
    # strings and arrays: variable-width COPY rows
    ("SELECT TOP 20 model_id, kind, version FROM xpha.models", True),
    ("SELECT TOP 20 source_id, NULL AS n FROM xpha.gaia_source", True),  # NULL is text
    ("SELECT TOP 20 source_id, bp_coefficients FROM xpha.xp_continuous", True),
    ("SELECT * FROM xpha.emitter_candidates", True),  # the model's kind and version
    ("SELECT TOP 60 * FROM xpha.xp_continuous", True),  # NULL arrays where BP is missing
    ("SELECT * FROM xpha.latents", True),  # arraysize *
    (
        "SELECT TOP 40 source_id, CASE WHEN parallax IS NULL THEN NULL WHEN source_id % 3 = 0"
        " THEN '' ELSE 'Ångström ☃ \"q\", x' END AS t, 'plain' AS p FROM xpha.gaia_source",
        True,
    ),
    (
        "SELECT TOP 30 l.latent, x.rp_coefficient_errors, x.bp_n_parameters FROM xpha.latents AS l"
        " LEFT JOIN xpha.xp_continuous AS x ON x.source_id = l.source_id",
        True,
    ),
    # anything else keeps the row-tuple path
    ("SELECT TOP 20 model_id, trained_at FROM xpha.models", False),  # a timestamp
]
FORMATS = ["votable", "votable/b", "votable/td", "csv", "tsv", "fits"]


def document(engine: TapEngine, adql: str, fmt: str, maxrec: int | None = None) -> bytes:
    result = run_query(TapRequest(adql, maxrec=maxrec, responseformat=fmt), engine, sync=True)
    body = b"".join(result.body)
    body = re.sub(rb'<INFO name="REQUEST_DATE" value="[^"]*"/>', b"", body)
    return re.sub(rb"REQUEST_DATE: \S+", b"", body)


@pytest.mark.parametrize(("adql", "columnar_path"), QUERIES)
def test_path_taken(engines: tuple[TapEngine, TapEngine], adql: str, columnar_path: bool) -> None:
    engine = engines[0]
    translation = translate(adql, engine.catalog(), row_limit=10)
    conn = engine.getconn()
    try:
        fetch = _fetch_columns(
            conn, translation, lambda: engine.begin(conn, 10.0, None), FETCH_ROWS
        )
        assert (fetch is not None) == columnar_path
        if fetch is not None:
            list(fetch.batches)
            fetch.close()
    finally:
        engine.putconn(conn)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("adql", "columnar_path"), QUERIES)
def test_same_document_both_paths(
    engines: tuple[TapEngine, TapEngine], adql: str, columnar_path: bool, fmt: str
) -> None:
    fast, rows = engines
    assert document(fast, adql, fmt) == document(rows, adql, fmt)


# (MAXREC, rows expected, OVERFLOW) over the 1200-row table, cut inside and at batch edges
LIMIT_CASES = [
    (0, 0, False),
    (1, 1, True),
    (249, 249, True),
    (250, 250, True),
    (251, 251, True),
    (1199, 1199, True),
    (1200, 1200, False),
    (5000, 1200, False),
]


@pytest.mark.parametrize(
    "adql",
    [
        "SELECT source_id, parallax FROM xpha.gaia_source",
        "SELECT source_id, model_kind FROM xpha.emitter_candidates",
    ],
)
@pytest.mark.parametrize(("maxrec", "expected", "overflow"), LIMIT_CASES)
def test_limit_and_overflow(
    engines: tuple[TapEngine, TapEngine], maxrec: int, expected: int, overflow: bool, adql: str
) -> None:
    fast, rows = engines
    body = document(fast, adql, "csv", maxrec)
    assert body.count(b"\n") - 1 == expected
    votable = document(fast, adql, "votable", maxrec)
    assert (b'value="OVERFLOW"' in votable) == overflow
    assert votable == document(rows, adql, "votable", maxrec)


@pytest.mark.parametrize("maxrec", [1, 10, 249, 251])
@pytest.mark.parametrize("fmt", ["votable", "csv", "fits"])
def test_limit_cuts_variable_length_arrays(
    engines: tuple[TapEngine, TapEngine], maxrec: int, fmt: str
) -> None:
    fast, rows = engines
    adql = "SELECT source_id, latent FROM xpha.latents"
    assert document(fast, adql, fmt, maxrec) == document(rows, adql, fmt, maxrec)
    assert b'value="ERROR"' not in document(fast, adql, "votable", maxrec)


def test_abandoned_stream_leaves_the_connection_usable(
    engines: tuple[TapEngine, TapEngine],
) -> None:
    """A client that goes away mid-download: the COPY is cancelled, the pool's
    connections serve the next queries."""
    fast, _ = engines
    adql = "SELECT a.source_id, b.ra FROM xpha.gaia_source AS a, xpha.gaia_source AS b"
    result = run_query(TapRequest(adql, maxrec=1_000_000, responseformat="csv"), fast)
    assert next(result.body).startswith(b"source_id,ra")
    next(result.body)
    result.body.close()
    for _ in range(3):  # more queries than the pool has connections
        assert document(fast, "SELECT COUNT(*) AS n FROM xpha.gaia_source", "csv") == (
            f"n\n{N_SOURCES}\n".encode()
        )


def test_errors_before_and_during_the_stream(engines: tuple[TapEngine, TapEngine]) -> None:
    fast, rows = engines
    with pytest.raises(UsageFault, match="division by zero"):
        document(fast, "SELECT 1 / (source_id - source_id) AS x FROM xpha.gaia_source", "csv")
    # fails after the first batch has been sent: a trailing QUERY_STATUS=ERROR in both paths
    conn = fast.getconn()
    try:  # the 601st row in scan order
        [(late,)] = conn.execute("SELECT source_id FROM xpha.gaia_source OFFSET 600 LIMIT 1")
    finally:
        fast.putconn(conn)
    adql = f"SELECT source_id, 1 / (source_id - {late}) AS x FROM xpha.gaia_source"
    body = document(fast, adql, "votable")
    assert b'<INFO name="QUERY_STATUS" value="ERROR">' in body and b"division by zero" in body
    assert body == document(rows, adql, "votable")
    # the engine still answers afterwards
    assert document(fast, "SELECT COUNT(*) AS n FROM xpha.gaia_source", "csv").endswith(
        f"{N_SOURCES}\n".encode()
    )


def sent_statements(engine: TapEngine, trace: Path, adql: str) -> list[str]:
    """The statements (simple or extended protocol) the connection sends for one query, read
    from libpq's trace of what it writes."""
    getconn, putconn = engine.getconn, engine.putconn
    with trace.open("w") as out:

        def traced_getconn() -> psycopg.Connection:
            conn = getconn()
            conn.pgconn.trace(out.fileno())
            conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
            return conn

        def untraced_putconn(conn: psycopg.Connection, *, discard: bool = False) -> None:
            putconn(conn, discard=discard)
            conn.pgconn.untrace()

        engine.getconn, engine.putconn = traced_getconn, untraced_putconn  # type: ignore[method-assign]
        try:
            document(engine, adql, "votable")
        finally:
            del engine.getconn, engine.putconn
    return [
        line.split("\t", 3)[3].strip()
        for line in trace.read_text().splitlines()
        if line.startswith("F\t") and line.split("\t")[2] in ("Query", "Parse")
    ]


def test_a_query_sends_one_statement(engines: tuple[TapEngine, TapEngine], tmp_path: Path) -> None:
    """Once a connection has its statement timeout and the result's shape is known, a query
    without uploads is one statement: its COPY (no transaction, no upload step around it)."""
    fast, _ = engines
    adql = "SELECT TOP 5 source_id, ra FROM xpha.gaia_source WHERE ra > 10"
    document(fast, adql, "votable")  # the description of this shape, cached
    sent = sent_statements(fast, tmp_path / "trace", adql.replace("10", "11"))
    sent = [s for s in sent if not s.startswith('"SET statement_timeout')]  # once a connection
    assert len(sent) == 1 and sent[0].startswith('"COPY'), sent


# --- result descriptions cached by query shape -------------------------------------------------
SHAPE_CASES = [
    # (SQL, shape): numbers by the type PostgreSQL gives them; names and strings untouched
    ("SELECT 1, 2147483647, 2147483648", "SELECT <int4>, <int4>, <int8>"),
    (
        "SELECT 9223372036854775808, 1.5, .5, 1e3, 2E-4",
        "SELECT <numeric>, <numeric>, <numeric>, <numeric>, <numeric>",
    ),
    ("SELECT c0, hpx0_00, t1.x2 FROM t1", "SELECT c0, hpx0_00, t1.x2 FROM t1"),
    ("""SELECT "col 1", 'text 2', 'it''s 3' """, """SELECT "col 1", 'text 2', 'it''s 3' """),
    (
        "q3c_join(56.75, -24.1, ra, dec, 0.5) LIMIT 10001",
        "q3c_join(<numeric>, -<numeric>, ra, dec, <numeric>) LIMIT <int4>",
    ),
]


@pytest.mark.parametrize(("sql", "expected"), SHAPE_CASES)
def test_shape(sql: str, expected: str) -> None:
    assert shape(sql) == expected


# One shape after the other, each literal's type in the result: the cache must not mix them.
SAME_SHAPE_QUERIES = [
    "SELECT TOP 5 source_id, 1 AS k FROM xpha.gaia_source",
    "SELECT TOP 5 source_id, 3000000000 AS k FROM xpha.gaia_source",
    "SELECT TOP 5 source_id, 2.5 * ra AS k FROM xpha.gaia_source",
    "SELECT TOP 5 source_id, 2 * ra AS k FROM xpha.gaia_source",
    "SELECT TOP 7 source_id, 7 AS k FROM xpha.gaia_source",
]


def test_cached_descriptions_follow_literal_types(engines: tuple[TapEngine, TapEngine]) -> None:
    fast, rows = engines
    for _ in range(2):
        for adql in SAME_SHAPE_QUERIES:
            assert document(fast, adql, "votable") == document(rows, adql, "votable"), adql
