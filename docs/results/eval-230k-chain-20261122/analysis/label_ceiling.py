"""What the SDSS/LAMOST-derived labels allow, measured against the simulator's truth.

1. Who the labelled test positives are (injected class) and a truth oracle: rank the labelled
   test split by the TRUE injected EW (and by it above an XP detection floor) and score that
   against the labels. No XP model sees this; it bounds what "detect the injected line" earns.
2. Whether positives of class 'none' (no injected line) are noise or a property of the parent
   continuum: P(a sibling of such a positive is positive) against a coin of the same rate.
"""

import json

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from sql.database import connect, database_url
from training import splits
from training.settings import get_settings

LABELLED = """
SELECT l.source_id, l.is_emitter::int, coalesce(t.ew_halpha_true, 0), t.emitter_class
FROM labels.training_labels l JOIN labels.simulation_truth t USING (source_id)
WHERE NOT l.conflict AND l.is_emitter IS NOT NULL"""
PARENTS = """
SELECT count(*) FILTER (WHERE l.is_emitter), count(*)
FROM labels.training_labels l JOIN labels.simulation_truth t USING (source_id)
WHERE t.emitter_class = 'none' AND NOT l.conflict AND l.is_emitter IS NOT NULL
GROUP BY t.parent_source_id"""


def sibling_rate(pos: np.ndarray, n: np.ndarray) -> float:
    """P(a sibling of a positive star is positive): the base rate if labels ignore the parent."""
    m = (pos > 0) & (n > 1)
    return float((pos[m] * (pos[m] - 1)).sum() / max((pos[m] * (n[m] - 1)).sum(), 1))


settings = get_settings()
with connect(database_url(settings)) as conn:
    rows = conn.execute(LABELLED).fetchall()
    parents = np.array(conn.execute(PARENTS).fetchall(), dtype=np.int64)
sid = np.array([r[0] for r in rows], np.int64)
# this evaluation split by sky cell alone (it predates the parent-grouped split)
test = splits.assign_with(settings, sid) == splits.TEST
y = np.array([r[1] for r in rows], float)[test]
ew = np.clip(np.array([r[2] for r in rows], float)[test], 0, None)
cls = np.array([r[3] for r in rows])[test]
out: dict = {"n_test_labelled": len(y), "positives": int(y.sum()), "prevalence": y.mean()}
out["positives_by_class"] = {c: int(((cls == c) & (y == 1)).sum()) for c in np.unique(cls)}
out["negatives_by_class"] = {c: int(((cls == c) & (y == 0)).sum()) for c in np.unique(cls)}
out["oracle_true_ew"] = {"pr_auc": average_precision_score(y, ew), "roc_auc": roc_auc_score(y, ew)}
jitter = 1e-6 * np.random.default_rng(0).random(len(y))
for floor in (5.0, 10.0):
    out[f"positives_true_ew_below_{floor:g}A"] = float(((ew < floor) & (y == 1)).sum() / y.sum())
    seen = np.where(ew >= floor, ew, 0) + jitter
    out[f"oracle_ew_floor_{floor:g}A_pr_auc"] = average_precision_score(y, seen)
pos, n = parents[:, 0], parents[:, 1]
coin = np.random.default_rng(1).binomial(n, pos.sum() / n.sum())
out["none_class"] = {
    "labelled": int(n.sum()),
    "positive_rate": pos.sum() / n.sum(),
    "parents": len(n),
    "parents_with_a_positive": int((pos > 0).sum()),
    "sibling_positive_rate": sibling_rate(pos, n),
    "sibling_positive_rate_if_random": sibling_rate(coin, n),
}
print(json.dumps(out, indent=1, default=float))
