"""Injection-recovery harness and the emitter plot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.injection import InjectionPlan, ew_at_recall, resolve_scorer, run_injection


@pytest.mark.parametrize(
    ("recall", "expected"),
    [([0.1, 0.3, 0.7, 1.0], np.exp(np.log(2) + 0.5 * (np.log(5) - np.log(2)))),
     ([0.6, 0.9, 1.0, 1.0], 1.0), ([0.0, 0.1, 0.2, 0.4], None)],
)  # fmt: skip
def test_ew_at_recall(recall, expected):
    result = ew_at_recall(np.array([1.0, 2.0, 5.0, 10.0]), np.array(recall))
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_xp_ew_recovery_curve(tmp_path):
    plan = InjectionPlan(n_parents=80, copies=2, false_positive_rate=0.02,
                         ew_grid=(0.0, 5.0, 20.0, 80.0, 300.0), g_edges=(12.0, 15.0, 17.0))  # fmt: skip
    result = run_injection(resolve_scorer("xp-ew"), plan, tmp_path)
    recall = np.array(result.recall)
    assert recall.shape == (2, 5)
    assert np.all(recall[:, 0] <= 0.1)  # EW = 0 copies: ~ the false-positive rate
    assert np.all(np.diff(recall[:, 1:], axis=1) >= -0.05)  # rises with EW
    assert np.all(recall[:, -1] > 0.9)  # 300 A lines are always found
    assert all(e is not None and 5.0 < e < 300.0 for e in result.ew50)
    summary = json.loads((tmp_path / "injection_xp-ew.json").read_text())
    assert summary["threshold"] == pytest.approx(result.threshold)
    assert (tmp_path / "injection_xp-ew.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "injection_xp-ew.csv").read_text().startswith("g_min,g_max,ew_true,n,recall")


def test_unknown_model_is_a_clear_error(db_url):
    from sql.errors import XphaError

    with pytest.raises(XphaError, match="no model"):
        resolve_scorer("12345", db_url)


def test_model_scorer_feeds_the_training_batch_layout():
    """A model sees the feed's columns; G and BP-RP derived from the coefficients."""
    from ingest.simulator.continua import load_parents
    from training.injection import model_scorer

    seen = {}

    class Recorder:
        def score(self, batch):
            seen.update(batch)
            return batch["g_mag"].astype(np.float64), None

    library = load_parents()
    rows = np.arange(5)
    scores = model_scorer(Recorder())(library.bp[rows], library.rp[rows], library.bp_err[rows],
                                      library.rp_err[rows])  # fmt: skip
    assert set(seen) >= {"bp", "rp", "bp_err", "rp_err", "g_flux", "g_mag", "bp_rp"}
    assert np.allclose(scores, library.g_mag[rows], atol=1e-4)


def test_emitter_plot(tmp_path):
    from ingest.simulator.plots import plot_emitter

    path = plot_emitter(tmp_path / "emitter.png", parent_row=5, ew_angstrom=30.0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
