"""`xpha evaluate heldout` end to end on a small plan: folds of unseen parents, the report's
tables, and the parents behind each fold's null tail and strong-line misses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest.simulator.continua import line_stars, load_parents
from training import heldout

SMALL = {
    "library": {"max_candidates": 3000},
    "local": {"neighbours": 20},
    "network": {"hidden": 32, "epochs": 1, "rows_per_epoch": 3000},
    "calibration_bins": 3,
    "pca_components": 8,
}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> tuple[dict, Path]:
    plan = heldout.HeldOutPlan(
        folds=4, train_sources=4000, val_sources=2000, null_copies=4000, val_null_copies=1000,
        injected=200, sky_sources=3000, bootstrap=5, chunk_rows=2000, only_folds=(0, 2),
        continuum=SMALL,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("heldout")
    results = heldout.run(plan, out, progress=lambda _: None)
    return results, out


def test_folds_are_disjoint_unseen_parents_without_line_stars():
    folds = heldout.parent_folds(4, 0)
    everyone = np.concatenate(folds)
    assert np.unique(everyone).size == everyone.size
    assert not np.isin(everyone, line_stars()).any()


def test_validation_thresholds_come_from_as_many_copies_as_planned():
    """The FPR-1e-4 threshold of validation parents rests on val_null_copies line-free copies
    (20 above it at the default 200,000), not on a quarter of the test copies."""
    plan = heldout.HeldOutPlan(null_copies=1000, val_null_copies=3000, injected=8,
                               sky_sources=500, chunk_rows=1000)  # fmt: skip
    test, val = heldout.parent_folds(4, 0)[:2]
    fs = heldout.score_fold(test, val, {"g": lambda batch: batch["g"]}, 0, plan)
    assert fs.null["g"].size == 1000 and fs.val_null["g"].size == 3000
    source_id = load_parents().source_id  # copies carry their parent's library row
    assert np.isin(source_id[fs.null_parent], test).all()


def test_report_and_metrics_name_the_parents_behind_thresholds_and_misses(evaluated):
    results, out = evaluated
    assert [f["fold"] for f in results["folds"]] == [0, 2]
    test_parents = set(heldout.parent_folds(4, 0)[0].tolist())
    for name in ("line_snr", "matched_filter"):
        m = results["folds"][0]["detectors"][name]["fpr_0.001"]
        tail = m["null_tail_parents"]
        assert tail and all(r["source_id"] in test_parents for r in tail)
        assert all(
            0 < r["share_of_flagged"] <= 1 and 0 < r["share_of_its_copies"] <= 1 for r in tail
        )
        assert sum(r["flagged"] for r in tail) <= 4000
        assert all(r["source_id"] in test_parents for r in m["strong_miss_parents"])
        # the physical limit of the strong lines, and recall among those it finds 99% of
        assert 0.5 < m["oracle_recall_ew_ge_20"] <= 1 and 0.5 < m["detectable_share_ew_ge_20"] <= 1
        assert 0 <= m["recall_ew_ge_20_detectable"] <= 1
    report = (out / "report.md").read_text()
    assert "| 0/0 | line_snr |" in report and "| 0/2 | matched_filter |" in report
    assert (
        "Physical limit" in report
        and "its physical limit" in report
        and "test FPR / target at val thresholds" in report
        and (out / "heldout.png").stat().st_size > 10_000
    )
    assert json.loads((out / "metrics.json").read_text())["summary"]["line_snr"]["ew50_fpr_0.01"]


def test_test_fpr_at_validation_thresholds_is_reported_per_g_bin(evaluated):
    """Every null copy is counted in exactly one G bin; the bins add up to the fold's overall
    test FPR, pool over folds in the summary, and reach the report."""
    results, out = evaluated
    for name in ("line_snr", "matched_filter"):
        for fpr in heldout.FPRS:
            key = f"fpr_{fpr:g}"
            pooled_flagged = np.zeros(len(heldout.G_EDGES) - 1, int)
            for fold in results["folds"]:
                m = fold["detectors"][name][key]
                flagged, copies = np.array(m["test_flagged_at_val_threshold_by_g_bin"]).T
                assert copies.sum() == fold["n_null"] == 4000
                assert copies.min() > 0  # the plan's G distribution reaches every bin
                assert flagged.sum() / copies.sum() == pytest.approx(m["test_fpr_at_val_threshold"])
                pooled_flagged += flagged
            cells = results["summary"][name][f"test_fpr_at_val_threshold_by_g_bin_{fpr:g}"]
            assert [c["flagged"] for c in cells] == pooled_flagged.tolist()
            assert all(c["fpr"] == pytest.approx(c["flagged"] / c["copies"]) for c in cells)
    report = (out / "report.md").read_text()
    assert "Test FPR / target per G bin" in report
    assert "| line_snr | 0.001 |" in report and "| matched_filter | 0.0001 |" in report
