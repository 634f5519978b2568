"""The labelled sources, gathered from the feed with their parent- or sky-grouped split codes.

Labels are a tiny fraction of the catalogue (10^5 of 2x10^8), so they live in memory once
gathered; the unlabelled majority only ever streams (normaliser fit, DAE phase 1, scoring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sql.errors import XphaError
from training import splits
from training.data import FeedBatch, XPFeed, concat, select


class NoLabelsError(XphaError):
    """There are no (or too few) labelled sources to train or evaluate on."""


def labelled_rows(batch: FeedBatch, rule: splits.SplitRule) -> FeedBatch:
    """The labelled rows of a batch, with their split code added (runs on a Dask worker)."""
    rows = select(batch, batch["is_emitter"] >= 0)
    rows["split"] = rule.codes(rows)
    return rows


@dataclass
class LabelledSet:
    """Labelled rows (raw XP columns + label + split code)."""

    batch: FeedBatch

    @classmethod
    def gather(cls, feed: XPFeed, client: Any, rule: splits.SplitRule) -> LabelledSet:
        parts = list(feed.map(client, labelled_rows, rule, in_flight=4, desc="labels"))
        batch = concat([p for p in parts if len(p["source_id"])])
        if not batch:
            raise NoLabelsError(
                f"no labels: none of the {feed.n_rows} sources has a label in "
                f"{feed.spec.labels_relation}; load SDSS/LAMOST labels first"
            )
        labelled = cls(batch)
        for code, name in splits.NAMES.items():
            y = labelled.y(code)
            if y.sum() == 0 or (1 - y).sum() == 0:
                raise NoLabelsError(
                    f"the {name} split has {int(y.sum())} emitters and {int((1 - y).sum())} "
                    "non-emitters; both classes are needed in every split (more labels, or a "
                    "lower XPHA_SPLIT_HEALPIX_LEVEL)"
                )
        return labelled

    def part(self, code: int) -> FeedBatch:
        return select(self.batch, self.batch["split"] == code)

    def y(self, code: int) -> np.ndarray:
        return (self.part(code)["is_emitter"] == 1).astype(np.float32)

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            name: {"emitters": int(self.y(code).sum()), "labelled": len(self.y(code))}
            for code, name in splits.NAMES.items()
        }
