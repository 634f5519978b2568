"""Batch inference over every source, written back by binary COPY, keyed by model.

Each Dask task reads one partition, scores it with the model (loaded once per worker) and
COPYs scores and latents straight into ``ml.emitter_scores`` / ``ml.latents`` from the worker,
replacing that model's earlier rows in the range: re-running is idempotent, only counts travel
back to the client, and memory stays at a few partitions whatever the catalogue size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sql import serving
from sql.binary_copy import CopyColumn, pack
from sql.database import transaction
from sql.published_statistics import refresh_published_statistics
from training import known_stars, queries, registry
from training.data import FeedBatch, XPFeed, dask_client, select
from training.line_excess import MODEL_FILE as LINE_EXCESS_FILE
from training.line_excess import LineExcess
from training.scorers import load_scorer
from training.settings import TrainingSettings

SCORE_COLUMNS = [
    CopyColumn("model_id", "int4"),
    CopyColumn("source_id", "int8"),
    CopyColumn("score", "float4"),
    CopyColumn("probability", "float4"),
    CopyColumn("halpha_excess_ew", "float4", nan_is_null=True),
    CopyColumn("halpha_excess_snr", "float4", nan_is_null=True),
]


@lru_cache(maxsize=4)
def _scorer(model_dir: str):
    return load_scorer(Path(model_dir))


def scoreable(batch: FeedBatch, scorer) -> np.ndarray:
    """Rows with a usable flux and at least one measured band (others get no score)."""
    x, _, _ = scorer.normaliser.transform(batch)
    return np.isfinite(x).any(axis=1)


@lru_cache(maxsize=4)
def _run_excess(model_dir: str) -> LineExcess | None:
    """The run's H-alpha continuum regressor, which every model directory of a run keeps."""
    if not (Path(model_dir) / LINE_EXCESS_FILE).exists():
        return None
    return LineExcess.load(Path(model_dir), _scorer(model_dir).normaliser)


def line_measurement(scorer, rows: FeedBatch, model_dir: str) -> np.ndarray:
    """(n, 2): the H-alpha EW and S/N published with a score: the model's own measurement, else
    the learned-continuum excess it reads, else its run's (so the EW is there whatever model is
    current); NaN where a band is missing or the run kept no regressor."""
    if hasattr(scorer, "measure_line"):
        return scorer.measure_line(rows)
    excess = scorer.excess if scorer.excess is not None else _run_excess(model_dir)
    if excess is not None:
        return excess.measure(rows)
    return np.full((len(rows["source_id"]), 2), np.nan)


def score_partition(
    batch: FeedBatch,
    model_dir: str,
    model_id: int,
    url: str,
    latent_model: tuple[str, int] | None = None,
) -> tuple[int, int]:
    """Score one partition and COPY it into the database; returns (scored, skipped). With
    ``latent_model`` (directory, model_id) an autoencoder writes the latents when the scored
    model has none, so every source has latents whatever model is current."""
    scorer = _scorer(model_dir)
    usable = scoreable(batch, scorer)
    rows = select(batch, usable)
    n = len(rows["source_id"])
    if n == 0:
        return 0, int((~usable).sum())
    excess = scorer.excess
    if excess is not None:
        excess.attach(rows)  # measured once: the model reads it and it is published
    score, latent = scorer.score(rows)
    measured = line_measurement(scorer, rows, model_dir)
    latent_id = model_id
    if latent is None and latent_model is not None:
        latent = _scorer(latent_model[0]).score(rows)[1]
        latent_id = latent_model[1]
    arrays = {
        "model_id": np.full(n, model_id, np.int32),
        "source_id": rows["source_id"],
        "score": score.astype(np.float32),
        "probability": scorer.calibrator(score),
        "halpha_excess_ew": measured[:, 0].astype(np.float32),
        "halpha_excess_snr": measured[:, 1].astype(np.float32),
    }
    lo, hi = int(rows["source_id"].min()), int(rows["source_id"].max()) + 1
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute(queries.DELETE_SCORES_RANGE, (model_id, lo, hi))
        with cur.copy(queries.COPY_SCORES) as copy:
            copy.write(pack(arrays, SCORE_COLUMNS))
        if latent is not None:
            columns = [
                CopyColumn("model_id", "int4"),
                CopyColumn("source_id", "int8"),
                CopyColumn("latent", "float4", latent.shape[1]),
            ]
            cur.execute(queries.DELETE_LATENTS_RANGE, (latent_id, lo, hi))
            with cur.copy(queries.COPY_LATENTS) as copy:
                latents = {**arrays, "model_id": np.full(n, latent_id, np.int32),
                           "latent": latent.astype(np.float32)}  # fmt: skip
                copy.write(pack(latents, columns))
    return n, int((~usable).sum())


@dataclass(frozen=True)
class ScoringResult:
    model: registry.ModelRecord
    scored: int
    skipped: int
    known: known_stars.KnownStarsReport | None = None  # where the model ranks the known stars


def score_all(
    url: str, settings: TrainingSettings, model_ref: str | int, scheduler: str | None = None
) -> ScoringResult:
    """Score every source in gaia.xp_continuous with one registered model, then rank the known
    emitters among them (``training/known_stars.py``, written next to the training report)."""
    record = registry.find(url, model_ref)
    registry.verify(record)
    latents = registry.latent_model(url, record)
    if latents is not None:
        registry.verify(latents)
    feed = XPFeed.plan(url, settings, with_labels=False)
    scored = skipped = 0
    with dask_client(settings, scheduler) as client:
        bar = tqdm(total=feed.n_rows, desc=f"scoring {record.name}", unit="src")
        results = feed.map(
            client,
            score_partition,
            str(record.artifact_path),
            record.model_id,
            url,
            None if latents is None else (str(latents.artifact_path), latents.model_id),
            in_flight=max(2, settings.feed_prefetch),
        )
        for done, missed in results:
            scored += done
            skipped += missed
            bar.update(done + missed)
        bar.close()
    serving.publish(url, changed_model=record.model_id)
    with transaction(url) as conn:  # true sizes and pictures of what was just scored
        refresh_published_statistics(conn, settings)
    return ScoringResult(record, scored, skipped, known_stars.report(url, settings, record))
