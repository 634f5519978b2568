"""One run that trains every model on the same split, evaluates, saves, registers and reports.

Order: plan the feed -> gather labels (fail early and clearly if there are none) -> fit the
normaliser on the training split (streamed) -> learn the H-alpha continuum -> baselines -> DAE
phase 1 (streamed over every training-split source) -> phase-2 heads -> test-split evaluation
(labelled rows, and every source against the truth on a simulated sky) -> artefacts +
ml.models -> report. The best model by validation PR-AUC becomes current unless told
otherwise (the test split is never used to choose).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from training import (
    artifacts,
    baselines,
    evaluate,
    features,
    line_excess,
    registry,
    report,
    splits,
)
from training.data import Batch, XPFeed, dask_client, select
from training.labelled import LabelledSet, split_args
from training.line_excess import LineExcess
from training.normalise import Moments, Normaliser, partial_moments
from training.settings import TrainingSettings

BASELINE_KINDS = ("logreg", "lightgbm", "xgboost", "xgboost_ew", "xp_ew", "xp_excess")
DAE_MODES = {"dae_head": "frozen", "dae_linear": "linear", "dae_unfreeze": "unfreeze"}
ALL_KINDS = BASELINE_KINDS + tuple(DAE_MODES)
VAL_ROWS_PHASE1 = 20_000


@dataclass
class ComparisonResult:
    version: str
    report: Path
    model_ids: dict[str, int] = field(default_factory=dict)
    evaluations: list[evaluate.Evaluation] = field(default_factory=list)
    geometry: dict[str, dict] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    current: str | None = None


def _train_moments(batch: Batch, mode: str, args: tuple) -> tuple[Moments, Moments]:
    rows = splits.assign(batch["source_id"], *args) == splits.TRAIN
    return partial_moments(batch, mode, rows)


def fit_normaliser(feed: XPFeed, client: Any, settings: TrainingSettings) -> tuple[Normaliser, int]:
    """Normaliser from the training split of every source (streamed); also the row count."""
    coeffs, side = Moments(), Moments()
    args = split_args(settings)
    for c, s in feed.map(
        client, _train_moments, settings.normalise_mode, args, in_flight=4, desc="normaliser"
    ):
        coeffs, side = coeffs + c, side + s
    normaliser = Normaliser.from_moments(settings.normalise_mode, coeffs, side)
    return normaliser, int(coeffs.n.max())


def phase1_chunk(batch: Batch, normaliser: Normaliser, args: tuple, code: int):
    """Normalised (x, err) of one split's rows of a partition (a Dask task)."""
    rows = select(batch, splits.assign(batch["source_id"], *args) == code)
    x, err, _ = normaliser.transform(rows)
    usable = np.isfinite(x).any(axis=1)
    return x[usable], err[usable]


def labelled_arrays(
    batch: Batch, normaliser: Normaliser, with_ew: bool = False, excess: LineExcess | None = None
):
    """(x, err, head side inputs, y) of labelled rows, as phase 2 trains on them."""
    x, err, side = normaliser.transform(batch)
    side = features.head_side(batch, side, with_ew, excess)
    return x, err, side, (batch["is_emitter"] == 1).astype(np.float32)


