"""One run that trains every model kind on the same split, evaluates, registers and reports.

Order: plan the feed -> gather labels (fail early and clearly if there are none) -> fit the
normaliser on the training split (streamed) -> learn the H-alpha continuum if a kind reads it ->
train each kind (``training/kinds.py``) -> evaluate on the test split (labelled rows, and every
source against the truth on a simulated sky) -> artefacts + ml.models -> report. The best model
by validation PR-AUC becomes current unless told otherwise (the test split is never used to
choose).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from training import artifacts, evaluate, known_stars, line_excess, registry, report, splits
from training.data import FeedBatch, XPFeed, dask_client
from training.kinds import KINDS, resolve
from training.labelled import LabelledSet
from training.model_kind import PHASE1, LatentSpace, ModelKind, Scorer, TrainingRun
from training.normalise import Moments, Normaliser, partial_moments
from training.settings import TrainingSettings
from training.truth import TruthScores, truth_scores


@dataclass
class ComparisonResult:
    """What one run produced: per kind its evaluation and model_id, and the chosen one."""

    version: str
    report: Path
    model_ids: dict[str, int] = field(default_factory=dict)  # by kind
    evaluations: list[evaluate.Evaluation] = field(default_factory=list)
    latent_spaces: dict[str, LatentSpace] = field(default_factory=dict)  # by source
    timings: dict[str, float] = field(default_factory=dict)
    current: str | None = None


def run(
    url: str,
    settings: TrainingSettings,
    kinds: Iterable[str] = tuple(KINDS),
    report_dir: Path | None = None,
    scheduler: str | None = None,
    set_current: bool = True,
    phase1_dir: Path | None = None,
    version: str | None = None,
) -> ComparisonResult:
    """Train, evaluate, register and report every kind named (all of them by default)."""
    chosen = resolve(kinds)
    version = version or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = ComparisonResult(version, report_dir or settings.var_dir / "reports" / version)
    with dask_client(settings, scheduler) as client:
        inputs = prepare(url, settings, client, chosen, version, phase1_dir)
        scorers = {kind.name: train(kind, inputs) for kind in chosen}
        truth = None
        if inputs.feed.spec.truth_relation:
            start = time.perf_counter()
            truth = truth_scores(url, inputs.feed, client, scorers, inputs.split,
                                 inputs.excess)  # fmt: skip
            inputs.timings["truth_scoring_s"] = time.perf_counter() - start
    snapshot = data_snapshot(inputs)
    for kind, scorer in scorers.items():
        ev = evaluate_model(inputs, scorer, truth)
        result.evaluations.append(ev)
        result.model_ids[kind] = save_and_register(inputs, scorer, ev, snapshot)
    if set_current and result.evaluations:
        result.current = evaluate.choose_current(result.evaluations).kind
        registry.set_current(url, result.model_ids[result.current])
    result.latent_spaces, result.timings = inputs.latent_spaces, inputs.timings
    context = {
        "version": version,
        "sources": inputs.feed.n_rows,
        "labelled (train/val/test)": inputs.labelled.counts(),
        "split": snapshot["split"],
        "known emitters' splits": snapshot["known_star_splits"],
        "normalisation": settings.normalise_mode,
        "current model (best validation PR-AUC)": result.current,
        "timings (s)": {k: round(v, 1) for k, v in result.timings.items()},
    }
    result.report = report.write(result.report, result.evaluations, result.latent_spaces,
                                 inputs.history, context)  # fmt: skip
    return result


def prepare(
    url: str,
    settings: TrainingSettings,
    client: Any,
    kinds: tuple[ModelKind, ...],
    version: str,
    phase1_dir: Path | None,
) -> TrainingRun:
    """What every kind trains from: the feed, the labels, the normaliser, the H-alpha excess."""
    start = time.perf_counter()
    feed = XPFeed.plan(url, settings, with_labels=True)
    rule = split_rule(feed, client, settings)
    labelled = LabelledSet.gather(feed, client, rule)
    normaliser, n_train_rows = fit_normaliser(feed, client, settings, rule)
    timings = {"prepare_s": time.perf_counter() - start}
    excess = None
    if any(kind.needs_excess(settings) for kind in kinds):
        start = time.perf_counter()
        excess = line_excess.fit(feed, client, normaliser, settings, n_train_rows, rule)
        excess.attach(labelled.batch)
        timings["line_excess_s"] = time.perf_counter() - start
    return TrainingRun(url, settings, feed, client, labelled, normaliser, n_train_rows, excess,
                       rule, version, phase1_dir, timings=timings)  # fmt: skip


def split_rule(feed: XPFeed, client: Any, settings: TrainingSettings) -> splits.SplitRule:
    """The run's split: by parent star where the truth names one (every parent of the simulated
    sky, so that its own real row splits with its copies), by sky cell elsewhere; the held-out
    list (``XPHA_TRAINING_HOLDOUT_FILE``) goes to the test split."""
    rule = splits.rule_of(settings)
    held_out = np.zeros(0, np.int64)
    if settings.training_holdout_file:
        from ingest.simulator.parents import read_source_ids

        held_out = read_source_ids(settings.training_holdout_file, "XPHA_TRAINING_HOLDOUT_FILE")
    return rule.with_groups(known_parents(feed, client), held_out)


def known_parents(feed: XPFeed, client: Any) -> np.ndarray:
    """Every parent_source_id of the feed's truth (none without a truth relation)."""
    if not (feed.spec.truth_relation and feed.spec.truth_parent):
        return np.zeros(0, np.int64)
    if feed.spec.snapshot:
        parts = feed.map(client, _parents, in_flight=4, desc="parents")
        return np.unique(np.concatenate([np.zeros(0, np.int64), *parts]))
    from sql.database import connect
    from training import queries

    with connect(feed.spec.url) as conn:
        rows = conn.execute(queries.truth_parents(feed.spec.truth_relation)).fetchall()
    return np.array(sorted(int(r[0]) for r in rows), np.int64)


