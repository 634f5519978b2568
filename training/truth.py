"""Scores of the whole test split against the simulation truth (not just its labelled few).

On a simulated sky every source has a known true EW; each model scores every test-split source
with a truth row once, on the workers, with the run's H-alpha excess measured once for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sql.database import connect, one_row
from training import queries, splits
from training.data import FeedBatch, XPFeed, select
from training.line_excess import LineExcess
from training.model_kind import Scorer


@dataclass
class TruthScores:
    """Test-split sources with a truth row: their truth, and every model's raw score."""

    source_id: np.ndarray
    ew_true: np.ndarray
    g_mag: np.ndarray
    scores: dict[str, np.ndarray]  # by kind
    classes: np.ndarray | None = None  # the simulated class, when the truth relation has one
    parent: np.ndarray | None = None  # each source's parent star (-1: none), for the intervals


def truth_chunk(
    batch: FeedBatch, scorers: dict[str, Scorer], rule: splits.SplitRule, excess: LineExcess | None
) -> TruthScores:
    """Every model's raw score for the test-split rows that have a simulation truth (a Dask
    task); the run's H-alpha excess is measured once for all the models that read it."""
    rows = select(batch, (rule.codes(batch) == splits.TEST)
                  & np.isfinite(batch["ew_true"]))  # fmt: skip
    if excess is not None and len(rows["ew_true"]):
        excess.attach(rows)
    scores = {
        kind: scorer.score(rows)[0] if len(rows["ew_true"]) else np.zeros(0, np.float32)
        for kind, scorer in scorers.items()
    }
    return TruthScores(rows["source_id"], rows["ew_true"], rows["g_mag"], scores,
                       parent=rule.parent_of(rows))  # fmt: skip


def truth_scores(
    url: str,
    feed: XPFeed,
    client: Any,
    scorers: dict[str, Scorer],
    rule: splits.SplitRule,
    excess: LineExcess | None,
) -> TruthScores:
    """Scores of the whole test split (streamed over the feed) for the truth metrics."""
    parts = list(feed.map(client, truth_chunk, scorers, rule, excess, desc="truth"))
    source_id = np.concatenate([p.source_id for p in parts])
    return TruthScores(
        source_id,
        np.concatenate([p.ew_true for p in parts]),
        np.concatenate([p.g_mag for p in parts]),
        {kind: np.concatenate([p.scores[kind] for p in parts]) for kind in scorers},
        simulated_classes(url, str(feed.spec.truth_relation), source_id),
        np.concatenate([p.parent for p in parts if p.parent is not None]),
    )


def simulated_classes(url: str, truth_relation: str, source_id: np.ndarray) -> np.ndarray | None:
    """The simulated emitter class of each source (None if the truth relation has none)."""
    with connect(url) as conn:
        if not one_row(conn.execute(queries.TRUTH_HAS_CLASS, (truth_relation,)))[0]:
            return None
        rows = conn.execute(queries.truth_classes(truth_relation)).fetchall()
    ids = np.array([r[0] for r in rows], np.int64)
    names = np.array([r[1] for r in rows], object)
    order = np.argsort(ids)
    where = np.clip(np.searchsorted(ids[order], source_id), 0, max(len(ids) - 1, 0))
    found = len(ids) > 0 and ids[order][where] == source_id
    return np.where(found, names[order][where], "unknown")
