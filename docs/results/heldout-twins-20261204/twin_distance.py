"""How much of an unseen star's gap to the physical limit is its being unseen?

One fold of seed 0's deal (fold 2 unless given), as `xpha evaluate heldout` runs it: `line_snr`
(the full detector) learns from a sky of three folds' parents and calibrates on the fourth; the
fold's ~400 test parents are never seen. The same copies of them are then scored once more by a
detector whose training sky also holds the test parents (the seen case: each has its exact
twin in the library). Per G bin, line-free and injected copies give EW50 at FPR 1e-2 over the
known-continuum limit of the same copies (threshold, centre and scale from the bin's whole
null, as in `library_size.py`); at the simulator's G distribution, EW50 and recall at
EW >= 20 A at FPR 1e-3 use the fold's thresholds, as the held-out report does.

Test parents are also grouped by their *twin distance*: the line-blind reduced chi-square to
the nearest training parent, in the errors of a G 17 copy. A parent's measured coefficients
carry its own noise, so a faint parent is far from every other star whatever its type; the
distance is compared only among parents brighter than ``BRIGHT_PARENT`` (near and far halves),
and fainter parents form their own group. Last, the bright training parents are subsampled:
how fast the twin distance shrinks says how many parents a library would need for the typical
bright star to have a twin as near as the near half's.

Run from the repository root: `.venv/bin/python docs/results/<run>/twin_distance.py [fold]`
(about 10 minutes on 2 cores). Scores are kept in var/results/heldout-twins/fold<k>/, so a
second run only re-analyses.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "heldout-5fold-3seeds-noise-20261204"))
from library_size import BINS, SEED, copies, ew50_by_bin, parent_stars

from ingest.simulator.continua import load_parents
from training import heldout
from training.continuum.detector import Stars
from training.continuum.geometry import line_template

FOLD = int(sys.argv[1]) if sys.argv[1:2] and sys.argv[1].isdigit() else 2  # of seed 0's deal
BRIGHT_PARENT = 15.0  # line-blind magnitude of the parent
MIN_PARENTS = 20  # per group and G bin: fewer parents make no EW50 worth printing
NULL_COPIES, INJECTED_COPIES = 100_000, 4_000  # at the simulator's G: the pooled figures
OUT = Path(f"var/results/heldout-twins/fold{FOLD}")


def twin_distance(u: np.ndarray, refs: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Line-blind reduced chi-square of each row of ``u`` to its nearest row of ``refs`` in the
    errors ``e`` (110,): the best-fitting line is removed first, as the local continuum does."""
    w, t = 1.0 / e**2, line_template()
    diff = u[:, None, :] - refs[None]  # (n, m, 110)
    chi = (w * diff**2).sum(2) - ((w * t) @ diff.transpose(0, 2, 1)) ** 2 / (w @ t**2)
    return chi.min(1) / (u.shape[1] - 1)


def score_copies(train, val, test, batches: dict, path: Path) -> dict:
    """``line_snr`` of the per-bin copies ``batches`` and of copies at the simulator's G
    (cached)."""
    if path.exists():
        with np.load(path) as cached:
            return dict(cached)
    plan = heldout.HeldOutPlan()
    line_snr = heldout.fit_detectors(train, val, 1000 * SEED + FOLD, plan)["line_snr"]
    out: dict[str, Any] = {}  # Any: np.savez's keywords include allow_pickle
    for (lo, ew), batch in batches.items():
        out[f"bin_{lo:g}_{ew:g}"] = line_snr(batch)
        out[f"bin_{lo:g}_{ew:g}_parent"] = batch["parent"]
        out[f"bin_{lo:g}_{ew:g}_sigma"] = heldout.fisher_sigma_ew(batch)
    rng = np.random.default_rng(11)
    grid = heldout.EW_GRID  # 0: the null
    for i, ew in enumerate(grid):
        n = NULL_COPIES if ew == 0 else INJECTED_COPIES
        batch = heldout.injected(test, float(ew), heldout.simulator_g(n, rng), 12 + i)
        out[f"sim_{ew:g}"] = line_snr(batch)
        out[f"sim_{ew:g}_parent"] = batch["parent"]
        out[f"sim_{ew:g}_sigma"] = heldout.fisher_sigma_ew(batch)
    np.savez(path, **out)
    return out


