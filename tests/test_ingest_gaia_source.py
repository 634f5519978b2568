"""gaia_source ingest: the archive's recorded results (VOTable, ECSV, and CSV/FITS written from
them) load the gaia.source columns, ignore the rest, and answer Q3C cone queries."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import psycopg
import pytest
from astropy.table import Table
from ingest_support import assert_same, database_rows, table_state

from ingest.bulk import IngestError
from ingest.gaia_source import ingest_source

SOURCE_COLUMNS = [
    "source_id",
    "ra",
    "dec",
    "ra_error",
    "dec_error",
    "ref_epoch",
    "parallax",
    "parallax_error",
    "pmra",
    "pmra_error",
    "pmdec",
    "pmdec_error",
    "ruwe",
    "phot_g_mean_flux",
    "phot_g_mean_flux_error",
    "phot_g_mean_mag",
    "phot_bp_mean_flux",
    "phot_bp_mean_mag",
    "phot_rp_mean_flux",
    "phot_rp_mean_mag",
    "bp_rp",
    "phot_bp_rp_excess_factor",
    "radial_velocity",
    "l",
    "b",
    "has_xp_continuous",
]
FLOAT32 = {
    "ra_error",
    "dec_error",
    "parallax_error",
    "pmra_error",
    "pmdec_error",
    "ruwe",
    "phot_g_mean_flux_error",
    "phot_g_mean_mag",
    "phot_bp_mean_mag",
    "phot_rp_mean_mag",
    "bp_rp",
    "phot_bp_rp_excess_factor",
    "radial_velocity",
}
RECORDED = {"votable": "1710099405832VAL-result.vot", "ecsv": "1712337806100O-result.ecsv"}


def archive_table(real_data: Path, fmt: str) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "votable":
            table = Table.read(real_data / "astroquery_gaia" / RECORDED[fmt], format="votable")
        else:
            table = Table.read(real_data / "astroquery_gaia" / RECORDED["ecsv"])
    table.rename_columns(table.colnames, [c.lower() for c in table.colnames])
    return table


def source_file(real_data: Path, fmt: str, tmp_path: Path) -> Path:
    """The recorded archive file, or (csv, fits) the recorded ECSV rewritten in that format."""
    if fmt in RECORDED:
        return real_data / "astroquery_gaia" / RECORDED[fmt]
    table = archive_table(real_data, "ecsv")
    keep = [c for c in table.colnames if table[c].dtype.kind != "O"]
    path = tmp_path / f"gaia_source.{fmt}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table[keep].write(path, format="ascii.csv" if fmt == "csv" else "fits")
    return path


@pytest.mark.parametrize(("fmt", "n_rows"), [("votable", 2), ("ecsv", 5), ("csv", 5), ("fits", 5)])
def test_archive_results_round_trip(
    fmt: str, n_rows: int, real_data: Path, tmp_path: Path, db_url: str
) -> None:
    path = source_file(real_data, fmt, tmp_path)
    (result,) = ingest_source([path], db_url, progress=False)
    assert result.rows_read == result.rows_loaded == n_rows
    expected = archive_table(real_data, "votable" if fmt == "votable" else "ecsv")
    stored = database_rows(db_url, "gaia.source", SOURCE_COLUMNS)
    assert sorted(stored) == sorted(int(s) for s in expected["source_id"])
    for record in expected:
        row = stored[int(record["source_id"])]
        for column in SOURCE_COLUMNS:
            value = record[column]
            if value is np.ma.masked or (isinstance(value, np.floating) and np.isnan(value)):
                value = None
            elif column in FLOAT32:
                value = float(np.float32(value))
            else:
                value = value.item()
            assert_same(
                value, row[column], column, str(record["source_id"]), float32=column in FLOAT32
            )


def test_nan_photometry_is_null_and_reingest_is_a_no_op(real_data: Path, db_url: str) -> None:
    path = source_file(real_data, "ecsv", Path("."))
    ingest_source([path], db_url, progress=False)
    before = table_state(db_url)
    (again,) = ingest_source([path], db_url, progress=False)
    assert again.skipped and table_state(db_url) == before
    with psycopg.connect(db_url) as conn:
        nulls = conn.execute(
            "SELECT count(*) FILTER (WHERE ruwe IS NULL),"
            " count(*) FILTER (WHERE radial_velocity IS NULL),"
            " count(*) FILTER (WHERE has_xp_continuous) FROM gaia.source"
        )
        assert nulls.fetchone() == (2, 5, 1)


def test_missing_position_column_is_refused(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "no_dec.csv"
    path.write_text("source_id,ra,phot_g_mean_mag\n1,10.0,12.5\n")
    with pytest.raises(
        IngestError,
        match=r"no_dec\.csv: not a gaia_source table: missing "
        r"column\(s\) dec",
    ):
        ingest_source([path], db_url, progress=False)
    bad = tmp_path / "bad_ra.csv"
    bad.write_text("source_id,ra,dec\n1,10.0,5.0\n2,ten,5.0\n")
    with pytest.raises(IngestError, match=r"bad_ra\.csv, data row 2, column 'ra': 'ten'"):
        ingest_source([bad], db_url, progress=False)
    assert table_state(db_url) == ((0, 0), (0,), [])


def test_cone_query_matches_brute_force(real_data: Path, db_url: str) -> None:
    ingest_source([source_file(real_data, "ecsv", Path("."))], db_url, progress=False)
    with psycopg.connect(db_url) as conn:
        ra, dec = conn.execute("SELECT avg(ra), avg(dec) FROM gaia.source").fetchone()
        for radius in (0.001, 0.005, 0.01, 1.0):
            cone = {
                r[0]
                for r in conn.execute(
                    "SELECT source_id FROM gaia.source WHERE q3c_radial_query(ra, dec, %s, %s, %s)",
                    (ra, dec, radius),
                )
            }
            rows = conn.execute("SELECT source_id, ra, dec FROM gaia.source").fetchall()
            brute = {sid for sid, r, d in rows if _separation(ra, dec, r, d) <= radius}
            assert cone == brute


def _separation(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    a1, d1, a2, d2 = map(np.radians, (ra1, dec1, ra2, dec2))
    s = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((a2 - a1) / 2) ** 2
    return float(np.degrees(2 * np.arcsin(np.sqrt(s))))
