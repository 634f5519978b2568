"""Does the local continuum of an unseen star improve with more stars in the library?

Fold 2 of seed 0's deal: its test parents are never copied into the library; the library is
built as `xpha evaluate heldout` builds it (but from every copy, not the 40,000 brightest,
so that every parent has its entry) from skies of 25, 50, 75 and 100% of the other
four folds' parents, and once more with the test parents added (the seen case). For each G bin,
line-free and injected copies of the test parents give the local continuum's EW50 at FPR 1e-2
(threshold and centre/scale from the bin's own null copies), printed as the ratio to the
known-continuum limit. Run from the repository root: `.venv/bin/python docs/results/<run>/library_size.py`
(about 10 minutes on 2 cores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from training import heldout
from training.continuum.detector import DetectorSettings, Stars
from training.continuum.library import build
from training.continuum.local import local_snr

FOLD, SEED = 2, 0
BINS = [(10.0, 12.0), (12.0, 13.0), (13.0, 14.0), (14.0, 15.0), (15.0, 16.0), (16.0, 17.0),
        (17.0, 17.65)]  # fmt: skip
EWS = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0)
SOURCES_PER_PARENT = 60_000 / (0.6 * 2008)  # the plan's training sky, per parent


def copies(test: np.ndarray) -> dict:
    rng = np.random.default_rng(7)
    out = {}
    for lo, hi in BINS:
        out[lo, 0.0] = heldout.injected(test, 0.0, rng.uniform(lo, hi, 10_000), 11)
        for ew in EWS:
            g = rng.uniform(lo, hi, 1_500)
            out[lo, ew] = heldout.injected(test, ew, g, int(ew * 100) + int(10 * lo))
    return out


def by_bin(library, stars: dict, settings) -> tuple[np.ndarray, np.ndarray]:
    """Per G bin: EW50 at FPR 1e-2, and the null's 1 - 1e-3 quantile (3.09 for a normal tail),
    both in units centred and scaled by the bin's own null (median, MAD)."""

    def snr(lo: float, ew: float) -> np.ndarray:
        s = stars[lo, ew]
        return local_snr(s.u, s.e, library.u, library.projection, settings).snr

    return ew50_by_bin(snr)


def ew50_by_bin(snr: Callable[[float, float], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``by_bin`` for any statistic: ``snr(lo, ew)`` scores the copies of G bin ``lo`` with
    a line of ``ew`` A (0: the bin's null)."""
    ew50, tail = [], []
    for lo, _ in BINS:
        null = snr(lo, 0.0)
        centre = np.nanmedian(null)
        scale = 1.4826 * np.nanmedian(np.abs(null - centre))
        threshold = np.nanquantile((null - centre) / scale, 0.99)
        tail.append(np.nanquantile((null - centre) / scale, 0.999))
        recall = [np.mean(np.nan_to_num((snr(lo, ew) - centre) / scale, nan=-9) > threshold)
                  for ew in EWS]  # fmt: skip
        ew50.append(np.interp(0.5, recall, EWS))
    return np.array(ew50), np.array(tail)


def unseen_fold() -> tuple[np.ndarray, np.ndarray, dict, np.ndarray, dict]:
    """Fold 2's test and other parents, the test parents' copies per (G bin, EW) as Stars,
    the known-continuum EW50 per bin, and each copy's parent (row of the parent library)."""
    folds = heldout.parent_folds(heldout.HeldOutPlan().folds, SEED)
    test = folds[FOLD]
    others = np.concatenate([f for k, f in enumerate(folds) if k != FOLD])
    batches = copies(test)
    stars = {key: Stars.of(batch) for key, batch in batches.items()}
    limit = np.array([heldout.fisher_ew50(heldout.fisher_sigma_ew(batches[lo, 0.0]), 1e-2)
                      for lo, _ in BINS])  # fmt: skip
    parents = {key: batch["parent"] for key, batch in batches.items()}
    return test, others, stars, limit, parents


def parent_stars() -> Stars:
    """Every parent of the simulator as Stars (row i: the parent library's row i): the shape a
    copy has before its added noise."""
    from ingest.simulator.continua import load_parents

    parents = load_parents()
    return Stars.of({"bp": parents.bp, "rp": parents.rp, "bp_err": parents.bp_err,
                     "rp_err": parents.rp_err})  # fmt: skip


def library_of(ids: np.ndarray, settings: DetectorSettings):
    """The library as `xpha evaluate heldout` builds it, from every copy of a sky of ``ids``
    (not the 40,000 brightest), so that every parent has its entry."""
    plan = heldout.HeldOutPlan()
    train = heldout._stars(heldout.sky(ids, int(SOURCES_PER_PARENT * ids.size), 5, plan.chunk_rows))
    train = train.take(train.usable)
    every_copy = replace(settings.library, max_candidates=train.u.shape[0])
    return build(train.u, train.e, train.mag, every_copy, settings.local)


def main() -> None:
    settings = DetectorSettings()
    test, others, stars, limit, _ = unseen_fold()
    print("G bins:", " ".join(f"{lo:g}-{hi:g}" for lo, hi in BINS))
    print("known-continuum EW50 (A):", np.round(limit, 2))
    order = np.random.default_rng(3).permutation(others)
    cases = [(f"{share:.0%} of the other parents", np.sort(order[: int(share * order.size)]))
             for share in (0.25, 0.5, 0.75, 1.0)]  # fmt: skip
    cases.append(("the other parents and the test parents (seen)", np.concatenate([others, test])))
    for label, ids in cases:
        library = library_of(ids, settings)
        ratio = by_bin(library, stars, settings.local)[0] / limit
        print(f"{label}: {ids.size} parents, {len(library)} library stars; EW50 / limit",
              np.round(ratio, 3), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