def ratio_by_bin(scores: dict, group_of_row: np.ndarray, groups: int) -> np.ndarray:
    """(groups, bins) EW50 / known-continuum EW50 of each group's copies, at the bin's
    threshold from its whole null (NaN where a group has fewer than MIN_PARENTS parents bright
    enough)."""
    out = np.full((groups, len(BINS)), np.nan)
    for k in range(groups):

        def group_snr(lo: float, ew: float, k: int = k) -> np.ndarray:
            snr = scores[f"bin_{lo:g}_{ew:g}"]
            mine = group_of_row[scores[f"bin_{lo:g}_{ew:g}_parent"]] == k
            return snr if ew == 0 else snr[mine]  # the null is the whole bin's

        with warnings.catch_warnings():  # bins a group has no copies in: NaN, dropped below
            warnings.simplefilter("ignore", RuntimeWarning)
            ew50 = ew50_by_bin(group_snr)[0]
        for b, (lo, _) in enumerate(BINS):
            parents = scores[f"bin_{lo:g}_0_parent"]
            mine = group_of_row[parents] == k
            if np.unique(parents[mine]).size >= MIN_PARENTS:
                sigma = scores[f"bin_{lo:g}_0_sigma"][mine]
                out[k, b] = ew50[b] / heldout.fisher_ew50(sigma, 1e-2)
    return out


