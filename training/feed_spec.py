"""What a feed partition read returns: the batch layout, its columns, and the feed's spec.

Shared by the PostgreSQL feed (``training/data.py``) and the Parquet snapshot reader
(``training/snapshot_reader.py``), so neither needs the other's module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sql.binary_copy import Column
from sql.errors import XphaError

Batch = dict[str, np.ndarray]

N_COEFF = 55
XP_COLUMNS = [
    Column("source_id", "int8"),
    Column("bp", "float8", N_COEFF),
    Column("bp_err", "float4", N_COEFF),
    Column("rp", "float8", N_COEFF),
    Column("rp_err", "float4", N_COEFF),
    Column("g_flux", "float8"),
    Column("g_mag", "float4"),
    Column("bp_rp", "float4"),
]
LABEL_COLUMNS = [Column("is_emitter", "int2"), Column("ew_label", "float4")]
TRUTH_COLUMNS = [Column("ew_true", "float4")]
SOURCE_ID_END = 12 * 2**59


class NoSourcesError(XphaError):
    """The database holds no XP spectra to train on or score."""


@dataclass(frozen=True)
class Partition:
    """A half-open source_id range [lo, hi) covering whole HEALPix cells."""

    lo: int
    hi: int
    rows: int


@dataclass(frozen=True)
class FeedSpec:
    """What each partition read returns: the XP columns, plus labels and truth if present.

    With ``snapshot`` (a directory written by ``xpha train snapshot``) partitions are read from
    its Parquet files; ``manifest_sha256`` pins the manifest the feed was planned from.
    """

    url: str
    labels_relation: str | None = None
    truth_relation: str | None = None
    snapshot: str | None = None
    manifest_sha256: str | None = None

    @property
    def columns(self) -> list[Column]:
        columns = list(XP_COLUMNS)
        if self.labels_relation:
            columns += LABEL_COLUMNS
        if self.truth_relation:
            columns += TRUTH_COLUMNS
        return columns


def fill_missing(batch: Batch) -> Batch:
    """Truth NaN and labels -1 / NaN when the spec reads none (every batch has the same keys)."""
    if "ew_true" not in batch:
        batch["ew_true"] = np.full(len(batch["source_id"]), np.nan, np.float32)
    if "is_emitter" not in batch:
        batch["is_emitter"] = np.full(len(batch["source_id"]), -1, np.int16)
        batch["ew_label"] = np.full(len(batch["source_id"]), np.nan, np.float32)
    return batch
