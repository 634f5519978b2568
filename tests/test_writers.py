"""Result writers: every format round-trips through the readers astronomers use.

VOTable goes through astropy's parser and pyvo's result class (which reads QUERY_STATUS),
CSV/TSV through astropy's ASCII readers, FITS through astropy.io.fits. The cases are a table:
one FIELD, its values (NULLs, NaN, extremes, arrays, awkward strings) and what must come back.
"""

from __future__ import annotations

import base64
import io
import math
import re
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice

import numpy as np
import pytest
import pyvo
from astropy.io import ascii as astropy_ascii
from astropy.io import fits
from astropy.io.votable import parse
from astropy.table import Table
from lxml import etree

from tap_service.writers import FORMATS, OUTPUT_FORMATS, FieldSpec, ResultStatus, get_writer
from tap_service.writers.fields import unique_names

VOTABLE_FORMATS = ["votable", "votable/b", "votable/td"]
ALL_FORMATS = [*VOTABLE_FORMATS, "csv", "tsv", "fits"]
NS = {"v": "http://www.ivoa.net/xml/VOTable/v1.3"}
NAN = math.nan

# (case id, FIELD, cell values, expected values as read back; None = NULL)
CASES = [
    ("short", FieldSpec("a", "short"), [1, None, -32767, 32767], None),
    ("int", FieldSpec("a", "int"), [7, None, -(2**31) + 1, 2**31 - 1], None),
    ("long", FieldSpec("a", "long"), [2**62, None, -(2**63) + 1, 5_000_000_000_000], None),
    (
        "double",
        FieldSpec("a", "double", unit="deg"),
        [1.5, None, NAN, math.inf, -math.inf, 1e-300],
        None,
    ),
    ("float", FieldSpec("a", "float"), [0.1, None, NAN, 3.4e38], None),
    (
        "numeric",
        FieldSpec("a", "double"),
        [Decimal("1.25"), None, Decimal("NaN")],
        [1.25, None, NAN],
    ),
    ("boolean", FieldSpec("a", "boolean"), [True, False, None], None),
    ("char", FieldSpec("a", "char", "*"), ["abc", None, 'x <&> "y", z', "tab\tend"], None),
    (
        "unicode",
        FieldSpec("a", "unicodeChar", "*"),
        ["héllo", "中文", None, "ζ < 1 & ω > 2", "😀 star"],
        None,
    ),
    (
        "timestamp",
        FieldSpec("a", "char", "*", xtype="timestamp"),
        [datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC), datetime(2016, 7, 1), None],
        ["2024-01-02T03:04:05.500000Z", "2016-07-01T00:00:00", None],
    ),
    (
        "var double array",
        FieldSpec("a", "double", "*", unit="e-/s"),
        [[1.0, 2.0, 3.5], None, [], [NAN, -1e10], [0.25] * 55],
        None,
    ),
    (
        "fixed float array",
        FieldSpec("a", "float", "3"),
        [[1.0, 2.0, 3.0], None, [NAN, 0.5, -0.5]],
        None,
    ),
    ("var int array", FieldSpec("a", "int", "*"), [[1, 2, 3], None, [-5]], None),
    (
        "2-d array",
        FieldSpec("a", "double", "2x2"),
        [None, [[1.0, 2.0], [3.0, 4.0]]],
        [None, [1.0, 2.0, 3.0, 4.0]],
    ),
    (
        "point",
        FieldSpec("a", "double", "2", xtype="point"),
        [[10.0, -20.0], "(0.174532925199433 , 0.523598775598299)", None],
        [[10.0, -20.0], [10.0, 30.0], None],
    ),
]

# What a format (or astropy, which never masks VOTable strings) cannot keep apart:
# (format, datatype kind) -> the value a NULL reads back as.
LOSSY_NULL = {
    ("fits", "boolean"): False,
    ("votable", "text"): "",
    ("votable/td", "text"): "",
    ("votable/b", "text"): "",
}


def write(fmt: str, fields, batches, status=None, infos=None) -> bytes:
    writer = get_writer(fmt)
    assert writer is not None
    status = status or ResultStatus()
    return b"".join(writer.write(fields, batches, status, infos or {}))