def pooled(scores: dict, group_of_row: np.ndarray, k: int | None) -> dict:
    """Group ``k``'s copies (None: all) at the simulator's G: EW50 at FPR 1e-2, recall at
    EW >= 20 A at FPR 1e-3, each against its known-continuum limit, at the fold's thresholds."""
    grid = heldout.EW_GRID[heldout.EW_GRID > 0]
    null, null_group = scores["sim_0"], group_of_row[scores["sim_0_parent"]]
    thr = {fpr: heldout.threshold(null, fpr) for fpr in (1e-2, 1e-3)}
    cat = lambda suffix: np.concatenate([scores[f"sim_{ew:g}{suffix}"] for ew in grid])  # noqa: E731
    score, sigma = cat(""), cat("_sigma")
    ew = np.repeat(grid, [scores[f"sim_{e:g}"].size for e in grid])
    keep = np.ones(ew.size, bool) if k is None else group_of_row[cat("_parent")] == k
    mine = np.ones(null.size, bool) if k is None else null_group == k
    strong = keep & (ew >= heldout.STRONG_EW)
    return {
        "copies": int(mine.sum()),
        "parents": int(np.unique(scores["sim_0_parent"][mine]).size),
        "ew50": heldout.ew_at_recall(grid, heldout.recall_table(score[keep], ew[keep], thr[1e-2])),
        "limit": heldout.fisher_ew50(scores["sim_0_sigma"][mine], 1e-2),
        "recall_ew_ge_20": float(np.mean(np.nan_to_num(score[strong], nan=-np.inf) > thr[1e-3])),
        "oracle_ew_ge_20": float(heldout.oracle_recall(ew[strong], sigma[strong], 1e-3).mean()),
        "null_flagged_1e-2": float(np.mean(np.nan_to_num(null[mine], nan=-np.inf) > thr[1e-2])),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    plan = heldout.HeldOutPlan()
    folds = heldout.parent_folds(plan.folds, SEED)
    val_fold = (FOLD + 1) % plan.folds
    test, val = folds[FOLD], folds[val_fold]
    train = np.concatenate([f for k, f in enumerate(folds) if k not in (FOLD, val_fold)])
    parents = parent_stars()
    shape, mag = parents.u, parents.mag
    row = {int(s): i for i, s in enumerate(load_parents().source_id)}
    test_rows, train_rows = (np.array([row[int(s)] for s in ids]) for ids in (test, train))
    batches = copies(test)  # the same copies for both detectors
    e17 = np.nanmedian(Stars.of(batches[17.0, 0.0]).e, axis=0)  # a G 17-17.65 copy's
    distance = twin_distance(shape[test_rows], shape[train_rows], e17)
    print(f"{test.size} test parents, {train.size} training parents; correlation of log twin "
          f"distance with the parent's magnitude {np.corrcoef(mag[test_rows], np.log(distance))[0, 1]:.2f}")  # fmt: skip
    for lo, hi in ((0, 14), (14, 15), (15, 16), (16, 17), (17, 30)):
        mine = (mag[test_rows] >= lo) & (mag[test_rows] < hi)
        print(f"  parents at G {lo}-{hi}: {mine.sum()}, median twin distance "
              f"{np.median(distance[mine]):.3f}")  # fmt: skip
    # among bright parents only, both sides: the distance is then the stars', not their noise
    bright = mag[test_rows] < BRIGHT_PARENT
    bright_train = train_rows[mag[train_rows] < BRIGHT_PARENT]
    near_bright = twin_distance(shape[test_rows[bright]], shape[bright_train], e17)
    split = np.median(near_bright)
    print(f"{bright.sum()} test and {bright_train.size} training parents brighter than G "
          f"{BRIGHT_PARENT:g}: median twin distance {split:.3f}; correlation of its log with "
          f"the parent's magnitude {np.corrcoef(mag[test_rows[bright]], np.log(near_bright))[0, 1]:.2f}")  # fmt: skip
    names = [f"parents G < {BRIGHT_PARENT:g}, twin distance < {split:.3f}",
             f"parents G < {BRIGHT_PARENT:g}, twin distance >= {split:.3f}",
             f"parents G >= {BRIGHT_PARENT:g}"]  # fmt: skip
    group_of_row = np.full(len(shape), -1)
    group_of_row[test_rows] = 2
    group_of_row[test_rows[bright]] = (near_bright >= split).astype(int)

    scores = score_copies(train, val, test, batches, OUT / "scores.npz")
    everyone = np.where(group_of_row >= 0, 0, -1)
    ratio = np.vstack([ratio_by_bin(scores, group_of_row, len(names)),
                       ratio_by_bin(scores, everyone, 1)])  # fmt: skip
    names.append("all test parents")
    print("EW50 / limit by G bin:", " ".join(f"{lo:g}-{hi:g}" for lo, hi in BINS))
    for k, name in enumerate(names):
        print(f"  {name}: {np.round(ratio[k], 3)}", flush=True)
    summary = {name: pooled(scores, group_of_row, k) for k, name in enumerate(names[:-1])}
    summary[names[-1]] = pooled(scores, group_of_row, None)
    print("At the simulator's G (the fold's thresholds):")
    for name, p in summary.items():
        print(f"  {name}: {p['parents']} parents; EW50 {p['ew50']:.2f} A, limit {p['limit']:.2f} A "
              f"({p['ew50'] / p['limit']:.3f}x); recall at EW >= 20 A, FPR 1e-3 "
              f"{p['recall_ew_ge_20']:.4f} (limit {p['oracle_ew_ge_20']:.4f}); null flagged at "
              f"FPR 1e-2: {p['null_flagged_1e-2']:.4f}")  # fmt: skip

    rng = np.random.default_rng(5)
    sizes = [n for n in (25, 50, 100, 200, 400) if n < bright_train.size] + [bright_train.size]
    medians = []
    # the seen case: the same copies, the test parents in the training sky (their twin is exact)
    seen = score_copies(np.concatenate([train, test]), val, test, batches,
                        OUT / "scores-seen.npz")  # fmt: skip
    ratio_seen = np.vstack([ratio_by_bin(seen, group_of_row, len(names) - 1),
                            ratio_by_bin(seen, everyone, 1)])  # fmt: skip
    summary_seen = {name: pooled(seen, group_of_row, k) for k, name in enumerate(names[:-1])}
    summary_seen[names[-1]] = pooled(seen, group_of_row, None)
    print("Seen (the test parents also in the training sky): EW50 / limit by G bin")
    for k, name in enumerate(names):
        print(f"  {name}: {np.round(ratio_seen[k], 3)}", flush=True)
    for name, p in summary_seen.items():
        print(f"  {name}, at the simulator's G: EW50 {p['ew50']:.2f} A ({p['ew50'] / p['limit']:.3f}x "
              f"the limit); recall at EW >= 20 A, FPR 1e-3 {p['recall_ew_ge_20']:.4f} (limit "
              f"{p['oracle_ew_ge_20']:.4f})", flush=True)  # fmt: skip

    print("bright training parents -> twin distance of the bright test parents (25/50/75%):")
    for n in sizes:
        d = twin_distance(shape[test_rows[bright]], shape[rng.choice(bright_train, n, False)], e17)
        medians.append(float(np.median(d)))
        print(f"  {n}: {np.round(np.quantile(d, [0.25, 0.5, 0.75]), 3)}", flush=True)
    slope = float(np.polyfit(np.log(sizes), np.log(medians), 1)[0])
    near = float(np.median(near_bright[near_bright < split]))
    needed = sizes[-1] * (near / medians[-1]) ** (1 / slope)
    print(f"log-log slope {slope:.3f}: the near half's median twin distance ({near:.3f}) would "
          f"be the median bright star's with ~{needed:,.0f} bright parents", flush=True)  # fmt: skip
    (OUT / "twins.json").write_text(json.dumps(
        {"groups": names, "ratio_by_g_bin": ratio.tolist(), "pooled": summary, "sizes": sizes,
         "seen": {"ratio_by_g_bin": ratio_seen.tolist(), "pooled": summary_seen},
         "median_twin_distance": medians, "slope": slope, "parents_needed": needed}, indent=1))  # fmt: skip
    plot(ratio, ratio_seen, names, sizes, medians, near, OUT / "heldout-twins.png")


def plot(ratio, ratio_seen, names, sizes, medians, near, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 5), width_ratios=(1.5, 1))
    mids = [0.5 * (lo + hi) for lo, hi in BINS]
    for k, name in enumerate(names):
        colour = "k" if k == len(names) - 1 else f"C{k}"
        left.plot(mids, ratio[k], "o-", color=colour, label=f"{name}: unseen")
        left.plot(mids, ratio_seen[k], "s--", color=colour, alpha=0.6, label="  the same: seen")
    left.axhline(1.0, color="grey", lw=0.8)
    left.set(xlabel="G of the copy", ylabel="EW50 / known-continuum EW50 (FPR 1e-2)",
             title=f"line_snr, fold {FOLD} of seed 0")  # fmt: skip
    left.legend(fontsize=7, ncol=2)
    right.loglog(sizes, medians, "o-", label="median bright test parent")
    right.set_xticks(sizes, [str(n) for n in sizes])
    right.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    right.axhline(near, color="C1", ls="--", label="the near half's median")
    right.set(xlabel=f"training parents brighter than G {BRIGHT_PARENT:g}",
              ylabel="twin distance (reduced chi2, G 17 errors)", title="how near the nearest twin is")  # fmt: skip
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def summary() -> None:
    """The folds run so far, whole: EW50 and strong-line recall unseen and seen, and their mean."""
    runs = [json.loads(path.read_text()) | {"fold": path.parent.name}
            for path in sorted(OUT.parent.glob("fold*/twins.json"))]  # fmt: skip
    fields = ("ew50", "limit", "recall_ew_ge_20", "oracle_ew_ge_20")
    whole = {"unseen": lambda r: r["pooled"], "seen": lambda r: r["seen"]["pooled"]}
    table = {case: np.array([[pick(r)["all test parents"][f] for f in fields] for r in runs])
             for case, pick in whole.items()}  # fmt: skip
    for i, r in enumerate(runs):
        u, s = table["unseen"][i], table["seen"][i]
        print(f"{r['fold']}: EW50 unseen {u[0]:.2f} A ({u[0] / u[1]:.3f}x), seen {s[0]:.2f} A "
              f"({s[0] / s[1]:.3f}x); recall at EW >= 20 A unseen {u[2]:.4f}, seen {s[2]:.4f}, "
              f"limit {u[3]:.4f}")  # fmt: skip
    for case, t in table.items():
        print(f"{case}, {len(runs)} folds: EW50 {t[:, 0].mean():.2f} +- {t[:, 0].std(ddof=1):.2f} A "
              f"({(t[:, 0] / t[:, 1]).mean():.3f}x the limit, {t[:, 1].mean():.2f} A); recall at "
              f"EW >= 20 A {t[:, 2].mean():.4f} (limit {t[:, 3].mean():.4f})")  # fmt: skip
    paired = table["seen"][:, 0] - table["unseen"][:, 0]
    print(f"seen - unseen EW50: {paired.mean():+.2f} +- "
          f"{paired.std(ddof=1) / np.sqrt(paired.size):.2f} A (standard error)")  # fmt: skip


if __name__ == "__main__":
    summary() if sys.argv[1:] == ["summary"] else main()
