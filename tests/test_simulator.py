"""`xpha simulate` end to end: determinism, ids, real readers (GaiaXPy, xpha ingest, SDSS)."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import psycopg
import pytest
from typer.testing import CliRunner

from ingest.simulator.generator import SimulationConfig
from ingest.simulator.pipeline import simulate
from ingest.simulator.sky import healpix_level12

CONFIG = dict(n_sources=1200, seed=7, chunk_rows=500, sdss_fraction=0.004, lamost_fraction=0.05)


def _digest(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sky(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sky")
    simulate(SimulationConfig(**CONFIG), out, "fits", progress=False)
    return out


def test_same_seed_gives_byte_identical_output(sky, tmp_path):
    simulate(SimulationConfig(**CONFIG), tmp_path, "fits", progress=False)
    assert _digest(tmp_path) == _digest(sky)
    other = tmp_path / "other"
    simulate(SimulationConfig(**{**CONFIG, "seed": 8}), other, "fits", progress=False)
    assert _digest(other)["truth.csv"] != _digest(sky)["truth.csv"]


def test_source_ids_carry_their_healpix_cell(sky):
    import pandas as pd

    truth = pd.read_csv(sky / "truth.csv")
    assert truth["source_id"].is_unique and len(truth) == CONFIG["n_sources"]
    cells = healpix_level12(truth["ra"].to_numpy(), truth["dec"].to_numpy())
    assert np.array_equal(truth["source_id"].to_numpy() // 2**35, cells)
    # the disc: most sources within |b| < 15 deg
    from astropy.coordinates import SkyCoord

    b = SkyCoord(ra=truth["ra"], dec=truth["dec"], unit="deg").galactic.b.deg
    assert np.mean(np.abs(b) < 15) > 0.6


def test_truth_table_and_classes(sky):
    import pandas as pd

    truth = pd.read_csv(sky / "truth.csv")
    assert set(truth["emitter_class"]) <= {"none", "be", "ttauri", "dme", "hard_negative"}
    emitters = truth[truth["emitter_class"].isin(["be", "ttauri", "dme"])]
    assert (emitters["ew_halpha_true"] > 0).all()
    assert (truth.loc[truth["emitter_class"] == "hard_negative", "ew_halpha_true"] < 0).all()
    assert (truth.loc[truth["emitter_class"] == "none", "ew_halpha_true"] == 0).all()
    assert truth["phot_g_mean_mag"].between(9.5, 18.2).all()
    assert truth["sdss_spec"].notna().sum() >= 1


def test_gaiaxpy_reads_every_format_and_agrees(sky, tmp_path):
    import gaiaxpy

    from ingest.xp_physics.calibration import merged_sampling

    config = SimulationConfig(n_sources=40, seed=2, chunk_rows=40)
    reference = None
    for fmt in ("fits", "csv", "ecsv"):
        out = tmp_path / fmt
        simulate(config, out, fmt, progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spectra, _ = gaiaxpy.calibrate(
                str(out / "xp_continuous" / f"xp_continuous_000.{fmt}"), save_file=False
            )
        flux = np.stack(spectra["flux"].to_numpy())
        if reference is None:
            from astropy.table import Table

            table = Table.read(out / "xp_continuous" / "xp_continuous_000.fits")
            bp = np.stack([np.asarray(v, float) for v in table["bp_coefficients"]])
            rp = np.stack([np.asarray(v, float) for v in table["rp_coefficients"]])
            reference = merged_sampling().flux(bp, rp)
        assert flux.shape == (40, 343)
        assert np.nanmax(np.abs(flux - reference)) <= 1e-12 * np.nanmax(np.abs(reference))


def test_xpha_ingest_loads_the_simulated_files(sky, db_url):
    from ingest.gaia_source import ingest_source
    from ingest.gaia_xp import ingest_xp

    ingest_xp([sky / "xp_continuous"], db_url, progress=False)
    ingest_source([sky / "gaia_source"], db_url, progress=False)
    with psycopg.connect(db_url) as conn:
        n_xp, n_bp = conn.execute(
            "SELECT count(*), count(bp_coefficients) FROM gaia.xp_continuous"
        ).fetchone()
        n_source = conn.execute("SELECT count(*) FROM gaia.source").fetchone()[0]
    assert n_xp == n_source == CONFIG["n_sources"]
    assert n_bp >= n_xp - 5


def test_sdss_files_go_through_the_labelling_reader(sky):
    from ingest.sdss_spectra import read_spectrum

    files = sorted((sky / "sdss").glob("spec-*.fits"))
    assert files
    for path in files:
        spectrum = read_spectrum(path)
        assert spectrum.object_class == "STAR" and spectrum.z == 0.0
        wavelength = 10**spectrum.loglam
        assert wavelength[0] < 6564.61 < wavelength[-1]
        assert (spectrum.ivar == 0).any() and (spectrum.ivar > 0).mean() > 0.9


def test_simulate_cli_and_truth_loading(tmp_path, db_url, monkeypatch):
    from xpha.cli import _register_commands, app

    monkeypatch.setenv("XPHA_DATABASE_URL", db_url)
    from sql.settings import clear_cached_settings

    clear_cached_settings()
    _register_commands()
    runner = CliRunner()
    result = runner.invoke(app, [
        "simulate", "--out", str(tmp_path), "--n-sources", "300", "--seed", "4",
        "--lamost-fraction", "0.2", "--no-progress", "--load-truth",
    ])  # fmt: skip
    clear_cached_settings()
    assert result.exit_code == 0, result.output
    assert "loaded 300 truth rows" in result.output
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT emitter_class), min(seed) FROM labels.simulation_truth"
        ).fetchone()
    assert rows[0] == 300 and rows[2] == 4
    lamost = (tmp_path / "lamost_emitters.csv").read_text().splitlines()
    assert lamost[0].startswith("ID,RAJ2000,DEJ2000,Halpha_type,objtype_Hou")
    assert len(lamost) > 1


def test_labeller_measures_the_sdss_epoch_ew(tmp_path):
    """The labelling code's H-alpha EW on the simulated SDSS spectra recovers the truth for
    lines narrow enough for its +-7 A window (dMe/T Tauri-like); broad lines lose flux there.
    The continuum comes from the smooth XP spectrum, whose curvature under the 125 A window
    gives line-free stars |EW| of up to a few A."""
    import pandas as pd

    from ingest.halpha import measure
    from ingest.sdss_spectra import read_spectrum
    from ingest.simulator.population import scaled_mixture

    config = SimulationConfig(n_sources=150, seed=5, chunk_rows=150, sdss_fraction=1.0,
                              mixture=scaled_mixture(8.0))  # fmt: skip
    simulate(config, tmp_path, "fits", progress=False)
    truth = pd.read_csv(tmp_path / "truth.csv")
    measured = measure([read_spectrum(tmp_path / "sdss" / name) for name in truth["sdss_spec"]])
    assert all(reason is None for reason in measured.reason)
    none = truth["emitter_class"] == "none"
    assert np.all(np.abs(measured.ew[none]) < 4.0)
    assert np.median(np.abs(measured.ew[none])) < 1.0
    narrow = (truth["line_sigma_nm"] > 0) & (truth["line_sigma_nm"] <= 0.3)
    assert narrow.sum() >= 5
    expected = truth.loc[narrow, "sdss_ew"].to_numpy()
    error = np.abs(measured.ew[narrow] - expected)
    assert np.all(error < 0.1 * np.abs(expected) + 4.0)
    strong = expected > 8.0
    assert np.all(np.abs(measured.ew[narrow][strong] / expected[strong] - 1) < 0.3)


def test_sdss_labels_of_line_free_stars_are_negative(tmp_path):
    """Only the truth table's line makes an SDSS positive: the XP-resolution structure of the
    parent continuum near H-alpha (which once made a third of the positives) is smoothed away."""
    import pandas as pd

    from ingest.halpha import apply_rule, measure
    from ingest.sdss_spectra import read_spectrum

    config = SimulationConfig(n_sources=400, seed=7, chunk_rows=400, sdss_fraction=1.0)
    simulate(config, tmp_path, "fits", progress=False)
    truth = pd.read_csv(tmp_path / "truth.csv")
    measured = measure([read_spectrum(tmp_path / "sdss" / name) for name in truth["sdss_spec"]])
    positive = np.array(apply_rule(measured, ["STAR"] * len(truth)).is_emitter, dtype=bool)
    line_free = truth["sdss_ew"].fillna(0.0).to_numpy() <= 0
    assert line_free.sum() > 300
    assert positive[line_free].sum() == 0
    assert np.median(np.abs(measured.ew_reported[line_free])) < 0.5


def test_lamost_catalogue_loads_through_the_label_reader(sky, db_url):
    """The LAMOST-like catalogue is read as Hou+2016; H II-region entries are not stellar."""
    import pandas as pd

    from ingest.lamost import load_rows, read_csv_rows

    path = sky / "lamost_emitters.csv"
    names, rows = read_csv_rows(path)
    read, distinct = load_rows(names, rows, "sim_lamost", path.name, url=db_url)
    catalogue = pd.read_csv(path)
    assert read == distinct == len(catalogue) > 0
    with psycopg.connect(db_url) as conn:
        stellar = dict(conn.execute(
            "SELECT obj_class = 'HII-region', bool_and(NOT is_stellar) FROM labels.lamost_els "
            "GROUP BY 1"
        ).fetchall())  # fmt: skip
    assert stellar.get(True) is True  # every H II region flagged non-stellar
    truth = pd.read_csv(sky / "truth.csv").dropna(subset=["lamost_id"])
    assert set(truth["lamost_id"]) == set(catalogue["ID"])
    hii = catalogue.loc[catalogue["objtype_Hou"] == "HII-region", "ID"]
    assert set(truth.loc[truth["lamost_id"].isin(hii), "emitter_class"]) <= {
        "none",
        "hard_negative",
    }


@pytest.mark.parametrize("fmt", ["csv", "ecsv"])
def test_xpha_ingest_reads_text_formats_identically(fmt, tmp_path, db_url):
    """CSV/ECSV chunks load to the same coefficients as the FITS ones (same seed)."""
    from ingest.gaia_xp import ingest_xp

    config = SimulationConfig(n_sources=60, seed=9, chunk_rows=60)
    simulate(config, tmp_path / fmt, fmt, progress=False)
    simulate(config, tmp_path / "fits", "fits", progress=False)
    ingest_xp([tmp_path / fmt / "xp_continuous"], db_url, progress=False)
    with psycopg.connect(db_url) as conn:
        loaded = dict(conn.execute(
            "SELECT source_id, rp_coefficients FROM gaia.xp_continuous"
        ).fetchall())  # fmt: skip
    from astropy.table import Table

    table = Table.read(tmp_path / "fits" / "xp_continuous" / "xp_continuous_000.fits")
    assert len(loaded) == 60
    for source_id, rp in zip(table["source_id"], table["rp_coefficients"], strict=True):
        assert np.array_equal(np.asarray(loaded[int(source_id)]), np.asarray(rp))


def test_rerun_into_the_same_directory_leaves_no_stale_chunks(tmp_path):
    simulate(
        SimulationConfig(n_sources=90, seed=1, chunk_rows=30), tmp_path, "fits", progress=False
    )
    keep = tmp_path / "xp_continuous" / "notes.txt"
    keep.write_text("mine")
    simulate(
        SimulationConfig(n_sources=40, seed=1, chunk_rows=30), tmp_path, "fits", progress=False
    )
    chunks = sorted(p.name for p in (tmp_path / "xp_continuous").glob("xp_continuous_*"))
    assert chunks == ["xp_continuous_000.fits", "xp_continuous_001.fits"]
    assert keep.read_text() == "mine"


@pytest.mark.parametrize(
    ("entries", "error"),
    [
        ([{"name": "be", "fraction": 0.5, "ew_min": 5, "ew_max": 50, "sigma_min_nm": 0.3,
           "sigma_max_nm": 1.0}], None),
        ([{"name": "none", "fraction": 0.5, "ew_min": 5, "ew_max": 50, "sigma_min_nm": 0.3,
           "sigma_max_nm": 1.0}], "not allowed"),
        ([{"name": "be", "fraction": 0.7, "ew_min": 5, "ew_max": 50, "sigma_min_nm": 0.3,
           "sigma_max_nm": 1.0}] * 2, "more than 1"),
        ([{"name": "be", "fraction": 0.1, "ew_min": 0, "ew_max": 50, "sigma_min_nm": 0.3,
           "sigma_max_nm": 1.0}], "ew_min"),
        ([{"name": "be", "fraction": 0.1}], "ew_max"),
    ],
)  # fmt: skip
def test_mixture_files(tmp_path, entries, error):
    import json

    from ingest.simulator.population import draw_lines, load_mixture
    from sql.errors import XphaError

    path = tmp_path / "mixture.json"
    path.write_text(json.dumps(entries))
    if error:
        with pytest.raises(XphaError, match=error):
            load_mixture(path)
        return
    lines = draw_lines(np.random.default_rng(0), 4000, load_mixture(path))
    assert np.mean(lines.class_index == 1) == pytest.approx(0.5, abs=0.03)
    assert np.all(
        (lines.ew[lines.class_index == 1] >= 5) & (lines.ew[lines.class_index == 1] <= 50)
    )
