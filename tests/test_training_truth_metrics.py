"""Truth metrics on a simulated sky: who counts as an emitter at each minimum EW, and that the
numbers follow from the scores (a perfect ranking scores 1, a reversed one near prevalence)."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import (
    Evaluation,
    add_truth,
    add_validation,
    choose_current,
    flagged_by_class,
    truth_classes,
)

EW = np.array([0.0, 0.0, -3.0, 1.0, 4.0, 6.0, 20.0, np.nan])

# min EW -> (kept mask, y of the kept rows)
CLASS_CASES = [
    (0.0, [1, 1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 1]),
    (5.0, [1, 1, 1, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1]),
    (10.0, [1, 1, 1, 0, 0, 0, 1, 0], [0, 0, 0, 1]),
]


@pytest.mark.parametrize(("min_ew", "kept", "y"), CLASS_CASES)
def test_weak_emitters_join_neither_class_and_absorption_is_negative(min_ew, kept, y):
    got_kept, got_y = truth_classes(EW, min_ew)
    assert got_kept.astype(int).tolist() == kept
    assert got_y.astype(int).tolist() == y


def _sky(n: int = 4000, seed: int = 3):
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, n, p=[0.9, 0.05, 0.05])  # none, weak (1-5 A), strong (5-50 A)
    ew = np.where(kind == 0, 0.0, np.where(kind == 1, rng.uniform(1, 5, n), rng.uniform(5, 50, n)))
    return ew, rng.uniform(14, 18, n)


@pytest.mark.parametrize(("ranking", "low", "high"), [
    ("perfect", 0.999, 1.0),  # score = true EW: every strong line above every line-free star
    ("reversed", 0.0, 0.1),  # score = -EW: emitters ranked last
])  # fmt: skip
def test_truth_pr_auc_follows_the_ranking(ranking, low, high):
    ew, g = _sky()
    score = ew if ranking == "perfect" else -ew
    ev = add_truth(Evaluation("m"), ew, g, score, 1 / (1 + np.exp(-score)), 5.0, 20, 0)
    assert low <= ev.metrics["truth_ew5_pr_auc"] <= high
    assert ev.metrics["truth_min_ew"] == 5.0
    assert ev.metrics["truth_emitters"] == int((ew >= 5).sum())
    assert ev.metrics["truth_n"] == int((ew == 0).sum() + (ew >= 5).sum())
    lo, hi = ev.metrics["truth_pr_auc_ci"]
    assert lo <= ev.metrics["truth_ew5_pr_auc"] <= hi or ranking == "perfect"


def test_recall_vs_ew_counts_every_true_emitter():
    ew, g = _sky()
    detected_from = 8.0  # a detector that flags exactly the lines of 8 A and more
    probability = (ew >= detected_from).astype(float)
    ev = add_truth(Evaluation("m"), ew, g, probability, probability, 5.0, 10, 0)
    curve = ev.recall_vs_ew["slices"]["all"]
    assert sum(curve["counts"]) == int(((ew > 0) & (ew >= 0.3) & (ew < 300)).sum())
    assert 6.0 < ev.metrics["ew50_all"] < 10.0


def test_flagged_by_class_is_recall_for_emitters_and_false_positives_for_the_rest():
    classes = np.array(["be", "be", "dme", "dme", "dme", "none", "none", "none", "none"])
    flagged = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1], bool)
    assert flagged_by_class(classes, flagged) == {
        "be": {"n": 2, "flagged": 1.0},
        "dme": {"n": 3, "flagged": pytest.approx(1 / 3)},
        "none": {"n": 4, "flagged": 0.25},
    }


# (validation PR-AUC, test PR-AUC) per model -> the model made current
SELECTION_CASES = [
    ({"a": (0.80, 0.70), "b": (0.70, 0.90)}, "a"),  # a better test score never chooses
    ({"a": (0.70, 0.90), "b": (0.80, 0.70)}, "b"),
    ({"a": (0.75, 0.60), "b": (0.75, 0.99)}, "a"),  # a tie keeps the earlier model
]


@pytest.mark.parametrize(("scores", "expected"), SELECTION_CASES)
def test_the_current_model_is_chosen_on_validation(scores, expected):
    evaluations = [
        Evaluation(kind, {"val_pr_auc": val, "pr_auc": test})
        for kind, (val, test) in scores.items()
    ]
    assert choose_current(evaluations).kind == expected


def test_validation_pr_auc_is_measured_from_the_scores():
    y = np.array([0, 0, 1, 1])
    ev = Evaluation("m")
    add_validation(ev, y, np.array([0.1, 0.2, 0.8, np.nan]))  # NaN scores rank last
    assert ev.metrics["val_pr_auc"] == pytest.approx(0.5 * (1 + 2 / 4))
