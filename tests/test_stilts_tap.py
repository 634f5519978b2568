"""STILTS tapquery (TOPCAT's TAP engine) against a live server: sync queries and uploads."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from astropy.io import votable
from astropy.table import Table
from tap_support import live_server, seed_field, tap_settings

STILTS = shutil.which("stilts")
pytestmark = pytest.mark.skipif(STILTS is None, reason="stilts (Debian package) not installed")


@pytest.fixture(scope="module")
def seeded(module_db_url: str) -> dict:
    return seed_field(module_db_url, 600)


@pytest.fixture(scope="module")
def tap_url(module_db_url: str, seeded: dict) -> Iterator[str]:
    with live_server(tap_settings(module_db_url)) as root:
        yield f"{root}/tap"


def tapquery(tap_url: str, adql: str, *extra: str) -> list[dict[str, str]]:
    result = subprocess.run(
        [
            STILTS,
            "tapquery",
            f"tapurl={tap_url}",
            f"adql={adql}",
            "sync=true",
            "ofmt=csv",
            "out=-",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_sync_query(tap_url: str, seeded: dict) -> None:
    rows = tapquery(
        tap_url,
        "SELECT TOP 5 source_id, phot_g_mean_mag FROM xpha.gaia_source ORDER BY phot_g_mean_mag",
    )
    brightest = np.sort(seeded["g"])[:5]
    assert np.allclose([float(r["phot_g_mean_mag"]) for r in rows], brightest, rtol=1e-6)


def test_sync_array_columns(tap_url: str) -> None:
    rows = tapquery(tap_url, "SELECT TOP 3 source_id, rp_coefficients FROM xpha.xp_continuous")
    assert len(rows) == 3
    assert all(len(r["rp_coefficients"].strip("()[]").split(",")) == 55 for r in rows)


def test_upload(tap_url: str, seeded: dict, tmp_path: Path) -> None:
    picks = [5, 6, 7]
    table = Table({"ra": seeded["ra"][picks], "dec": seeded["dec"][picks]})
    path = tmp_path / "mine.vot"
    votable.from_table(table).to_xml(str(path))
    rows = tapquery(
        tap_url,
        "SELECT c.source_id FROM TAP_UPLOAD.up1 AS u JOIN xpha.emitter_candidates AS c"
        " ON 1 = CONTAINS(POINT('ICRS', c.ra, c.dec), CIRCLE('ICRS', u.ra, u.dec, 1.0/3600))",
        "nupload=1",
        f"upload1={path}",
        "upname1=up1",
    )
    assert sorted(int(r["source_id"]) for r in rows) == sorted(
        int(seeded["source_id"][i]) for i in picks
    )


def test_error_message_reaches_stilts(tap_url: str) -> None:
    result = subprocess.run(
        [
            STILTS,
            "tapquery",
            f"tapurl={tap_url}",
            "adql=SELECT nothing FROM xpha.models",
            "sync=true",
            "out=-",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "unknown column 'nothing'" in result.stderr + result.stdout