def read_back(fmt: str, data: bytes, fields) -> list[list]:
    """The cells of every column as plain Python values (None for NULL)."""
    if fmt in VOTABLE_FORMATS:
        table = parse(io.BytesIO(data)).get_first_table().to_table()
        return [[_plain(v) for v in table[f.name]] for f in fields]
    if fmt == "fits":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = Table.read(io.BytesIO(data), format="fits")
        return [[_plain(v) for v in table[f.name]] for f in fields]
    reader = "ascii.csv" if fmt == "csv" else "ascii.tab"
    table = Table.read(
        io.BytesIO(data), format=reader, converters={"*": [astropy_ascii.convert_numpy(str)]}
    )
    return [[_from_text(f, v) for v in table[f.name]] for f in fields]


def _plain(value):
    if value is np.ma.masked:
        return None
    if isinstance(value, np.ma.MaskedArray):  # flattened: VOTable order, first index fastest
        mask = np.ma.getmaskarray(value).ravel()
        return [None if m else _plain(x) for x, m in zip(value.data.ravel(), mask, strict=True)]
    if isinstance(value, np.ndarray):
        return [_plain(x) for x in value.ravel()]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _from_text(spec: FieldSpec, text):
    """A CSV/TSV cell (read by astropy as text) as the value it stands for."""
    if text is np.ma.masked:
        return None
    text = str(text)
    if spec.is_array:
        inner = text.strip("[]")
        return [_scalar_from_text(spec.datatype, x) for x in inner.split(", ")] if inner else []
    return _scalar_from_text(spec.datatype, text)


def _scalar_from_text(datatype: str, text: str):
    if datatype in ("short", "int", "long"):
        return int(text)
    if datatype in ("float", "double"):
        return float(text)
    if datatype == "boolean":
        return {"True": True, "False": False}[text]
    return text


def same(fmt: str, spec: FieldSpec, expected, got) -> bool:
    """Equal as the format can express it: NaN equals NaN, float32 precision for floats."""
    kind = "text" if spec.datatype in ("char", "unicodeChar") else spec.datatype
    if expected is None and (fmt, kind) in LOSSY_NULL:
        expected = LOSSY_NULL[(fmt, kind)]
    if spec.datatype in ("float", "double"):
        if spec.is_array:
            if expected is None:
                # NULL arrays: empty (variable) or all NaN/masked (fixed), or NULL
                return got is None or all(_missing(x) for x in got)
            return (
                got is not None
                and len(got) == len(expected)
                and all(_same_float(spec, e, g) for e, g in zip(expected, got, strict=True))
            )
        return _same_float(spec, expected, got)
    if spec.is_array and expected is None:
        return got is None or got == []
    return expected == got


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _same_float(spec: FieldSpec, expected, got) -> bool:
    # A NULL float and a NaN are one "missing value" to these readers (astropy masks NaN).
    if _missing(expected) or _missing(got):
        return _missing(expected) and _missing(got)
    if spec.datatype == "float":
        return np.float32(expected) == np.float32(got)
    if spec.xtype:  # geometry converted from pgSphere radians
        return math.isclose(expected, got, rel_tol=1e-12)
    return expected == got


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize(("case", "spec", "values", "expected"), CASES, ids=[c[0] for c in CASES])
def test_round_trip(fmt, case, spec, values, expected):
    expected = values if expected is None else expected
    if fmt == "tsv" and spec.datatype == "char":
        expected = [None if v is None else v.replace("\t", " ") for v in expected]
    if fmt in ("csv", "tsv") and spec.datatype in ("char", "unicodeChar"):
        expected = [v or None for v in expected]  # CSV/TSV: an empty string is a NULL
    # Two key columns around the case so that rows are never blank lines in CSV/TSV.
    fields = [FieldSpec("k", "int"), spec, FieldSpec("z", "int")]
    rows = [(i, v, -i) for i, v in enumerate(values)]
    # Odd batch sizes: base64 pieces that are not multiples of 3 bytes must still concatenate.
    data = write(fmt, fields, [rows[:1], rows[1:2], rows[2:]])
    keys, got, tail = read_back(fmt, data, fields)
    assert keys == list(range(len(rows))) and tail == [-i for i in range(len(rows))]
    mismatches = [(e, g) for e, g in zip(expected, got, strict=True) if not same(fmt, spec, e, g)]
    assert not mismatches, f"{fmt} {case}: expected vs got {mismatches}"