def run(
    url: str,
    settings: TrainingSettings,
    kinds: tuple[str, ...] = ALL_KINDS,
    report_dir: Path | None = None,
    scheduler: str | None = None,
    set_current: bool = True,
    phase1_dir: Path | None = None,
    version: str | None = None,
) -> ComparisonResult:
    from training.autoencoder import train as dae_train
    from training.autoencoder.model import DAEConfig
    from training.calibration import Platt
    from training.scorers import DAEScorer

    version = version or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir = report_dir or settings.var_dir / "reports" / version
    result = ComparisonResult(version, report_dir)
    clock = time.perf_counter()
    scorers: dict[str, Any] = {}
    history: list[dict] = []
    latents: dict[str, tuple] = {}
    with dask_client(settings, scheduler) as client:
        feed = XPFeed.plan(url, settings, with_labels=True)
        labelled = LabelledSet.gather(feed, client, settings)
        normaliser, n_train_rows = fit_normaliser(feed, client, settings)
        result.timings["prepare_s"] = time.perf_counter() - clock
        excess = None
        if _needs_excess(kinds, settings):
            start = time.perf_counter()
            excess = line_excess.fit(feed, client, normaliser, settings, n_train_rows)
            excess.attach(labelled.batch)
            result.timings["line_excess_s"] = time.perf_counter() - start
        for kind in kinds:
            start = time.perf_counter()
            if kind in ("logreg", "xp_ew", "xp_excess"):
                scorers[kind] = baselines.train_linear(labelled, normaliser, kind, excess)
            elif kind == "lightgbm":
                scorers[kind] = baselines.train_lightgbm(labelled, normaliser, settings)
            elif kind in ("xgboost", "xgboost_ew"):
                scorers[kind] = baselines.train_xgboost(
                    client, feed, labelled, normaliser, settings, kind == "xgboost_ew", excess
                )
            else:
                continue
            result.timings[f"{kind}_s"] = time.perf_counter() - start
        dae_kinds = [k for k in kinds if k in DAE_MODES]
        if dae_kinds:
            start = time.perf_counter()
            args = split_args(settings)
            val_chunks, rows = [], 0
            for chunk in feed.map(client, phase1_chunk, normaliser, args, splits.VAL):
                val_chunks.append(chunk)
                rows += len(chunk[0])
                if rows >= VAL_ROWS_PHASE1:
                    break
            val = (
                np.concatenate([c[0] for c in val_chunks])[:VAL_ROWS_PHASE1],
                np.concatenate([c[1] for c in val_chunks])[:VAL_ROWS_PHASE1],
            )
            order_rng = np.random.default_rng(settings.training_seed)
            orders = [
                order_rng.permutation(len(feed.partitions)) for _ in range(settings.dae_epochs)
            ]

            def epoch_chunks(epoch: int):
                parts = [feed.partitions[i] for i in orders[epoch]]
                return feed.map(
                    client,
                    phase1_chunk,
                    normaliser,
                    args,
                    splits.TRAIN,
                    partitions=parts,
                    in_flight=settings.feed_prefetch,
                )

            p1_dir = phase1_dir or artifacts.new_model_dir(settings, "dae_phase1", version)
            resume = (p1_dir / dae_train.CHECKPOINT).exists()
            dae, p1_history = dae_train.train_phase1(
                epoch_chunks,
                n_train_rows,
                val,
                DAEConfig(hidden=settings.dae_hidden, latent=settings.dae_latent_dim),
                settings,
                p1_dir,
                resume=resume,
            )
            normaliser.save(p1_dir / artifacts.NORMALISER)
            history += p1_history
            result.timings["dae_phase1_s"] = time.perf_counter() - start
            with_ew = settings.head_xp_ew
            head_excess = excess if with_ew else None
            train_arrays = labelled_arrays(
                labelled.part(splits.TRAIN), normaliser, with_ew, head_excess
            )
            val_arrays = labelled_arrays(
                labelled.part(splits.VAL), normaliser, with_ew, head_excess
            )
            test_x = labelled_arrays(labelled.part(splits.TEST), normaliser)
            before = dae.encode(*_encode_inputs(test_x[0])).detach().numpy()
            result.geometry["dae phase 1 (encoder)"] = evaluate.latent_geometry(before)
            latents["phase 1"] = (before, labelled.part(splits.TEST)["bp_rp"], test_x[3])
            for kind in dae_kinds:
                start = time.perf_counter()
                classifier, p2_history = dae_train.train_phase2(
                    dae, train_arrays, val_arrays, settings, DAE_MODES[kind], corruption=settings
                )
                history += [{**h, "mode": DAE_MODES[kind]} for h in p2_history]
                scorer = DAEScorer(
                    kind, normaliser, classifier, Platt(), DAE_MODES[kind], head_excess
                )
                scorer.calibrator = Platt.fit(
                    scorer.score(labelled.part(splits.VAL))[0], labelled.y(splits.VAL)
                )
                scorers[kind] = scorer
                after = scorer.score(labelled.part(splits.TEST))[1]
                result.geometry[f"{kind} (after phase 2)"] = evaluate.latent_geometry(after)
                if DAE_MODES[kind] == "unfreeze":
                    latents[f"{kind} after phase 2"] = (after, latents["phase 1"][1], test_x[3])
                result.timings[f"{kind}_s"] = time.perf_counter() - start

        truth = None
        if feed.spec.truth_relation:
            start = time.perf_counter()
            truth = truth_scores(url, feed, client, scorers, settings, excess)
            result.timings["truth_scoring_s"] = time.perf_counter() - start

    test = labelled.part(splits.TEST)
    y_test = labelled.y(splits.TEST)
    ew_true = np.where(np.isfinite(test["ew_true"]), test["ew_true"], test["ew_label"])
    snapshot = {
        "sources": feed.n_rows,
        "labels_relation": feed.spec.labels_relation,
        "truth_relation": feed.spec.truth_relation,
        "labelled": labelled.counts(),
        "split": {
            "healpix_level": settings.split_healpix_level,
            "seed": settings.training_seed,
            "val": settings.split_val_fraction,
            "test": settings.split_test_fraction,
        },
        "normalise_mode": settings.normalise_mode,
    }
    val, y_val = labelled.part(splits.VAL), labelled.y(splits.VAL)
    for kind, scorer in scorers.items():
        score, latent = scorer.score(test)
        ev = evaluate.evaluate(
            kind,
            y_test,
            score,
            scorer.calibrator(score),
            ew_true,
            test["g_mag"],
            settings.bootstrap_samples,
            settings.training_seed,
        )
        evaluate.add_validation(ev, y_val, scorer.score(val)[0])
        if truth is not None and len(truth["ew_true"]):
            probability = scorer.calibrator(truth[kind])
            evaluate.add_truth(
                ev,
                truth["ew_true"],
                truth["g_mag"],
                truth[kind],
                probability,
                settings.evaluation_truth_min_ew,
                settings.bootstrap_samples,
                settings.training_seed,
            )
            if truth["class"] is not None:
                by_class = evaluate.flagged_by_class(truth["class"], probability >= 0.5)
                ev.metrics["flagged_by_class"] = by_class
        geometry_key = f"{kind} (after phase 2)"
        if geometry_key in result.geometry:
            ev.metrics.update(result.geometry[geometry_key])
            ev.metrics["phase1_" + "pc1_fraction"] = result.geometry["dae phase 1 (encoder)"][
                "pc1_fraction"
            ]
        result.evaluations.append(ev)
        model_dir = artifacts.new_model_dir(settings, kind, version)
        scorer.save(model_dir)
        config = {**scorer.config(), "version": version, "settings": _training_settings(settings)}
        artifacts.write_config(model_dir, config)
        result.model_ids[kind] = registry.register(
            url,
            kind,
            version,
            model_dir,
            config,
            ev.metrics,
            snapshot,
            None if latent is None else int(latent.shape[1]),
        )
    if set_current and result.evaluations:
        best = evaluate.choose_current(result.evaluations)
        registry.set_current(url, result.model_ids[best.kind])
        result.current = best.kind
    context = {
        "version": version,
        "sources": feed.n_rows,
        "labelled (train/val/test)": labelled.counts(),
        "split": snapshot["split"],
        "normalisation": settings.normalise_mode,
        "current model (best validation PR-AUC)": result.current,
        "timings (s)": {k: round(v, 1) for k, v in result.timings.items()},
    }
    result.report = report.write(
        report_dir, result.evaluations, result.geometry, latents, history, context
    )
    return result


