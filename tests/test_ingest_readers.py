"""to_column, the one place where file values become typed columns: a table of cases."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import readers
from ingest.bulk import IngestError
from ingest.readers import read_table, table_format, to_column

MASKED = np.ma.MaskedArray([1, 2, 3], mask=[False, True, False])
CASES = [  # (raw values, type, array length, expected values (NULL as None))
    (pa.array(["1", "", None, " 7 "]), "smallint", None, [1, None, None, 7]),
    (pa.array(["True", "false", "", "T"]), "boolean", None, [True, False, None, True]),
    (
        pa.array(["1.5", "nan", "-inf", "1e300"]),
        "double precision",
        None,
        [1.5, None, -np.inf, 1e300],
    ),
    (np.array([1.0, np.nan, 3.0]), "integer", None, [1, None, 3]),
    (MASKED, "bigint", None, [1, None, 3]),
    (np.array([True, False]), "boolean", None, [True, False]),
    (
        pa.array(["(1, 2)", "[3,4]", "", "()", "[null, 5]"]),
        "real[]",
        2,
        [[1, 2], [3, 4], None, None, [np.nan, 5]],
    ),
    (
        np.ma.MaskedArray(
            [[1.0, 2.0], [0, 0], [np.nan, np.nan]],
            mask=[[False, True], [True, True], [False, False]],
        ),
        "double precision[]",
        2,
        [[1, np.nan], None, None],
    ),
    (
        np.array([np.array([1.0, 2.0]), None, np.array([3.0, 4.0])], dtype=object),
        "double precision[]",
        2,
        [[1, 2], None, [3, 4]],
    ),
    # a band that is NaN throughout is missing, whatever the format
    (pa.array(["(nan, nan)", "(1, nan)"]), "real[]", 2, [None, [1, np.nan]]),
    (
        np.array([np.array([np.nan, np.nan]), np.array([np.nan, 2.0])], dtype=object),
        "double precision[]",
        2,
        [None, [np.nan, 2]],
    ),
    (np.array([[np.nan, np.nan], [0.0, 0.0]]), "double precision[]", 2, [None, [0, 0]]),
]
ERRORS = [  # (raw values, type, array length, message, data row of the error)
    (pa.array(["1", "40000"]), "smallint", None, "'40000' is not a valid int16", 2),
    (np.array([1.0, 2.5]), "integer", None, "2.5 is not a valid integer", 2),
    (np.array([1, 2**40]), "integer", None, "is not a valid integer", 2),
    (pa.array(["yes"]), "boolean", None, "'yes' is not a boolean", 1),
    (pa.array(["(1, 2)", "(1, x)"]), "real[]", 2, "unparsable array element 'x'", 2),
    (pa.array(["(1, 2)", "(1, 2, 3)"]), "real[]", 2, "array of 3 values, expected 2", 2),
    (np.array(["a", "b"]), "real", None, "numbers are expected", 1),
    # the archive's spelling: the row is named all the same
    (pa.array(["[1,2]", "[1,x]"]), "real[]", 2, "unparsable array element 'x'", 2),
    (pa.array(["[1,2]", "[1,2,3]"]), "real[]", 2, "array of 3 values, expected 2", 2),
    (pa.array(["[1,2,3]", "[4]"]), "real[]", 2, "array of 3 values, expected 2", 1),
    (pa.array(["[1,2][3,4]", "[]"]), "real[]", 2, "array of 3 values, expected 2", 1),
]


def as_list(column) -> list:
    out = []
    for value, null in zip(column.values.tolist(), column.null.tolist(), strict=True):
        out.append(None if null else value)
    return out


def same(a: object, b: object) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return (
            a is not None and b is not None and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


@pytest.mark.parametrize(("raw", "pg_type", "length", "expected"), CASES)
def test_values_become_typed_columns(raw, pg_type: str, length, expected: list) -> None:
    column = to_column(raw, pg_type, length, Path("f.csv"), 10, "c")
    got = as_list(column)
    assert all(same(g, e) for g, e in zip(got, expected, strict=True)), got


@pytest.mark.parametrize(("raw", "pg_type", "length", "message", "row"), ERRORS)
def test_bad_values_name_file_row_and_column(
    raw, pg_type: str, length, message: str, row: int
) -> None:
    with pytest.raises(IngestError) as caught:
        to_column(raw, pg_type, length, Path("f.csv"), 10, "c")
    assert message in str(caught.value)
    assert (caught.value.path, caught.value.row, caught.value.column) == ("f.csv", 9 + row, "c")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.CSV.gz", "csv"),
        ("a.ecsv", "ecsv"),
        ("a.fits.gz", "fits"),
        ("a.fit", "fits"),
        ("XP_CONTINUOUS-Gaia DR3 1.xml", "votable"),
        ("a.vot.gz", "votable"),
    ],
)
def test_format_from_name(name: str, fmt: str) -> None:
    assert table_format(Path(name)) == fmt


DAMAGE = {  # how a .csv.gz is damaged
    "truncated": lambda data: data[: len(data) // 2],
    "garbled": lambda data: data[:5000] + bytes(b ^ 0x55 for b in data[5000:5100]) + data[5100:],
    "bad CRC": lambda data: data[:-8] + bytes(8),
}


def gzipped_csv(tmp_path: Path, n_rows: int = 20_000) -> tuple[Path, bytes]:
    rng = np.random.default_rng(3)
    text = "a,b\n" + "".join(
        f'{i},"[{x:.9f},{-x:.9f}]"\n' for i, x in enumerate(rng.random(n_rows))
    )
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(text.encode(), compresslevel=6))
    return path, path.read_bytes()


def test_gzipped_text_reads_like_plain_text(tmp_path: Path) -> None:
    path, _ = gzipped_csv(tmp_path)
    plain = tmp_path / "t.csv"
    plain.write_bytes(gzip.decompress(path.read_bytes()))
    for a, b in zip(read_table(path, 7000), read_table(plain, 7000), strict=True):
        assert (a.first_row, a.n_rows) == (b.first_row, b.n_rows)
        assert all(a.columns[k].equals(b.columns[k]) for k in ("a", "b"))


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_gzip_names_the_file(damage: str, tmp_path: Path) -> None:
    path, data = gzipped_csv(tmp_path)
    path.write_bytes(DAMAGE[damage](data))
    with pytest.raises(IngestError, match=r"t\.csv\.gz.*: unreadable CSV") as caught:
        for _ in read_table(path, 7000):
            pass
    assert caught.value.path == str(path)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(IngestError, match=r"a\.parquet: unknown table format"):
        table_format(Path("a.parquet"))


# --- the archive's spelling, parsed where it lies, against the exact path ---------------------
ARCHIVE_SPELLINGS = [  # (cells, array length, whether the archive path parses them itself)
    (["[1,2]", "[3.5,-4e-3]"], 2, True),
    (["[1,2]", None, "[]", "()", "[nan,-inf]", "(+1,.5)"], 2, True),
    (["[7]", "[]", "[nan]"], 1, True),
    ([None, "[]", "()"], 2, True),  # no array at all: every row NULL
    (["[nan,nan]", "[1,NaN]", "[Infinity,1e30]"], 2, True),  # NaN throughout: NULL
    (["[1, 2]", "[3,4]"], 2, False),  # spaces
    (["[1,null]", "[,2]", "[--,3]"], 2, False),  # masked elements
    ([" [1,2]", "[3,4]"], 2, False),  # a space before the bracket
    (["[ ]", "[1,2]"], 2, False),  # an empty array spelled with a space
    (["1,2", "[3,4]"], 2, False),  # no brackets
    (["[[1,2]]", "[3,4]"], 2, False),  # doubled brackets
    (["[1,2)", "(3,4]"], 2, True),  # either bracket closes, as when trimmed
]


def exact(raw: pa.Array, pg_type: str, length: int) -> readers.ChunkColumn:
    np_type = np.dtype(readers.PG_SCALARS[pg_type.removesuffix("[]")][0]).newbyteorder("=")
    return readers._exact_text_arrays(raw, np_type, length, Path("f.csv"), 1, "c")


def assert_same_column(got: readers.ChunkColumn, want: readers.ChunkColumn) -> None:
    assert got.values.dtype == want.values.dtype
    assert got.values.tobytes() == want.values.tobytes()  # bit for bit, NaN included
    assert got.null is not None and want.null is not None
    assert np.array_equal(got.null, want.null)


@pytest.mark.parametrize(("cells", "length", "archive"), ARCHIVE_SPELLINGS)
@pytest.mark.parametrize("pg_type", ["real[]", "double precision[]"])
def test_archive_spelling_parses_as_the_exact_path(
    cells: list, length: int, archive: bool, pg_type: str
) -> None:
    raw = pa.array(cells, pa.string())
    np_type = np.dtype(readers.PG_SCALARS[pg_type.removesuffix("[]")][0]).newbyteorder("=")
    assert (readers._archive_arrays(raw, np_type, length) is not None) == archive
    got = to_column(raw, pg_type, length, Path("f.csv"), 1, "c")
    assert_same_column(got, exact(raw, pg_type, length))


FLOAT32 = st.floats(width=32, allow_nan=True, allow_infinity=True)
FLOAT64 = st.floats(allow_nan=True, allow_infinity=True)


def archive_cell(values: list[float] | None) -> str | None:
    """A cell as the archive (and the simulator's writer) spell it; None and [] are empty."""
    return None if values is None else "[" + ",".join(repr(v) for v in values) + "]"


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    length=st.integers(1, 6),
    double=st.booleans(),
    block_rows=st.integers(1, 5),
    start=st.integers(0, 3),
)
def test_archive_arrays_equal_the_exact_path(
    data: st.DataObject, length: int, double: bool, block_rows: int, start: int
) -> None:
    """Random values, empty and null cells, sliced and chunked columns, small parse blocks:
    the archive path takes every such column and gives the exact path's bits."""
    cell = st.lists(FLOAT64 if double else FLOAT32, min_size=length, max_size=length)
    rows = data.draw(st.lists(st.one_of(cell, st.none(), st.just([])), max_size=12))
    cells = [archive_cell(row) for row in rows]
    raw = pa.array(["[0]"] * start + cells, pa.string()).slice(start)  # an offset into buffers
    pg_type = "double precision[]" if double else "real[]"
    want = exact(raw, pg_type, length)
    split = data.draw(st.integers(0, len(cells)))
    chunked = pa.chunked_array([raw.slice(0, split), raw.slice(split)], pa.string())
    old = readers.ARCHIVE_BLOCK_ROWS
    readers.ARCHIVE_BLOCK_ROWS = block_rows
    try:
        for column in (raw, chunked):
            np_type = want.values.dtype
            assert readers._archive_arrays(column, np_type, length) is not None
            assert_same_column(to_column(column, pg_type, length, Path("f.csv"), 1, "c"), want)
    finally:
        readers.ARCHIVE_BLOCK_ROWS = old
