"""STILTS taplint (the validator TOPCAT's author maintains) over a live server: no E, W or F.

For reference, GAVO DaCHS 2.7 on this machine gets 0 errors and 11 warnings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from tap_support import live_server, seed_field, tap_settings

STILTS = shutil.which("stilts")
ALL_STAGES = "TMV TME TMS TMC CPV CAP AVV QGE QPO QAS UWS MDQ OBS LOC UPL EXA"
REPORT_LINE = re.compile(r"^([EWF])-([A-Z]{3})-([A-Z0-9]{4})-\S+\s+(.*)$")

pytestmark = pytest.mark.skipif(STILTS is None, reason="stilts (Debian package) not installed")


@pytest.fixture(scope="module")
def tap_url(module_db_url: str) -> Iterator[str]:
    seed_field(module_db_url, 1000)
    with live_server(tap_settings(module_db_url)) as root:  # the default configuration
        yield f"{root}/tap"


def taplint(tap_url: str, stages: str) -> tuple[list[tuple[str, str, str]], str]:
    """Run taplint; the E/W/F report lines as (level, stage, text), and the raw output."""
    result = subprocess.run(
        [STILTS, "taplint", f"tapurl={tap_url}", f"stages={stages}", "report=EWFS", "maxrepeat=20"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    reports = [
        (m.group(1), m.group(2), m.group(4))
        for m in map(REPORT_LINE.match, output.splitlines())
        if m
    ]
    assert "Totals:" in output, output[-3000:]
    return reports, output


# We publish no ObsCore/ObsLocTAP tables; taplint says so as a FAILURE of those stages.
NOT_PUBLISHED = re.compile(r"^No table with name ivoa\.(obscore|obsplan)$", re.I)


def test_taplint_all_stages_clean(tap_url: str) -> None:
    reports, output = taplint(tap_url, ALL_STAGES)
    reports = [r for r in reports if not (r[0] == "F" and NOT_PUBLISHED.match(r[2]))]
    totals = re.search(r"Totals: Errors: (\d+); Warnings: (\d+)", output)
    assert totals is not None, output[-3000:]
    assert reports == [], "\n".join(f"{lvl}-{stage} {text}" for lvl, stage, text in reports)
    assert totals.groups() == ("0", "0")