def truth_chunk(
    batch: Batch, scorers: dict[str, Any], args: tuple, excess: LineExcess | None
) -> dict[str, np.ndarray]:
    """Every model's raw score for the test-split rows that have a simulation truth (a Dask
    task); the run's H-alpha excess is measured once for all the models that read it."""
    rows = select(batch, (splits.assign(batch["source_id"], *args) == splits.TEST)
                  & np.isfinite(batch["ew_true"]))  # fmt: skip
    if excess is not None and len(rows["ew_true"]):
        excess.attach(rows)
    out = {"source_id": rows["source_id"], "ew_true": rows["ew_true"], "g_mag": rows["g_mag"]}
    for kind, scorer in scorers.items():
        out[kind] = scorer.score(rows)[0] if len(rows["ew_true"]) else np.zeros(0, np.float32)
    return out


def truth_scores(
    url: str,
    feed: XPFeed,
    client: Any,
    scorers: dict[str, Any],
    settings: TrainingSettings,
    excess: LineExcess | None,
) -> dict:
    """Scores of the whole test split (not just its labelled few) for the truth metrics."""
    args = (scorers, split_args(settings), excess)
    parts = list(feed.map(client, truth_chunk, *args, desc="truth"))
    truth = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    truth["class"] = simulated_classes(url, feed.spec.truth_relation, truth["source_id"])
    return truth


def simulated_classes(url: str, truth_relation: str, source_id: np.ndarray) -> np.ndarray | None:
    """The simulated emitter class of each source (None if the truth relation has none)."""
    from sql.database import connect
    from training import queries

    with connect(url) as conn:
        if not conn.execute(queries.TRUTH_HAS_CLASS, (truth_relation,)).fetchone()[0]:
            return None
        rows = conn.execute(queries.truth_classes(truth_relation)).fetchall()
    ids = np.array([r[0] for r in rows], np.int64)
    names = np.array([r[1] for r in rows], object)
    order = np.argsort(ids)
    where = np.clip(np.searchsorted(ids[order], source_id), 0, max(len(ids) - 1, 0))
    found = len(ids) > 0 and ids[order][where] == source_id
    return np.where(found, names[order][where], "unknown")


def _needs_excess(kinds: tuple[str, ...], settings: TrainingSettings) -> bool:
    """Whether any model asked for reads the learned-continuum H-alpha excess."""
    tabular = any("excess" in baselines.FEATURE_SETS.get(kind, "") for kind in kinds)
    return tabular or (settings.head_xp_ew and any(kind in DAE_MODES for kind in kinds))


def _encode_inputs(x: np.ndarray):
    import torch

    t = torch.from_numpy(x)
    missing = torch.isnan(t)
    return torch.nan_to_num(t), missing


def _training_settings(settings: TrainingSettings) -> dict:
    names = [
        n
        for n in type(settings).model_fields
        if n.startswith(
            ("training_", "feed_", "split_", "normalise_", "dae_", "head_", "baseline_")
        )
    ]
    return {n: getattr(settings, n) for n in names}
