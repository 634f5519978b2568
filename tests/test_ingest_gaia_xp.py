"""Gaia XP ingest against the real database: every real sample file round-trips, missing bands
are NULL, re-ingest is a no-op, corrupted files roll back naming file and row, resume works."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import psycopg
import pytest
from ingest_support import (
    assert_same,
    astropy_rows,
    database_rows,
    extract_xp_members,
    table_state,
    write_csv,
    xp_rows,
)

from ingest.bulk import IngestError
from ingest.gaia_xp import ingest_xp

XP_COLUMNS = ["source_id", "solution_id"] + [
    f"{band}_{name}"
    for band in ("bp", "rp")
    for name in (
        "basis_function_id",
        "degrees_of_freedom",
        "n_parameters",
        "n_measurements",
        "n_rejected_measurements",
        "standard_deviation",
        "chi_squared",
        "coefficients",
        "coefficient_errors",
        "coefficient_correlations",
        "n_relevant_bases",
        "relative_shrinking",
    )
]

SAMPLES = [
    "gaiaxpy_tests/XP_CONTINUOUS_RAW.csv",
    "gaiaxpy_tests/XP_CONTINUOUS_RAW.ecsv",
    "gaiaxpy_tests/XP_CONTINUOUS_RAW.fits",
    "gaiaxpy_tests/XP_CONTINUOUS_RAW.xml",
    "gaiaxpy_tests/XP_CONTINUOUS_RAW_with_missing_BP.csv",
    "gaiaxpy_tests/18Sco-XP-spectra.csv",
    "xp_spectral_lines/xp_continuous_combined_chunk0.fits",
    "xp_spectral_lines/xp_continuous_combined_weiler2023_examples.vot",
    "astroquery_gaia/gaia_dr3_source_id_5937083312263887616_dl_products_csv.zip",
    "astroquery_gaia/gaia_dr3_source_id_5937083312263887616_dl_products_ecsv.zip",
    "astroquery_gaia/gaia_dr3_source_id_5937083312263887616_dl_products_fits.zip",
    "astroquery_gaia/gaia_dr3_source_id_5937083312263887616_dl_products_vot.zip",
]


def sample_file(real_data: Path, name: str, tmp_path: Path) -> Path:
    path = real_data / name
    return extract_xp_members(path, tmp_path) if path.suffix == ".zip" else path


@pytest.mark.parametrize("name", SAMPLES)
def test_real_file_round_trips(name: str, real_data: Path, tmp_path: Path, db_url: str) -> None:
    path = sample_file(real_data, name, tmp_path)
    (result,) = ingest_xp([path], db_url, chunk_rows=700, progress=False)
    expected = astropy_rows(path)
    assert result.rows_read == result.rows_loaded == len(expected)
    stored = database_rows(db_url, "gaia.xp_continuous", XP_COLUMNS)
    assert sorted(stored) == sorted(expected)
    compared = 0
    for source_id, values in expected.items():
        for column, value in values.items():
            if column in XP_COLUMNS:
                assert_same(value, stored[source_id][column], column, str(source_id))
                compared += 1
    assert compared >= 2 * len(expected)
    if "combined_chunk0" in name:
        assert all(row["bp_coefficient_correlations"] is None for row in stored.values())


def test_missing_bp_band_is_null_not_zeros(real_data: Path, db_url: str) -> None:
    ingest_xp(
        [real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW_with_missing_BP.csv"], db_url, progress=False
    )
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT bp_coefficients, bp_coefficient_errors, bp_coefficient_correlations,"
            " bp_n_parameters, cardinality(rp_coefficients), cardinality(rp_coefficient_correlations)"
            " FROM gaia.xp_continuous WHERE source_id = 5405570973190252288"
        ).fetchone()
        zero_bands = conn.execute(
            "SELECT count(*) FROM gaia.xp_continuous WHERE bp_coefficients = array_fill(0.0::float8,"
            " ARRAY[55]) OR rp_coefficients = array_fill(0.0::float8, ARRAY[55])"
        ).fetchone()[0]
    assert row == (None, None, None, None, 55, 1485)
    assert zero_bands == 0


def test_reingest_is_a_no_op(real_data: Path, tmp_path: Path, db_url: str) -> None:
    path = real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW.fits"
    (first,) = ingest_xp([path], db_url, progress=False)
    before = table_state(db_url)
    (again,) = ingest_xp([path], db_url, progress=False)
    assert again.skipped and not first.skipped
    assert table_state(db_url) == before
    # the same rows in another file (CSV): read, nothing new loaded, logged once
    (other,) = ingest_xp(
        [real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW.csv"], db_url, progress=False
    )
    assert (other.rows_read, other.rows_loaded) == (2, 0)
    assert table_state(db_url)[0] == before[0]


def test_gzip_inputs_load_like_plain_ones(real_data: Path, tmp_path: Path, db_url: str) -> None:
    names = ["XP_CONTINUOUS_RAW.csv", "XP_CONTINUOUS_RAW.ecsv", "XP_CONTINUOUS_RAW.fits"]
    zipped = []
    for name in names:
        target = tmp_path / f"{name}.gz"
        with open(real_data / "gaiaxpy_tests" / name, "rb") as src, gzip.open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        zipped.append(target)
    results = ingest_xp(zipped, db_url, progress=False)
    assert [r.rows_read for r in results] == [2, 2, 2]
    assert [r.rows_loaded for r in results] == [2, 0, 0]
    stored = database_rows(db_url, "gaia.xp_continuous", XP_COLUMNS)
    expected = astropy_rows(real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW.fits")
    for source_id, values in expected.items():
        assert_same(
            values["rp_coefficient_correlations"],
            stored[source_id]["rp_coefficient_correlations"],
            "rp_coefficient_correlations",
        )


# --- corrupted files: (how to corrupt the CSV text, expected row, expected column, message) ----
def _replace_first_bp_value(text: str, replacement: str) -> str:
    """Data row 3's bp_coefficients with its first value replaced (or dropped when empty)."""
    lines = text.split("\n")
    head, rest = lines[3].split('"(', 1)
    _, remainder = rest.split(", ", 1)
    lines[3] = f'{head}"({replacement}{remainder}'
    return "\n".join(lines)


