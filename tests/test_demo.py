"""The newcomer's path end to end: `xpha demo` at a small size on a throwaway database, then the
candidates through pyvo from the live service; a second run repeats nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pyvo
from readme_support import readme_block, run_python_block
from tap_support import live_server, published_sizes, tap_settings

from xpha.demo import STEPS, DemoPlan, run_demo

SMALL = DemoPlan(n_sources=3000, seed=7, sdss_fraction=0.05, lamost_fraction=0.03, dae_epochs=1)


def test_demo_end_to_end_then_pyvo(db_url: str, tmp_path: Path) -> None:
    settings = tap_settings(
        db_url, var_dir=tmp_path, head_epochs=5, bootstrap_samples=20, baseline_max_rounds=50
    )
    lines: list[str] = []
    ctx = run_demo(SMALL, settings, echo=lines.append)
    finished = [line for line in lines if ": " in line and not line.endswith("...")]
    assert len(finished) == len(STEPS), lines
    report = Path(ctx.facts["report"]).read_text()
    assert "Flagged at P>=0.5 per simulated class" in report  # the simulator's truth has classes

    with live_server(settings) as root:
        tap = pyvo.dal.TAPService(root + "/tap")
        top = tap.run_sync(
            "SELECT TOP 20 source_id, ra, dec, phot_g_mean_mag, probability, model_kind "
            "FROM xpha.emitter_candidates ORDER BY probability DESC"
        ).to_table()
        assert len(top) == 20
        assert list(top["probability"]) == sorted(top["probability"], reverse=True)
        counts = tap.run_sync("SELECT COUNT(*) AS n FROM xpha.emitter_candidates").to_table()
        assert counts["n"][0] >= SMALL.n_sources  # every simulated source was scored
        labelled = tap.run_sync(
            "SELECT l.label, AVG(c.probability) AS p FROM xpha.emitter_candidates AS c "
            "JOIN xpha.training_labels AS l USING (source_id) GROUP BY l.label"
        ).to_table()
        by_label = dict(zip(labelled["label"], labelled["p"], strict=True))
        assert by_label["positive"] > by_label["negative"]
        cone = pyvo.dal.SCSService(root + "/scs").search(
            pos=(float(top["ra"][0]), float(top["dec"][0])), radius=0.01
        )
        assert int(top["source_id"][0]) in {int(i) for i in cone["source_id"]}
        # true sizes after the real data-change points (ingest, labels, scoring, set-current)
        sizes = published_sizes(root, db_url)
        assert all(len({*s.values()}) == 1 for s in sizes.values()), sizes

    check_readme_python(db_url)

    again: list[str] = []
    run_demo(SMALL, settings, echo=again.append)
    assert sum("done earlier" in line for line in again) == len(STEPS) - 1


def check_readme_python(db_url: str) -> None:
    """README "From Python, without TAP", as written, on the demo's database: the five best
    candidates, their neighbours with the published units, each nudged position matched."""
    result = run_python_block(readme_block("From Python, without TAP"), XPHA_DATABASE_URL=db_url)
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert re.search(r"^\s+mag\s+deg\s*$", output, re.M), output  # the astropy unit row
    rows = [line.split() for line in output.split("sep_arcsec", 1)[1].splitlines()[1:]]
    assert [int(r[1]) for r in rows] == [0, 1, 2, 3, 4], output
    assert all(0.2 < float(r[3]) < 0.41 for r in rows), output  # 0.4 arcsec times cos(dec)


def test_a_failed_step_names_itself_and_the_next_run_resumes(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xpha.demo as demo
    from sql.errors import XphaError

    settings = tap_settings(db_url, var_dir=tmp_path)
    plan = DemoPlan(n_sources=1000, seed=1, sdss_fraction=0.0, lamost_fraction=0.0, dae_epochs=1)
    monkeypatch.setattr(demo, "STEPS", demo.STEPS[:4])  # database .. load: enough to resume
    blocker = demo.DemoContext(plan, settings).sky_dir
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the simulated sky should go")

    with pytest.raises(XphaError, match=r"step 3/4 'simulate'.*again"):
        run_demo(plan, settings, echo=lambda _: None)

    blocker.unlink()
    lines: list[str] = []
    run_demo(plan, settings, echo=lines.append)
    assert any(line.startswith("[2/4]") and "done earlier" in line for line in lines)
    assert any(line.startswith("[3/4]") and "1000 sources" in line for line in lines)
    assert any(line.startswith("[4/4]") and "XP rows new 1000" in line for line in lines)
