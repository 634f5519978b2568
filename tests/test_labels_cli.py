"""`xpha labels ...` end to end on real files: measure, lamost, crossmatch, summary, review."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from sql.settings import clear_cached_settings
from xpha import cli


@pytest.fixture
def xpha(db_url: str, monkeypatch):
    monkeypatch.setenv("XPHA_DATABASE_URL", db_url)
    clear_cached_settings()
    cli._register_commands() if not any(
        getattr(g, "name", None) == "labels" for g in cli.app.registered_groups
    ) else None
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli.app, list(args))
    clear_cached_settings()


def test_labels_commands(xpha, db_url: str, real_data: Path, tmp_path: Path) -> None:
    spectra = tmp_path / "spectra"
    spectra.mkdir()
    for f in (real_data / "sdss_spectra").glob("spec-*.fits"):
        shutil.copy(f, spectra / f.name)
    (spectra / "spec-0001-51000-0001.fits").write_bytes(b"garbage")
    with psycopg.connect(db_url) as conn:  # the galaxy's Gaia neighbour, 0.1 arcsec away
        conn.execute(
            "INSERT INTO gaia.source (source_id, ra, dec) VALUES (7, %s, 5.5155945)",
            (205.68507 + 0.1 / 3600,),
        )
    result = xpha("labels", "measure", str(spectra))
    assert result.exit_code == 0, result.output
    assert "3 spectra: 2 measured, 1 unmeasurable" in result.output
    lamost = real_data / "lamost_emission_bestars" / "Hou2016_VPHAS-SDSS-IPHAS-2MASS.csv"
    result = xpha("labels", "lamost", str(lamost))
    assert "catalogue hou2016 now has 979 entries" in result.output, result.output
    result = xpha("labels", "crossmatch", "--radius-arcsec", "1")
    assert "sdss: 1 of 3 entries matched" in result.output, result.output
    result = xpha("labels", "summary")
    assert result.exit_code == 0 and "training labels" in result.output
    # the galaxy's narrow lines keep the West window, the quasar's broad H-alpha does not
    assert "measured, narrow window" in result.output
    assert "measured, broad window" in result.output
    result = xpha("labels", "review", "--out", str(tmp_path / "review"), "--which", "all")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "review" / "contact_sheet.png").stat().st_size > 10_000
    assert (tmp_path / "review" / "halpha_0854-52373-0369.png").exists()
    assert (tmp_path / "review" / "halpha_2114-53848-0443.png").stat().st_size > 10_000
