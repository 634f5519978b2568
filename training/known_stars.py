"""Where a model ranks the real stars we know: the check that no simulated metric replaces.

Every metric of a run is measured on a simulated sky or on survey labels. A few real Gaia DR3
sources are the outside check: 5853498713190525696, which GaiaXPy's line finder marks as an
H-alpha emitter (significance 29, docs/xp-line-injection.md), and every example star of
Weiler et al. (2023), read at run time from the VOTable the demo ingests. After ``xpha score``
this module writes, per star, the model's probability and score, the star's rank among every
source the model scored, and the split the star was in for the model's training run, because a
rank only means something once one knows whether the model has seen the star: ``train``
(learned from), ``validation`` (early stopping, probability calibration and the choice of the
current model), ``test`` (never used).

Rank: 1 + the number of the model's scores with a strictly higher probability, so tied stars
share the best rank (1, 2, 2, 4). It is one range count on the (model_id, probability) index
per star, never a sort of the 220 million scores. Percentile: 100 x the share of ranked sources
whose probability is at most the star's (100 for the top). Only real probabilities are ranked
and counted: NULL and NaN ones (PostgreSQL sorts NaN above every number) are left out.

Split: a star's split follows from the run's seed, HEALPix level and fractions (stored with the
model), from whether the star was a parent of the simulated sky (its own row then splits with
its copies) and from the held-out file. The last two are not stored with the model, and the
truth table and the file can change after the run, so the split cannot be recomputed later
with certainty; a training run therefore records each known star's split in the model's data snapshot
(``known_star_splits``; ``xpha.models.data_snapshot`` over TAP). A star that was not ingested
when the model trained is in no split; a model registered before runs recorded splits says
``unknown``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.simulator.continua import GAIAXPY_LINE_STAR, line_stars
from sql.database import connect, one_row
from sql.settings import Settings
from training import queries, splits
from training.registry import ModelRecord

SPLIT_NAMES = {splits.TRAIN: "train", splits.VAL: "validation", splits.TEST: "test"}
NOT_INGESTED = "none (not ingested when it trained)"
UNKNOWN = "unknown (model trained before runs recorded it)"
NO_XP = "no XP spectrum ingested"
NO_SCORE = (
    "XP spectrum ingested but no score: unusable for the model (no finite normalised "
    "coefficients), or ingested after the model scored"
)
TITLE = "Known emitters: where the model ranks them"


def known_stars() -> dict[int, str]:
    """source_id -> what the star is: GaiaXPy's emitter, then Weiler's examples (from the file)."""
    stars = {GAIAXPY_LINE_STAR: "H-alpha emitter (GaiaXPy line finder)"}
    for source_id in line_stars():
        stars.setdefault(int(source_id), "Weiler et al. (2023) example")
    return stars


def splits_at_training(url: str, rule: splits.SplitRule) -> dict[str, str]:
    """Each known star's split under a training run's rule (its parents and held-out list),
    for the model's data snapshot; stars not in gaia.xp_continuous are in none."""
    ids = np.array(list(known_stars()), np.int64)
    codes = rule.codes({"source_id": ids})
    with connect(url) as conn:
        present = {int(r[0]) for r in conn.execute(queries.XP_SOURCES_AMONG, (ids.tolist(),))}
    return {
        str(source_id): SPLIT_NAMES[int(code)] if int(source_id) in present else NOT_INGESTED
        for source_id, code in zip(ids, codes, strict=True)
    }


@dataclass(frozen=True)
class KnownStarRank:
    """One known star under one model; ``rank`` is None when it has no score (``not_scored``
    says why) or no real probability."""

    source_id: int
    what: str
    split: str
    total: int  # the model's sources with a real probability
    score: float | None = None
    probability: float | None = None
    rank: int | None = None
    not_scored: str | None = None

    @property
    def percentile(self) -> float | None:
        """100 x the share of ranked sources with a probability at most the star's."""
        if self.rank is None or not self.total:
            return None
        return 100.0 * (self.total - self.rank + 1) / self.total