def votable_tree(data: bytes):
    root = etree.fromstring(data)
    assert root.tag == f"{{{NS['v']}}}VOTABLE" and root.get("version") == "1.4"
    return root


def statuses(root) -> list[str]:
    return [i.get("value") for i in root.iterfind(".//v:INFO[@name='QUERY_STATUS']", NS)]


MIXED = [
    FieldSpec("id", "long", ucd="meta.id;meta.main"),
    FieldSpec("flux", "double", "*", unit="e-/s", description="XP <flux> & errors"),
    FieldSpec("name", "unicodeChar", "*"),
]
MIXED_ROWS = [(i, [float(i)] * (i % 4), f"star {i} é") for i in range(10)]


@pytest.mark.parametrize("fmt", VOTABLE_FORMATS)
@pytest.mark.parametrize(
    ("status", "trailer"),
    [
        (ResultStatus(), ["OK"]),
        (ResultStatus(overflow=True), ["OK", "OVERFLOW"]),
        (ResultStatus(error="UsageFault: query timed out"), ["OK", "ERROR"]),
        (ResultStatus(overflow=True, error="FatalFault: disk full"), ["OK", "ERROR"]),
    ],
    ids=["ok", "overflow", "error", "error-wins"],
)
def test_query_status_trailer(fmt, status, trailer):
    data = write(fmt, MIXED, [MIXED_ROWS], status, {"QUERY": "SELECT TOP 10 *\nFROM t"})
    root = votable_tree(data)
    assert statuses(root) == trailer
    resource = root.find("v:RESOURCE", NS)
    assert resource.get("type") == "results"
    children = [etree.QName(c).localname for c in resource]
    assert children.index("TABLE") > children.index("INFO")  # QUERY_STATUS=OK first
    if len(trailer) > 1:
        assert children[-1] == "INFO"  # the final status follows the table
    votable = parse(io.BytesIO(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if status.error:
            with pytest.raises(pyvo.dal.DALQueryError, match=re.escape(status.error)):
                pyvo.dal.TAPResults(votable)
            return
        results = pyvo.dal.TAPResults(votable)
        results.check_overflow_warning()  # what pyvo's TAPQuery.execute() does
    overflowed = any(issubclass(w.category, pyvo.dal.DALOverflowWarning) for w in caught)
    assert overflowed == status.overflow
    assert len(results) == 10 and results["name", 3] == "star 3 é"
    assert results.infos["QUERY"] == "SELECT TOP 10 *\nFROM t"


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_error_mid_stream_closes_one_document(fmt):
    def batches():
        yield MIXED_ROWS[:4]
        raise RuntimeError("connection to the database lost")

    status = ResultStatus()
    data = write(fmt, MIXED, batches(), status)
    assert status.error == "RuntimeError: connection to the database lost"
    if fmt == "fits":
        hdus = fits.open(io.BytesIO(data))
        assert hdus[0].header["QRYSTAT"] == "ERROR"
        assert "database lost" in hdus[0].header["QRYERROR"]
        assert len(hdus[1].data) == 4
        return
    if fmt in ("csv", "tsv"):
        assert len(data.decode().splitlines()) == 1 + 4  # the rows before the failure
        return
    root = votable_tree(data)  # well-formed: one document, one root
    assert data.count(b"<VOTABLE") == 1 and statuses(root) == ["OK", "ERROR"]
    assert len(parse(io.BytesIO(data)).get_first_table().array) == 4
    with pytest.raises(pyvo.dal.DALQueryError, match="database lost"):
        pyvo.dal.TAPResults(parse(io.BytesIO(data)))


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_bad_value_mid_stream_is_an_error_trailer(fmt):
    """A row the FIELD cannot hold (wrong fixed arraysize) ends the result with a clear error."""
    fields = [FieldSpec("k", "int"), FieldSpec("v", "double", "3")]
    status = ResultStatus()
    data = write(fmt, fields, [[(1, [1.0, 2.0, 3.0])], [(2, [1.0, 2.0])]], status)
    assert "'v' declares arraysize 3 but row 1 of this batch has 2 elements" in status.error
    if fmt in VOTABLE_FORMATS:
        assert statuses(votable_tree(data)) == ["OK", "ERROR"]


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("batches", [[], [[]]], ids=["no-batches", "empty-batch"])
def test_empty_and_metadata_only(fmt, batches):
    """MAXREC=0 and empty results: all the FIELDs with units/UCDs, no rows, status OK."""
    data = write(fmt, MIXED, batches)
    if fmt in VOTABLE_FORMATS:
        root = votable_tree(data)
        assert statuses(root) == ["OK"]
        fields = root.findall(".//v:FIELD", NS)
        assert [f.get("name") for f in fields] == ["id", "flux", "name"]
        assert fields[1].get("unit") == "e-/s" and fields[1].get("arraysize") == "*"
        assert fields[1].findtext("v:DESCRIPTION", namespaces=NS) == "XP <flux> & errors"
        assert fields[0].get("ucd") == "meta.id;meta.main"
        results = pyvo.dal.TAPResults(parse(io.BytesIO(data)))
        assert len(results) == 0 and results.fieldnames == ("id", "flux", "name")
    elif fmt == "fits":
        table = Table.read(io.BytesIO(data), format="fits")
        assert len(table) == 0 and table.colnames == ["id", "flux", "name"]
        assert str(table["flux"].unit) == "e-/s"
    else:
        assert data.decode().splitlines() == ["id,flux,name" if fmt == "csv" else "id\tflux\tname"]


def test_binary2_null_flag_is_not_nan():
    """BINARY2 keeps NULL (flag set) apart from NaN (a value): decoded here by hand."""
    data = write("votable", [FieldSpec("x", "double")], [[(None,), (NAN,), (2.0,)]])
    stream = re.search(rb'<STREAM encoding="base64">(.*)</STREAM>', data, re.S).group(1)
    raw = base64.b64decode(stream)
    records = [raw[i : i + 9] for i in range(0, len(raw), 9)]
    assert [r[0] for r in records] == [0x80, 0, 0]
    values = [np.frombuffer(r[1:], ">f8")[0] for r in records]
    assert math.isnan(values[1]) and values[2] == 2.0


def test_binary_declares_integer_nulls():
    data = write("votable/b", [FieldSpec("x", "int"), FieldSpec("y", "double")], [[(None, None)]])
    root = votable_tree(data)
    values = root.find(".//v:FIELD[@name='x']/v:VALUES", NS)
    assert values is not None and values.get("null") == str(-(2**31))
    assert root.find(".//v:FIELD[@name='y']/v:VALUES", NS) is None


def test_fields_remembered_per_serialisation():
    """FIELD elements are remembered: the same column written in BINARY2, then BINARY, then
    BINARY2 again declares its null value only in BINARY (the head is the one made anew)."""
    spec = FieldSpec("x", "int", description='a "quoted" <one>')
    heads = [
        write(fmt, [spec], [[(None,)]]).split(b"<DATA>")[0]
        for fmt in ("votable", "votable/b", "votable", "votable/b")
    ]
    assert heads[0] == heads[2] and heads[1] == heads[3] and b"<VALUES" not in heads[0]
    assert b'<VALUES null="-2147483648"/>' in heads[1]
    assert b'<DESCRIPTION>a "quoted" &lt;one&gt;</DESCRIPTION>' in heads[0]


def test_fits_header_carries_metadata_and_nulls():
    fields = [
        FieldSpec("source_id", "long", ucd="meta.id", description="Gaia DR3 id"),
        FieldSpec("coeffs", "double", "*", unit="e-/s"),
        FieldSpec("latent", "float", "4"),
        FieldSpec("label", "char", "*"),
    ]
    rows = [
        (1, [1.0, 2.0], [1.0, 2.0, 3.0, 4.0], "Be"),
        (None, None, None, None),
        (3, [5.0] * 7, [NAN] * 4, "CV star"),
    ]
    data = write(
        "fits",
        fields,
        [rows[:2], rows[2:]],
        ResultStatus(overflow=True),
        {"QUERY": "SELECT * FROM xpha.emitters"},
    )
    assert len(data) % 2880 == 0
    hdus = fits.open(io.BytesIO(data))
    assert hdus[0].header["QRYSTAT"] == "OVERFLOW"
    header = hdus[1].header
    assert (header["TFORM1"], header["TNULL1"], header["TUCD1"]) == ("K", -(2**63), "meta.id")
    assert header["TFORM2"] == "PD(7)" and header["TUNIT2"] == "e-/s"
    assert (header["TFORM3"], header["TFORM4"]) == ("4E", "7A")
    assert header["TCOMM1"] == "Gaia DR3 id"
    assert "TDIM3" not in header
    table = Table.read(io.BytesIO(data), format="fits")
    assert table["source_id"].mask.tolist() == [False, True, False]
    assert [list(v) for v in table["coeffs"]] == [[1.0, 2.0], [], [5.0] * 7]


def test_fits_spools_rather_than_buffering(tmp_path):
    """The FITS rows pass through a temporary file in the spool directory, removed at the end."""
    from tap_service.writers.fits import FitsWriter

    writer = FitsWriter(spool_dir=str(tmp_path))
    chunks = writer.write(MIXED, [MIXED_ROWS], ResultStatus(), {})
    first = next(chunks)
    assert first.startswith(b"SIMPLE  =")
    assert len(list(tmp_path.iterdir())) <= 1  # an anonymous (unlinked) or named spool
    rest = b"".join(chunks)
    assert len(Table.read(io.BytesIO(first + rest), format="fits")) == 10
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", [f for f in ALL_FORMATS if f != "fits"])
def test_streams_batch_by_batch(fmt):
    """Output starts before the rows end: a bounded number of batches is consumed per chunk."""
    consumed = 0

    def endless():
        nonlocal consumed
        while True:
            consumed += 1
            yield MIXED_ROWS

    chunks = get_writer(fmt).write(MIXED, endless(), ResultStatus(), {})
    out = list(islice(chunks, 5))
    assert consumed <= 5 and sum(map(len, out)) > 0
    chunks.close()


def test_many_batches_base64_concatenate():
    fields = [FieldSpec("k", "int"), FieldSpec("s", "unicodeChar", "*")]
    rows = [(i, "x" * (i % 5)) for i in range(1000)]
    sizes = [1, 2, 3, 5, 7, 11]
    batches, start = [], 0
    while start < len(rows):
        size = sizes[len(batches) % len(sizes)]
        batches.append(rows[start : start + size])
        start += size
    table = parse(io.BytesIO(write("votable", fields, batches))).get_first_table().array
    assert table["k"].tolist() == list(range(1000))
    assert table["s"].tolist() == ["x" * (i % 5) for i in range(1000)]


def test_infos_and_names_are_escaped():
    fields = [FieldSpec('we"ird', "int", description="a\x01b")]
    infos = {
        "QUERY": "SELECT * FROM t WHERE a < 'x' & b > 1",
        "REQUEST_DATE": "2026-01-01T00:00:00",
        "SERVICE_PROTOCOL": ("1.1", "ivo://ivoa.net/std/TAP"),
    }
    data = write("votable/td", fields, [[(1,)]], infos=infos)
    root = votable_tree(data)
    found = {
        i.get("name"): (i.get("value"), i.text) for i in root.iterfind("v:RESOURCE/v:INFO", NS)
    }
    assert found["QUERY"] == (infos["QUERY"], None)
    assert found["REQUEST_DATE"] == ("2026-01-01T00:00:00", None)
    assert found["SERVICE_PROTOCOL"] == ("1.1", "ivo://ivoa.net/std/TAP")
    assert b"SERVICE_PROTOCOL: 1.1 ivo://" in write("fits", fields, [[(1,)]], infos=infos)
    assert root.find(".//v:FIELD", NS).get("name") == 'we"ird'


@pytest.mark.parametrize(
    ("responseformat", "content_type"),
    [
        (None, "application/x-votable+xml"),
        ("", "application/x-votable+xml"),
        ("votable", "application/x-votable+xml"),
        ("VOTable", "application/x-votable+xml"),
        ("application/x-votable+xml", "application/x-votable+xml"),
        ("application/x-votable+xml; serialization=BINARY2", "application/x-votable+xml"),
        ("votable/td", "application/x-votable+xml"),
        ("votabletd", "application/x-votable+xml"),
        ("votable/b2", "application/x-votable+xml"),
        ("csv", "text/csv"),
        ("text/csv", "text/csv"),
        ("tsv", "text/tab-separated-values"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("fits", "application/fits"),
        ("application/fits", "application/fits"),
        ("parquet", None),
        ("text/html", None),
        ("votable/xx", None),
    ],
)
def test_get_writer(responseformat, content_type):
    writer = get_writer(responseformat)
    assert (writer.content_type if writer else None) == content_type


def test_serialisations_by_alias():
    assert get_writer("votable/td").serialization == "TABLEDATA"
    assert get_writer("votable/b").serialization == "BINARY"
    assert get_writer("votable").serialization == "BINARY2"
    mimes = {f.mime for f in OUTPUT_FORMATS}
    assert {"text/csv", "application/fits", "text/tab-separated-values"} <= mimes
    assert all(name == name.lower() for name in FORMATS)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["ra", "dec"], ["ra", "dec"]),
        (["ra", "ra", "RA"], ["ra", "ra_2", "RA_3"]),
        (["?column?", "count(*)"], ["_column_", "count___"]),
        (["1st", ""], ["col_1st", "col"]),
        (["a b", "a_b"], ["a_b", "a_b_2"]),
    ],
)
def test_unique_names(names, expected):
    specs = unique_names([FieldSpec(n, "int") for n in names])
    assert [s.name for s in specs] == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("votable", "caf? ok"),
        ("votable/b", "caf? ok"),
        ("votable/td", "café ok"),
        ("csv", "café ok"),
    ],
)
def test_char_is_ascii_in_binary_votable(fmt, expected):
    """A 'char' FIELD promises ASCII (astropy refuses anything else in BINARY/BINARY2)."""
    fields = [FieldSpec("s", "char", "*")]
    ((got,),) = zip(*read_back(fmt, write(fmt, fields, [[("café ok",)]]), fields), strict=True)
    assert got == expected


