"""The evaluation of seed 0's five folds with two continuum networks side by side.

`line_snr` is the detector as it ships; `line_snr_16x300k` is the same detector with its
continuum network trained on four times as many augmented stars (16 epochs of 300,000
instead of 8 of 150,000). Everything else (library, local continuum, PCA, calibration recipe,
the copies they are scored on) is the same, so the report compares them fold by fold. The local
continuum, the costliest part, is computed once for both: `local_snr` is memoised on its last
input (the detectors share a library built from the same sky).

Run from the repository root: `.venv/bin/python docs/results/<run>/network_budget.py` (about
40 minutes on 2 cores); the report goes to var/results/heldout-network-budget/.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from training import heldout
from training.continuum import detector as detector_module
from training.continuum.network import NetworkSettings

BUDGET = {"epochs": 16, "rows_per_epoch": 300_000}
OUT = Path("var/results/heldout-network-budget")

_shipped_fit = heldout.fit_detectors
_local_snr = detector_module.local_snr
_last: dict = {}


def _fingerprint(*arrays: np.ndarray) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def memoised_local_snr(u, e, refs, projection, settings, exclude=None, select=None):
    """local_snr, reusing the result for the same stars, library and settings (the detector's
    plain call; one with ``exclude`` or ``select`` is never reused)."""
    if exclude is not None or select is not None:
        return _local_snr(u, e, refs, projection, settings, exclude, select)
    key = (_fingerprint(u, e, refs), repr(settings))
    if _last.get("key") != key:
        _last.update(key=key, value=_local_snr(u, e, refs, projection, settings))
    return _last["value"]


def fit_both(train_ids, val_ids, seed: int, plan: heldout.HeldOutPlan) -> dict:
    """The shipped detectors, plus line_snr with the larger network budget."""
    detectors = _shipped_fit(train_ids, val_ids, seed, plan)
    network = {**NetworkSettings().to_dict(), **BUDGET}
    budget = _shipped_fit(train_ids, val_ids, seed, replace(plan, continuum={"network": network}))
    return {"line_snr": detectors["line_snr"], "line_snr_16x300k": budget["line_snr"],
            "matched_filter": detectors["matched_filter"]}  # fmt: skip


def main() -> None:
    detector_module.local_snr = memoised_local_snr
    heldout.fit_detectors = fit_both
    heldout.run(heldout.HeldOutPlan(folds=5, seeds=(0,)), OUT)


if __name__ == "__main__":
    main()