def rank(url: str, model_id: int) -> list[KnownStarRank]:
    """Every known star's probability, score, rank and split under one model."""
    stars = known_stars()
    ids = list(stars)
    with connect(url) as conn:
        row = conn.execute(queries.MODEL_DATA_SNAPSHOT, (model_id,)).fetchone()
        recorded = _recorded_splits(None if row is None else row[0])
        total = int(one_row(conn.execute(queries.RANKED_SCORES, (model_id,)))[0])
        scored = {int(r[0]): r[1:] for r in conn.execute(queries.KNOWN_STAR_RANKS, (model_id, ids))}
        missing = [i for i in ids if i not in scored]
        ingested = set()
        if missing:
            ingested = {int(r[0]) for r in conn.execute(queries.XP_SOURCES_AMONG, (missing,))}
    ranks = []
    for source_id, what in stars.items():
        split = recorded.get(str(source_id), UNKNOWN)
        if source_id not in scored:
            reason = NO_SCORE if source_id in ingested else NO_XP
            ranks.append(KnownStarRank(source_id, what, split, total, not_scored=reason))
            continue
        score, probability, position = scored[source_id]
        ranks.append(KnownStarRank(source_id, what, split, total, score, probability,
                                   None if position is None else int(position)))  # fmt: skip
    return ranks


def _recorded_splits(data_snapshot: str | None) -> dict[str, str]:
    try:
        recorded = json.loads(data_snapshot or "{}").get("known_star_splits")
    except (ValueError, AttributeError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def markdown(record: ModelRecord, ranks: list[KnownStarRank]) -> str:
    """The report section: one row per known star."""
    total = ranks[0].total if ranks else 0
    lines = [
        f"## {TITLE}",
        "",
        f"Model {record.name} (model_id {record.model_id}): rank by calibrated probability among "
        f"the {total} sources it scored (1 = most likely emitter; ties share the best rank); "
        "percentile = share of those sources with a probability at most the star's. Split: the "
        "star's split in the model's training run (train = learned from, validation = "
        "early stopping, calibration and the choice of model, test = never used).",
        "",
        "| source_id | star | split | probability | score | rank | of | percentile | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in ranks:
        position = "-" if r.rank is None else str(r.rank)
        cells = [str(r.source_id), r.what, r.split, _fmt(r.probability, 4), _fmt(r.score, 4),
                 position, str(r.total), _percent(r.percentile, r.total), _note(r)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _note(r: KnownStarRank) -> str:
    if r.not_scored:
        return f"not scored: {r.not_scored}"
    return "" if r.rank is not None else "scored without a probability: not ranked"


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def _percent(value: float | None, total: int) -> str:
    """Enough decimals to tell rank 2 of 220 million from the top (99.9999995, not 100)."""
    if value is None:
        return "-"
    decimals = max(0, math.ceil(math.log10(max(total, 1))) - 1)
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"


@dataclass(frozen=True)
class KnownStarsReport:
    path: Path
    ranks: list[KnownStarRank]

    def summary(self) -> str:
        """One line for ``xpha score``: each star's rank (or why it has none) and the file."""
        parts = []
        for r in self.ranks:
            if r.rank is not None:
                parts.append(f"{r.source_id} rank {r.rank}/{r.total} ({r.split})")
            else:
                parts.append(f"{r.source_id} {'not scored' if r.not_scored else 'not ranked'}")
        return f"known emitters: {'; '.join(parts)}; table {self.path}"


def report(url: str, settings: Settings, record: ModelRecord) -> KnownStarsReport:
    """Rank the known stars under ``record`` and write the section next to its training report
    (``<var>/reports/<version>/known_stars_<kind>.md``: one file per model of the run)."""
    ranks = rank(url, record.model_id)
    out = settings.var_dir / "reports" / record.version
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"known_stars_{record.kind}.md"
    path.write_text(markdown(record, ranks))
    return KnownStarsReport(path, ranks)