@pytest.mark.parametrize(
    ("cell", "degrees"),
    [
        ("(0.5235987755982988 , -0.7853981633974483)", [30.0, -45.0]),
        ("<(3.141592653589793 , 0) , 0.017453292519943295>", [180.0, 0.0, 1.0]),
        (
            "{(0 , 0),(0.1 , 0),(0 , 0.1)}",
            [0.0, 0.0, 5.729577951308232, 0.0, 0.0, 5.729577951308232],
        ),
        ("(10d , -20.5d)", [10.0, -20.5]),
        ([1.0, 2.0], [1.0, 2.0]),
    ],
)
def test_pgsphere_geometry_becomes_dali_degrees(cell, degrees):
    from tap_service.writers.columns import geometry

    assert np.allclose(geometry(cell), degrees, rtol=1e-12)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_wrong_type_names_the_column(fmt):
    fields = [FieldSpec("k", "int"), FieldSpec("flux", "double")]
    status = ResultStatus()
    write(fmt, fields, [[(1, 2.0)], [(2, "abc")]], status)
    assert status.error.startswith("result column 'flux' (double): could not convert")


def test_float_heavy_batches_convert_like_the_plain_way():
    """The one-pass record conversion (float-heavy batches) gives what per-column conversion does."""
    from tap_service.writers.columns import convert, convert_rows

    fields = [FieldSpec(f"d{i}", "double" if i % 2 else "float") for i in range(6)]
    fields.append(FieldSpec("n", "long"))
    cells = [1.5, None, NAN, Decimal("2.25"), -math.inf, 7]
    rows = [
        (*tuple(cells[(i + j) % len(cells)] for j in range(6)), i if i % 3 else None)
        for i in range(12)
    ]
    fast = convert_rows(fields, rows)
    plain = [convert(s, c) for s, c in zip(fields, zip(*rows, strict=True), strict=True)]
    for spec, a, b in zip(fields, fast, plain, strict=True):
        assert a.null.tolist() == b.null.tolist(), spec.name
        assert np.array_equal(a.values, b.values, equal_nan=True), spec.name
    assert fast[0].null.tolist() == [v is None for v in (r[0] for r in rows)]


def test_fits_multidimensional_arrays_carry_tdim():
    fields = [FieldSpec("m", "double", "3x2")]
    data = write("fits", fields, [[([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],)]])
    hdu = fits.open(io.BytesIO(data))[1]
    assert (hdu.header["TFORM1"], hdu.header["TDIM1"]) == ("6D", "(3,2)")
    assert hdu.data["m"][0].tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
