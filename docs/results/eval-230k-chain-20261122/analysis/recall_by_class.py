"""Recall of a saved model on the labelled test split, per injected class (truth), at P >= 0.5.

Usage: recall_by_class.py MODEL_DIR [MODEL_DIR ...]
"""

import json
import sys
from pathlib import Path

import numpy as np

from sql.database import connect, database_url
from training import splits
from training.data import XPFeed, dask_client
from training.labelled import LabelledSet
from training.scorers import load_scorer
from training.settings import get_settings

settings = get_settings()
url = database_url(settings)
with dask_client(settings) as client:
    cells = splits.rule_of(settings)  # this evaluation split by sky cell (before parent splits)
    test = LabelledSet.gather(XPFeed.plan(url, settings, with_labels=True), client, cells)
batch, y = test.part(splits.TEST), test.y(splits.TEST)
with connect(url) as conn:
    truth: dict[int, str] = dict(
        conn.execute("SELECT source_id, emitter_class FROM labels.simulation_truth")
    )
cls = np.array([truth.get(int(s), "?") for s in batch["source_id"]])
for path in sys.argv[1:]:
    scorer = load_scorer(Path(path))
    detected = scorer.calibrator(scorer.score(batch)[0]) >= 0.5
    out: dict[str, object] = {"model": scorer.kind}
    for name in np.unique(cls):
        pos = (cls == name) & (y == 1)
        neg = (cls == name) & (y == 0)
        out[name] = {
            "recall": round(float(detected[pos].mean()), 3) if pos.any() else None,
            "positives": int(pos.sum()),
            "false_positive_rate": round(float(detected[neg].mean()), 4) if neg.any() else None,
        }
    print(json.dumps(out))
