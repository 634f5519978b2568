"""The writers' output as TOPCAT's engine (STIL, via the ``stilts`` command) sees it.

``stilts votlint`` validates each VOTable serialisation against the schema and checks every
value against its FIELD (array sizes, xtypes, binary stream lengths); ``stilts tpipe`` reads
every format back, and the three VOTable serialisations must read back identically.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import pytest
from test_writers import CASES, write

from tap_service.writers import FieldSpec, ResultStatus

pytestmark = pytest.mark.skipif(shutil.which("stilts") is None, reason="needs stilts (Debian)")

FIELDS = [FieldSpec("k", "int")] + [
    FieldSpec(
        case.replace(" ", "_"),
        spec.datatype,
        spec.arraysize,
        spec.unit,
        spec.ucd,
        f"the {case} case <&>",
        spec.xtype,
    )
    for case, spec, _, _ in CASES
]
N = max(len(values) for _, _, values, _ in CASES)
ROWS = [
    tuple([i] + [values[i] if i < len(values) else None for _, _, values, _ in CASES])
    for i in range(N)
]
FILES = {
    "votable": "b2.vot",
    "votable/b": "b.vot",
    "votable/td": "td.vot",
    "csv": "t.csv",
    "fits": "t.fits",
}
FIXED_ARRAYS = ["fixed_float_array", "point", "2-d_array"]
ASCII_SCALARS = ["k", "short", "int", "long", "double", "float", "numeric", "boolean", "timestamp"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stilts")
    infos = {"QUERY": "SELECT * FROM t", "REQUEST_DATE": "2026-01-01T00:00:00"}
    for fmt, name in FILES.items():
        data = write(fmt, FIELDS, [ROWS[:2], ROWS[2:]], ResultStatus(overflow=True), infos)
        (folder / name).write_bytes(data)
    return folder


def stilts(*args: str) -> str:
    done = subprocess.run(["stilts", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def read_with_stil(path, fmt: str) -> list[dict[str, str]]:
    text = stilts("tpipe", f"in={path}", f"ifmt={fmt}", "ofmt=csv", "omode=out")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("fmt", ["votable", "votable/b", "votable/td"])
def test_votlint_finds_nothing(outputs, fmt):
    assert stilts("votlint", f"votable={outputs / FILES[fmt]}").strip() == ""


def test_stil_reads_every_format_alike(outputs):
    binary2 = read_with_stil(outputs / FILES["votable"], "votable")
    assert len(binary2) == N
    assert binary2[0]["unicode"] == "héllo" and binary2[4]["unicode"] == "😀 star"
    assert binary2[2]["char"] == 'x <&> "y", z'
    assert binary2[1]["boolean"] == "false" and binary2[2]["boolean"] == ""
    for fmt in ("votable/b", "votable/td"):
        rows = read_with_stil(outputs / FILES[fmt], "votable")
        for row, reference in zip(rows, binary2, strict=True):
            # Only BINARY2 can flag a whole fixed-size array NULL; the others write NaNs.
            for name in FIXED_ARRAYS:
                if reference[name] == "":
                    assert set(row.pop(name).replace("(", "").replace(")", "").split(", ")) == {
                        "NaN"
                    }
                    reference = {k: v for k, v in reference.items() if k != name}
            assert row == reference, fmt
    for fmt, reader in (("fits", "fits"), ("csv", "csv")):
        rows = read_with_stil(outputs / FILES[fmt], reader)
        got = [{k: r[k] for k in ASCII_SCALARS} for r in rows]
        assert got == [{k: r[k] for k in ASCII_SCALARS} for r in binary2], fmt