def _drop_array_element(text: str) -> str:
    return _replace_first_bp_value(text, "")


def _bad_element(text: str) -> str:
    return _replace_first_bp_value(text, "1.2.3x, ")


def _truncate(text: str) -> str:
    return text[: len(text) * 3 // 4]


def _wrong_columns(text: str) -> str:
    return text.replace("source_id,", "sourceid,", 1)


CORRUPTIONS = [
    ("54-element array", _drop_array_element, 3, "bp_coefficients", "array of 54 values"),
    ("unparsable array", _bad_element, 3, "bp_coefficients", "unparsable"),
    ("truncated", _truncate, 3, None, "unreadable CSV"),
    ("wrong columns", _wrong_columns, None, None, "missing column(s) source_id"),
]


@pytest.mark.parametrize(
    ("label", "corrupt", "row", "column", "message"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS]
)
def test_corrupted_file_rolls_back_naming_file_and_row(
    label: str,
    corrupt,
    row: int | None,
    column: str | None,
    message: str,
    real_data: Path,
    tmp_path: Path,
    db_url: str,
) -> None:
    good = tmp_path / "a_good.csv"
    shutil.copy(real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW.csv", good)
    ingest_xp([good], db_url, progress=False)
    before = table_state(db_url)
    text = (real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW_with_missing_BP.csv").read_text()
    bad = tmp_path / "b_bad.csv"
    bad.write_text(corrupt(text))
    with pytest.raises(IngestError) as caught:
        ingest_xp([bad], db_url, chunk_rows=1, progress=False)
    error = caught.value
    assert str(bad) in str(error) and message in str(error)
    assert error.row == row
    assert error.column == column
    if row is not None:
        assert f"data row {row}" in str(error)
    assert table_state(db_url) == before


def test_truncated_fits_names_the_row_and_loads_nothing(
    real_data: Path, tmp_path: Path, db_url: str
) -> None:
    source = real_data / "xp_spectral_lines/xp_continuous_combined_chunk0.fits"
    cut = tmp_path / "chunk0_cut.fits"
    data = source.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match=r"chunk0_cut.fits, data row \d+: truncated FITS"):
        ingest_xp([cut], db_url, chunk_rows=100, progress=False)
    assert table_state(db_url) == ((0, 0), (0,), [])


def _vla(rows: list[np.ndarray]) -> np.ndarray:
    return np.array([*rows, None], dtype=object)[:-1]  # keep an object array of arrays


WRONG_LENGTHS = [  # (FITS column format, per-row arrays, data row named)
    ("54D", np.ones((3, 54)), 1),
    ("PD()", _vla([np.ones(55), np.ones(54), np.ones(55)]), 2),
    ("PD()", _vla([np.ones(55), np.ones(55), np.ones(56)]), 3),
]


@pytest.mark.parametrize(("tform", "arrays", "row"), WRONG_LENGTHS)
def test_wrong_length_fits_array_names_row(
    tform: str, arrays: np.ndarray, row: int, tmp_path: Path, db_url: str
) -> None:
    from astropy.io import fits

    path = tmp_path / "short.fits"
    fits.BinTableHDU.from_columns(
        [
            fits.Column(name="source_id", format="K", array=np.array([11, 12, 13])),
            fits.Column(name="bp_coefficients", format=tform, array=arrays),
            fits.Column(name="rp_coefficients", format="55D", array=np.ones((3, 55))),
        ]
    ).writeto(path)
    found = 56 if row == 3 else 54
    with pytest.raises(
        IngestError,
        match=rf"short.fits, data row {row}, column "
        rf"'bp_coefficients': array of {found} values, expected 55",
    ):
        ingest_xp([path], db_url, progress=False)
    assert table_state(db_url) == ((0, 0), (0,), [])


def test_directory_ingest_resumes(real_data: Path, tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "xp"
    folder.mkdir()
    for name in ("XP_CONTINUOUS_RAW.fits", "XP_CONTINUOUS_RAW_with_missing_BP.csv"):
        shutil.copy(real_data / "gaiaxpy_tests" / name, folder / name)
    shutil.copy(
        real_data / "xp_spectral_lines/xp_continuous_combined_weiler2023_examples.vot",
        folder / "z_weiler.vot",
    )
    (folder / "c_broken.csv").write_text("source_id,bp_coefficients,rp_coefficients\n1,(1,2\n")
    with pytest.raises(IngestError, match=r"c_broken\.csv"):
        ingest_xp([folder], db_url, progress=False)
    with psycopg.connect(db_url) as conn:
        logged = [
            r[0] for r in conn.execute("SELECT file_name FROM public.ingest_log ORDER BY ingest_id")
        ]
    assert [Path(p).name for p in logged] == [
        "XP_CONTINUOUS_RAW.fits",
        "XP_CONTINUOUS_RAW_with_missing_BP.csv",
    ]
    (folder / "c_broken.csv").unlink()
    results = ingest_xp([folder], db_url, progress=False)
    assert [r.skipped for r in results] == [True, True, False]
    assert [r.rows_loaded for r in results] == [0, 0, 4]
    assert table_state(db_url)[0][0] == 2 + 1 + 4


def test_csv_bigger_than_a_read_block_streams_in_chunks(tmp_path: Path, db_url: str) -> None:
    rows = xp_rows(3_000)
    path = tmp_path / "big.csv"
    write_csv(rows, path)
    assert path.stat().st_size > 8 << 20  # more than one pyarrow block
    (result,) = ingest_xp([path], db_url, chunk_rows=700, progress=False)
    assert result.rows_read == result.rows_loaded == 3_000
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT source_id, bp_n_relevant_bases, rp_coefficients,"
            " bp_coefficient_errors FROM gaia.xp_continuous ORDER BY source_id"
        ).fetchall()
    np.testing.assert_array_equal([r[0] for r in stored], rows["source_id"])
    np.testing.assert_array_equal([r[1] for r in stored], rows["bp_n_relevant_bases"])
    np.testing.assert_array_equal(np.array([r[2] for r in stored]), rows["rp_coefficients"])
    np.testing.assert_array_equal(
        np.array([r[3] for r in stored], dtype=np.float32), rows["bp_coefficient_errors"]
    )


def test_parallel_directory_ingest_loads_every_file_and_reports_the_bad_one(
    real_data: Path, tmp_path: Path, db_url: str
) -> None:
    folder = tmp_path / "xp"
    folder.mkdir()
    for name in ("XP_CONTINUOUS_RAW.fits", "18Sco-XP-spectra.csv"):
        shutil.copy(real_data / "gaiaxpy_tests" / name, folder / name)
    shutil.copy(
        real_data / "xp_spectral_lines/xp_continuous_combined_chunk0.fits", folder / "chunk0.fits"
    )
    results = ingest_xp([folder], db_url, chunk_rows=500, progress=False, jobs=2)
    assert [Path(r.file_name).name for r in results] == [
        "18Sco-XP-spectra.csv",
        "XP_CONTINUOUS_RAW.fits",
        "chunk0.fits",
    ]
    assert [r.rows_loaded for r in results] == [1, 2, 2000]
    (folder / "b_broken.csv").write_text("source_id,bp_coefficients,rp_coefficients\n1,(1),(2)\n")
    with pytest.raises(IngestError, match=r"b_broken\.csv, data row 1, column 'bp_coefficients'"):
        ingest_xp([folder], db_url, progress=False, jobs=2)
    assert table_state(db_url)[0][0] == 2003


def test_same_rows_in_every_format_give_the_same_table(
    pg_cluster, migrated_template, tmp_path: Path
) -> None:
    from astropy.table import Table
    from ingest_support import write_fits

    rows = xp_rows(300, seed=11)
    rows["rp_coefficients"][7] = np.nan  # a missing band: NULL in every format
    files = {
        "fits": tmp_path / "xp.fits",
        "csv": tmp_path / "xp.csv",
        "ecsv": tmp_path / "xp.ecsv",
        "votable": tmp_path / "xp.vot",
    }
    write_fits(rows, files["fits"], variable_length=True)
    write_csv(rows, files["csv"])
    Table(rows).write(files["ecsv"], format="ascii.ecsv")
    Table(rows).write(files["votable"], format="votable")
    digests = {}
    for fmt, path in files.items():
        name = f"xp_formats_{os.getpid()}_{fmt}"
        url = pg_cluster.ensure_database(name, template=migrated_template.rsplit("/", 1)[-1])
        try:
            (result,) = ingest_xp([path], url, chunk_rows=128, progress=False)
            assert result.rows_loaded == 300
            with psycopg.connect(url) as conn:
                digests[fmt] = conn.execute(
                    "SELECT md5(string_agg(x::text, '|' ORDER BY source_id)),"
                    " count(*) FILTER (WHERE rp_coefficients IS NULL)"
                    " FROM gaia.xp_continuous x"
                ).fetchone()
        finally:
            pg_cluster.drop_database(name)
    assert len(set(digests.values())) == 1, digests
    assert next(iter(digests.values()))[1] == 1


EXTERNAL_REFERENCES = [  # (label, how the real VOTable is changed to point outside itself)
    ("stream_href_file", lambda xml: _binary_stream(xml, 'href="file:///etc/hostname"')),
    ("stream_href_loopback", lambda xml: _binary_stream(xml, 'href="http://127.0.0.1:9/x"')),
    (
        "stream_href_gzip",
        lambda xml: _binary_stream(xml, 'href="file:///etc/hostname" encoding="gzip"'),
    ),
    ("fits_by_reference", lambda xml: _data(xml, '<FITS><STREAM href="file:///etc/x"/></FITS>')),
    (
        "doctype_entity",
        lambda xml: xml.replace(
            "<VOTABLE",
            '<!DOCTYPE VOTABLE [<!ENTITY e SYSTEM "file:///etc/hostname">]>\n<VOTABLE',
            1,
        ),
    ),
]


def _data(xml: str, body: str) -> str:
    start, end = xml.index("<DATA>") + len("<DATA>"), xml.index("</DATA>")
    return xml[:start] + body + xml[end:]


def _binary_stream(xml: str, attributes: str) -> str:
    return _data(xml, f"<BINARY><STREAM {attributes}/></BINARY>")


@pytest.mark.parametrize(
    ("label", "change"), EXTERNAL_REFERENCES, ids=[e[0] for e in EXTERNAL_REFERENCES]
)
def test_a_votable_pointing_outside_itself_is_refused_before_astropy_reads_it(
    label: str, change, real_data: Path, tmp_path: Path, db_url: str
) -> None:
    xml = (real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW.xml").read_text(encoding="utf-8")
    bad = tmp_path / f"{label}.xml"
    bad.write_text(change(xml), encoding="utf-8")
    with pytest.raises(IngestError, match=r"refused VOTable") as caught:
        ingest_xp([bad], db_url, progress=False)
    assert str(bad) in str(caught.value)
    assert table_state(db_url) == ((0, 0), (0,), [])


def test_a_gzip_bomb_votable_is_refused_while_decompressing(
    tmp_path: Path, db_url: str, monkeypatch
) -> None:
    from ingest import readers
    from sql.votable_guard import VOTableLimits

    monkeypatch.setattr(readers, "VOTABLE_LIMITS", VOTableLimits(10**6, 10**7, 10**6, 100))
    bomb = tmp_path / "bomb.vot.gz"
    with gzip.open(bomb, "wb") as out:
        out.write(b"<VOTABLE><RESOURCE><TABLE><FIELD name='a' datatype='int'/><DATA><TABLEDATA>")
        for _ in range(50):
            out.write(b" " * 1_000_000)
    assert bomb.stat().st_size < 10**6 / 10
    with pytest.raises(IngestError, match=r"decompresses to more than 10000000 bytes"):
        ingest_xp([bomb], db_url, progress=False)
