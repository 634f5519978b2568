"""Metrics that compare models on the same held-out split (disjoint by parent star, by sky cell
where a source has no parent).

PR-AUC (average precision) is primary at realistic prevalence; ROC-AUC for comparison with the
literature; both with bootstrap intervals that resample parent stars (copies of one parent
are not independent draws; a source without a parent is its own group). Recall against the
true EW, in G-magnitude slices, gives a detection limit in Angstrom (the EW of 50% recall).
PC1 fraction and effective rank of the latent space make representation collapse visible.

On a simulated sky the truth is known for every source, not just the few per cent with a
spectrum: :func:`add_truth` scores the whole test split against it. A true emitter there has an
injected emission EW of at least a given size; weaker emitters belong to neither class (a
detector that misses a 1 A line at XP resolution is not wrong about a line-free star), and the
recall-vs-EW curve shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GRID = np.linspace(0, 1, 101)
EW_BINS = np.geomspace(0.3, 300, 25)
TRUTH_MIN_EWS = (0.0, 3.0, 5.0, 10.0)  # Angstrom; 0 means any emission line
TRUTH_BOOTSTRAP_MAX = 50  # resamples of the (large) truth set, for the headline threshold only


@dataclass
class Evaluation:
    """Scores of one model on the test split and everything derived from them."""

    kind: str
    metrics: dict = field(default_factory=dict)
    roc_band: np.ndarray | None = None  # (3, GRID): tpr 2.5/50/97.5 % at each fpr
    pr_band: np.ndarray | None = None  # (3, GRID): precision at each recall
    calibration: dict = field(default_factory=dict)
    recall_vs_ew: dict = field(default_factory=dict)


def _curves(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    roc = np.interp(GRID, fpr, tpr)
    # precision at each recall level (interpolated precision: best at >= recall)
    order = np.argsort(recall)
    envelope = np.maximum.accumulate(precision[order][::-1])[::-1]
    pr = np.interp(GRID, recall[order], envelope)
    return roc, pr


def group_resampler(groups: np.ndarray | None, n_rows: int, rng: np.random.Generator):
    """A function drawing row indices of a bootstrap sample that resamples whole groups
    (rows with group -1 are groups of one); plain row resampling without groups."""
    if groups is None:
        return lambda: rng.integers(0, n_rows, n_rows)
    keys = np.where(groups >= 0, groups, -1 - np.arange(n_rows))
    _, label = np.unique(keys, return_inverse=True)
    order = np.argsort(label, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(label))])
    members = [order[bounds[k] : bounds[k + 1]] for k in range(len(bounds) - 1)]

    def draw() -> np.ndarray:
        picked = rng.integers(0, len(members), len(members))
        return np.concatenate([members[k] for k in picked])

    return draw


def bootstrap(
    y: np.ndarray, s: np.ndarray, n: int, seed: int, groups: np.ndarray | None = None
) -> tuple[dict, np.ndarray, np.ndarray]:
    """ROC-AUC and PR-AUC with 95% bootstrap intervals (resampling ``groups`` when given), and
    the curve bands."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(seed)
    draw = group_resampler(groups, len(y), rng)
    rocs, prs, roc_curves, pr_curves = [], [], [], []
    for _ in range(n):
        index = draw()
        yb, sb = y[index], s[index]
        if yb.min() == yb.max():
            continue
        rocs.append(roc_auc_score(yb, sb))
        prs.append(average_precision_score(yb, sb))
        roc, pr = _curves(yb, sb)
        roc_curves.append(roc)
        pr_curves.append(pr)
    metrics = {
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "roc_auc_ci": [float(np.percentile(rocs, 2.5)), float(np.percentile(rocs, 97.5))],
        "pr_auc_ci": [float(np.percentile(prs, 2.5)), float(np.percentile(prs, 97.5))],
        "prevalence": float(y.mean()),
        "n_test": len(y),
    }
    q = [2.5, 50, 97.5]
    return metrics, np.percentile(roc_curves, q, axis=0), np.percentile(pr_curves, q, axis=0)


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    """Reliability diagram (mean predicted vs observed per bin) and expected calibration error."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    predicted, observed, counts = [], [], []
    for b in range(bins):
        members = which == b
        counts.append(int(members.sum()))
        predicted.append(float(p[members].mean()) if members.any() else np.nan)
        observed.append(float(y[members].mean()) if members.any() else np.nan)
    weights = np.array(counts) / max(len(y), 1)
    gaps = np.abs(np.nan_to_num(np.array(predicted) - np.array(observed)))
    return {
        "predicted": predicted,
        "observed": observed,
        "counts": counts,
        "ece": float((weights * gaps).sum()),
    }


def recall_vs_ew(
    ew: np.ndarray, g_mag: np.ndarray, detected: np.ndarray, g_centres=(15.0, 17.0)
) -> dict:
    """Recall per true-EW bin for emitters near each G, and the EW where recall crosses 50%."""
    out: dict = {"bins": EW_BINS.tolist(), "slices": {}}
    for g in (None, *g_centres):
        near = np.isfinite(ew) & (ew > 0)
        if g is not None:
            near &= np.abs(g_mag - g) < 0.5
        which = np.digitize(ew[near], EW_BINS) - 1
        recall, counts = [], []
        for b in range(len(EW_BINS) - 1):
            members = which == b
            counts.append(int(members.sum()))
            recall.append(float(detected[near][members].mean()) if members.sum() >= 5 else np.nan)
        name = "all" if g is None else f"G={g:g}"
        out["slices"][name] = {
            "recall": recall,
            "counts": counts,
            "ew50": ew_at_recall(EW_BINS, np.array(recall), 0.5),
        }
    return out


def ew_at_recall(edges: np.ndarray, recall: np.ndarray, level: float) -> float | None:
    """First EW (log-interpolated between bin centres) where recall reaches ``level``."""
    centres = np.sqrt(edges[:-1] * edges[1:])
    good = np.isfinite(recall)
    centres, recall = centres[good], recall[good]
    if not len(recall):
        return None
    if recall[0] >= level:
        return float(centres[0])
    for i in range(1, len(recall)):
        if recall[i] >= level > recall[i - 1]:
            t = (level - recall[i - 1]) / (recall[i] - recall[i - 1])
            return float(np.exp(np.log(centres[i - 1]) + t * np.log(centres[i] / centres[i - 1])))
    return None


def latent_geometry(z: np.ndarray) -> dict:
    """PC1 explained-variance fraction and effective rank (exp entropy of the spectrum)."""
    centred = z - z.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    variance = singular**2
    p = singular / singular.sum()
    p = p[p > 0]
    return {
        "pc1_fraction": float(variance[0] / variance.sum()),
        "effective_rank": float(np.exp(-(p * np.log(p)).sum())),
    }


def evaluate(
    kind: str,
    y: np.ndarray,
    score: np.ndarray,
    probability: np.ndarray,
    ew_true: np.ndarray,
    g_mag: np.ndarray,
    n_bootstrap: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> Evaluation:
    """All test-split metrics of one model; a source counts as detected at probability >= 0.5.
    ``groups`` (each source's parent star, -1 for none) make the intervals resample parents."""
    score = np.nan_to_num(score, nan=-1e9)
    metrics, roc_band, pr_band = bootstrap(y, score, n_bootstrap, seed, groups)
    calibration = calibration_curve(y, probability)
    metrics["ece"] = calibration["ece"]
    detected = probability >= 0.5
    metrics["recall_at_p50"] = float(detected[y == 1].mean())
    metrics["precision_at_p50"] = float(y[detected].mean()) if detected.any() else None
    emitters = y == 1
    curve = recall_vs_ew(ew_true[emitters], g_mag[emitters], detected[emitters])
    for name, values in curve["slices"].items():
        metrics[f"ew50_{name}"] = values["ew50"]
    return Evaluation(kind, metrics, roc_band, pr_band, calibration, curve)


def add_validation(ev: Evaluation, y: np.ndarray, score: np.ndarray) -> None:
    """PR-AUC on the validation split: what picks the current model, so the test split
    stays an unbiased estimate of the chosen model."""
    from sklearn.metrics import average_precision_score

    ev.metrics["val_pr_auc"] = float(average_precision_score(y, np.nan_to_num(score, nan=-1e9)))


def choose_current(evaluations: list[Evaluation]) -> Evaluation:
    """The model with the best validation PR-AUC (ties: the earlier one)."""
    return max(evaluations, key=lambda e: e.metrics["val_pr_auc"])


def truth_classes(ew_true: np.ndarray, min_ew: float) -> tuple[np.ndarray, np.ndarray]:
    """(kept, y): emitters have a true emission EW >= min_ew (any line for 0); line-free and
    absorption-line stars are negatives; weaker emitters are not kept."""
    emitter = ew_true > 0
    positive = emitter & (ew_true >= min_ew)
    kept = np.isfinite(ew_true) & (positive | ~emitter)
    return kept, positive[kept].astype(np.float32)


def add_truth(
    ev: Evaluation,
    ew_true: np.ndarray,
    g_mag: np.ndarray,
    score: np.ndarray,
    probability: np.ndarray,
    headline_min_ew: float,
    n_bootstrap: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> Evaluation:
    """Metrics against the simulation truth over every test-split source: PR/ROC-AUC per minimum
    EW (with intervals at the headline one), and recall vs true EW from every true emitter."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    score = np.nan_to_num(score, nan=-1e9)
    for min_ew in sorted({*TRUTH_MIN_EWS, headline_min_ew}):
        kept, y = truth_classes(ew_true, min_ew)
        if y.min(initial=1) == y.max(initial=0):
            continue
        key = f"truth_ew{min_ew:g}"
        ev.metrics[f"{key}_pr_auc"] = float(average_precision_score(y, score[kept]))
        ev.metrics[f"{key}_roc_auc"] = float(roc_auc_score(y, score[kept]))
        if min_ew == headline_min_ew:
            n = min(n_bootstrap, TRUTH_BOOTSTRAP_MAX)
            parents = None if groups is None else groups[kept]
            metrics, _, _ = bootstrap(y, score[kept], n, seed, parents)
            ev.metrics["truth_min_ew"] = min_ew
            ev.metrics["truth_n"] = int(kept.sum())
            ev.metrics["truth_emitters"] = int(y.sum())
            ev.metrics["truth_pr_auc_ci"] = metrics["pr_auc_ci"]
            ev.metrics["truth_roc_auc_ci"] = metrics["roc_auc_ci"]
    emitters = np.isfinite(ew_true) & (ew_true > 0)
    ev.recall_vs_ew = recall_vs_ew(ew_true[emitters], g_mag[emitters], probability[emitters] >= 0.5)
    for name, values in ev.recall_vs_ew["slices"].items():
        ev.metrics[f"ew50_{name}"] = values["ew50"]
    ev.metrics["ew50_source"] = "truth: every test-split emitter"
    return ev


def flagged_by_class(classes: np.ndarray, flagged: np.ndarray) -> dict[str, dict]:
    """Per simulated class, how many sources there are and the fraction flagged: recall for
    emitter classes, the false-positive rate for line-free and absorption-line stars."""
    return {
        str(name): {
            "n": int((classes == name).sum()),
            "flagged": float(flagged[classes == name].mean()),
        }
        for name in sorted(set(classes.tolist()))
    }
