"""Measuring a directory of spec files into labels.sdss_spectra: every file ends as a row."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import psycopg
from labels_support import synthetic_spectrum, write_spec_file

from ingest.sdss import measure_files
from ingest.settings import IngestSettings


def test_directory_of_real_synthetic_and_broken_files(
    db_url: str, real_data: Path, tmp_path: Path
) -> None:
    for f in (real_data / "sdss_spectra").glob("spec-*.fits"):
        shutil.copy(f, tmp_path / f.name)
    rng = np.random.default_rng(0)
    write_spec_file(synthetic_spectrum(8.0, 30, rng, fiber=11), tmp_path)
    write_spec_file(synthetic_spectrum(0.0, 40, rng, fiber=12), tmp_path)
    data = (real_data / "sdss_spectra" / "spec-0854-52373-0369.fits").read_bytes()
    (tmp_path / "spec-0854-52373-0370.fits").write_bytes(data[: len(data) // 2])
    (tmp_path / "spec-0854-52373-0371.fits").write_bytes(b"<html>503 Service Unavailable</html>")
    settings = IngestSettings(database_url=None, sdss_measure_batch=3)

    report = measure_files([tmp_path], db_url, settings, progress=False)
    assert (report.files, report.measured, report.unmeasurable) == (6, 4, 2)
    assert (report.positive, report.negative) == (1, 1)
    with psycopg.connect(db_url) as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT spec_id, status, reason, label, class, ew_halpha, flags, epoch"
                " FROM labels.sdss_spectra"
            ).fetchall()
        }
        logged = conn.execute(
            "SELECT rows_read FROM public.ingest_log WHERE kind = 'sdss'"
        ).fetchall()
    assert rows["0854-52373-0370"][:2] == ("unmeasurable", rows["0854-52373-0370"][1])
    assert "truncated" in rows["0854-52373-0370"][1]
    assert "not a FITS file" in rows["0854-52373-0371"][1]
    assert rows["0854-52373-0369"][0] == "measured" and rows["0854-52373-0369"][2] is None
    assert rows["0854-52373-0369"][3] == "GALAXY"
    assert rows["1000-52000-0011"][2] == "positive"
    assert abs(rows["1000-52000-0011"][4] - 8.0) < 1.0
    assert rows["1000-52000-0012"][2] == "negative"
    assert abs(rows["0854-52373-0369"][6] - (2000 + (52373 - 51544.5) / 365.25)) < 1e-9
    assert logged == [(6,)]

    # a re-run replaces the rows: same counts, nothing duplicated
    measure_files([tmp_path], db_url, settings, progress=False)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM labels.sdss_spectra").fetchone() == (6,)


def test_each_row_records_both_windows_and_the_one_reported(db_url: str, tmp_path: Path) -> None:
    """A dMe-like narrow line, a Be-like broad one, and a line-free star, through the database
    into labels.training_labels, whose ew_halpha is the reported (window-chosen) EW."""
    from ingest.crossmatch import crossmatch

    rng = np.random.default_rng(5)
    stars = {  # fiber: (EW, sigma A, expected window)
        21: (6.0, 1.5, "narrow"), 22: (6.0, 10.0, "broad"), 23: (0.0, 1.5, "narrow"),
    }  # fmt: skip
    for fiber, (ew, sigma, _) in stars.items():
        write_spec_file(synthetic_spectrum(ew, 40, rng, sigma_a=sigma, fiber=fiber,
                                           ra=30.0 + fiber / 100, dec=5.0), tmp_path)  # fmt: skip
    settings = IngestSettings(database_url=None)
    measure_files([tmp_path], db_url, settings, progress=False)
    with psycopg.connect(db_url) as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT fiber, ew_window, ew_halpha, ew_halpha_err, ew_narrow, ew_narrow_err,"
                " ew_broad, ew_broad_err, line_sigma, label FROM labels.sdss_spectra"
            ).fetchall()
        }
        conn.execute(
            "INSERT INTO gaia.source (source_id, ra, dec) SELECT fiber, ra, dec"
            " FROM labels.sdss_spectra"
        )
        conn.commit()
    crossmatch("sdss", 1.0, db_url)
    with psycopg.connect(db_url) as conn:
        training = dict(
            conn.execute("SELECT source_id, ew_halpha FROM labels.training_labels").fetchall()
        )
    for fiber, (ew, sigma, window) in stars.items():
        got, ew_halpha, err, narrow, narrow_err, broad, broad_err, line_sigma, label = rows[fiber]
        assert got == window
        assert (ew_halpha, err) == ((broad, broad_err) if window == "broad" else
                                    (narrow, narrow_err))  # fmt: skip
        assert abs(ew_halpha - ew) < 4 * err
        assert label == ("positive" if ew else "negative")
        assert training[fiber] == ew_halpha
        if ew:
            assert abs(line_sigma / sigma - 1) < 0.45  # the nearest template width
    assert rows[22][3] < 0.6 * 6.0  # the West window alone would have lost half the line
