"""Phase-2 head variants on one saved phase-1 encoder: validation and test PR-AUC/ROC-AUC of each.

Usage: head_variants.py PHASE1_DIR '[{"head_hidden": 256, "head_depth": 2, "with_ew": true}, ...]'
(keys: Phase2Config fields, plus with_ew for the XP-EW side inputs); one JSON line per variant. Choose by validation;
the test column is reported, never used to choose.
"""

import json
import sys
import time
from pathlib import Path

import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from sql.database import database_url
from training import splits
from training.autoencoder import train as dae_train
from training.autoencoder.kind import labelled_arrays
from training.data import XPFeed, dask_client
from training.labelled import LabelledSet
from training.pipeline import fit_normaliser
from training.settings import get_settings

torch.set_num_threads(1)
settings = get_settings()
url = database_url(settings)
with dask_client(settings) as client:
    feed = XPFeed.plan(url, settings, with_labels=True)
    cells = splits.rule_of(settings)  # this evaluation split by sky cell (before parent splits)
    labelled = LabelledSet.gather(feed, client, cells)
    normaliser, _ = fit_normaliser(feed, client, settings, cells)
dae = dae_train.load_phase1(Path(sys.argv[1]))
print(labelled.counts(), flush=True)
for variant in json.loads(sys.argv[2]):
    with_ew = variant.pop("with_ew", False)
    arrays = {
        code: labelled_arrays(labelled.part(code), normaliser, with_ew)
        for code in (splits.TRAIN, splits.VAL, splits.TEST)
    }
    config = dae_train.Phase2Config(
        training_device="cpu", training_seed=settings.training_seed, **variant
    )
    start = time.time()
    classifier, history = dae_train.train_phase2(
        dae, arrays[splits.TRAIN], arrays[splits.VAL], config
    )
    out = {}
    for code, name in ((splits.VAL, "val"), (splits.TEST, "test")):
        score = dae_train.predict_logits(classifier, *arrays[code][:3])[0]
        y = arrays[code][3]
        out[name] = (round(average_precision_score(y, score), 4), round(roc_auc_score(y, score), 4))
    row = {**variant, "with_ew": with_ew, **out, "epochs_run": len(history)}
    print(json.dumps({**row, "s": round(time.time() - start, 1)}), flush=True)