def _parents(batch: FeedBatch) -> np.ndarray:
    return np.unique(batch["parent_id"][batch["parent_id"] >= 0])


def train(kind: ModelKind, inputs: TrainingRun) -> Scorer:
    """Train one kind, timed without the shared work it started (timed on its own)."""
    start, shared = time.perf_counter(), sum(inputs.timings.values())
    scorer = kind.train(inputs)
    elapsed = time.perf_counter() - start - (sum(inputs.timings.values()) - shared)
    inputs.timings[f"{kind.name}_s"] = elapsed
    return scorer


def _train_moments(batch: FeedBatch, mode: str, rule: splits.SplitRule) -> tuple[Moments, Moments]:
    rows = rule.codes(batch) == splits.TRAIN
    return partial_moments(batch, mode, rows)


def fit_normaliser(
    feed: XPFeed, client: Any, settings: TrainingSettings, rule: splits.SplitRule
) -> tuple[Normaliser, int]:
    """Normaliser from the training split of every source (streamed); also the row count."""
    coeffs, side = Moments(), Moments()
    args = rule
    for c, s in feed.map(
        client, _train_moments, settings.normalise_mode, args, in_flight=4, desc="normaliser"
    ):
        coeffs, side = coeffs + c, side + s
    normaliser = Normaliser.from_moments(settings.normalise_mode, coeffs, side)
    return normaliser, int(coeffs.n.max())


def evaluate_model(
    inputs: TrainingRun, scorer: Scorer, truth: TruthScores | None
) -> evaluate.Evaluation:
    """Test-split metrics (labels, and the truth when there is one), the validation PR-AUC that
    chooses the current model, and the model's latent geometry."""
    settings, labelled = inputs.settings, inputs.labelled
    test, y_test = labelled.part(splits.TEST), labelled.y(splits.TEST)
    ew_true = np.where(np.isfinite(test["ew_true"]), test["ew_true"], test["ew_label"])
    score, _ = scorer.score(test)
    ev = evaluate.evaluate(scorer.kind, y_test, score, scorer.calibrator(score), ew_true,
                           test["g_mag"], settings.bootstrap_samples, settings.training_seed,
                           inputs.split.parent_of(test))  # fmt: skip
    val_score, _ = scorer.score(labelled.part(splits.VAL))
    evaluate.add_validation(ev, labelled.y(splits.VAL), val_score)
    if truth is not None and len(truth.ew_true):
        probability = scorer.calibrator(truth.scores[scorer.kind])
        evaluate.add_truth(ev, truth.ew_true, truth.g_mag, truth.scores[scorer.kind], probability,
                           settings.evaluation_truth_min_ew, settings.bootstrap_samples,
                           settings.training_seed, truth.parent)  # fmt: skip
        if truth.classes is not None:
            ev.metrics["flagged_by_class"] = evaluate.flagged_by_class(
                truth.classes, probability >= 0.5
            )
    space = inputs.latent_spaces.get(scorer.kind)
    if space is not None:
        ev.metrics.update(space.geometry)
        ev.metrics["phase1_pc1_fraction"] = inputs.latent_spaces[PHASE1].pc1_fraction
    return ev


def data_snapshot(inputs: TrainingRun) -> dict[str, Any]:
    """What the run trained on, recorded with every model, with the split each known emitter
    was in (``training/known_stars.py``)."""
    settings = inputs.settings
    return {
        "sources": inputs.feed.n_rows,
        "labels_relation": inputs.feed.spec.labels_relation,
        "truth_relation": inputs.feed.spec.truth_relation,
        "labelled": inputs.labelled.counts(),
        "split": {
            "healpix_level": settings.split_healpix_level,
            "seed": settings.training_seed,
            "val": settings.split_val_fraction,
            "test": settings.split_test_fraction,
        },
        "normalise_mode": settings.normalise_mode,
        # not recomputable later (the truth and the held-out file change): see known_stars
        "known_star_splits": known_stars.splits_at_training(inputs.url, inputs.split),
    }


def save_and_register(
    inputs: TrainingRun, scorer: Scorer, ev: evaluate.Evaluation, snapshot: dict[str, Any]
) -> int:
    """Save the model's artefact (never overwritten) and register it in ml.models."""
    model_dir = artifacts.new_model_dir(inputs.settings, scorer.kind, inputs.version)
    scorer.save(model_dir)
    config = {**scorer.config(), "version": inputs.version,
              "settings": _training_settings(inputs.settings)}  # fmt: skip
    artifacts.write_config(model_dir, config)
    return registry.register(inputs.url, scorer.kind, inputs.version, model_dir, config,
                             ev.metrics, snapshot, scorer.latent_dim)  # fmt: skip


def _training_settings(settings: TrainingSettings) -> dict:
    prefixes = ("training_", "feed_", "split_", "normalise_", "dae_", "head_", "baseline_")
    return {n: getattr(settings, n) for n in type(settings).model_fields if n.startswith(prefixes)}
