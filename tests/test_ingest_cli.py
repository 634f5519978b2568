"""`xpha ingest` as a person runs it: the real console script against the test database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ingest_support import table_state

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
XPHA = Path(sys.executable).with_name("xpha")


def run_xpha(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XPHA_DATABASE_URL": url, "XPHA_INGEST_CHUNK_ROWS": "1"}
    return subprocess.run(
        [str(XPHA), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_ingest_commands_load_report_and_fail_in_one_line(
    real_data: Path, tmp_path: Path, db_url: str
) -> None:
    xp = real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW_with_missing_BP.csv"
    source = real_data / "astroquery_gaia/1712337806100O-result.ecsv"
    done = run_xpha("ingest", "gaia-xp", str(xp), url=db_url)
    assert done.returncode == 0, done.stderr
    assert f"{xp}: 3 rows read, 3 new" in done.stdout
    done = run_xpha("ingest", "gaia-source", str(source), url=db_url)
    assert done.returncode == 0, done.stderr
    assert f"{source}: 5 rows read, 5 new" in done.stdout
    again = run_xpha("ingest", "gaia-xp", str(xp), url=db_url)
    assert "already loaded (same checksum), skipped" in again.stdout
    before = table_state(db_url)

    bad = tmp_path / "bad.csv"
    bad.write_text(xp.read_text().replace("(", "(x", 1))
    failed = run_xpha("ingest", "gaia-xp", str(bad), url=db_url)
    assert failed.returncode == 1
    # the progress bars clear themselves with cursor movements; the error is the last line
    lines = [ANSI.sub("", line).strip() for line in failed.stderr.splitlines()]
    lines = [line for line in lines if line]
    assert lines[-1].startswith(f"error: {bad}, data row 1, column 'bp_coefficients'")
    assert "Traceback" not in failed.stderr
    assert table_state(db_url) == before
