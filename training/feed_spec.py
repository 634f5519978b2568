"""What a feed partition read returns: the batch layout, its columns, and the feed's spec.

Shared by the PostgreSQL feed (``training/data.py``) and the Parquet snapshot reader
(``training/snapshot_reader.py``), so neither needs the other's module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sql.binary_copy import CopyColumn
from sql.errors import XphaError

FeedBatch = dict[str, np.ndarray]

N_COEFF = 55
XP_COLUMNS = [
    CopyColumn("source_id", "int8"),
    CopyColumn("bp", "float8", N_COEFF),
    CopyColumn("bp_err", "float4", N_COEFF),
    CopyColumn("rp", "float8", N_COEFF),
    CopyColumn("rp_err", "float4", N_COEFF),
    CopyColumn("g_flux", "float8"),
    CopyColumn("g_mag", "float4"),
    CopyColumn("bp_rp", "float4"),
]
LABEL_COLUMNS = [CopyColumn("is_emitter", "int2"), CopyColumn("ew_label", "float4")]
TRUTH_COLUMNS = [CopyColumn("ew_true", "float4")]
PARENT_COLUMNS = [CopyColumn("parent_id", "int8")]  # the simulation parent; -1 if none
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
    truth_parent: bool = False  # the truth relation names each source's parent star

    @property
    def columns(self) -> list[CopyColumn]:
        columns = list(XP_COLUMNS)
        if self.labels_relation:
            columns += LABEL_COLUMNS
        if self.truth_relation:
            columns += TRUTH_COLUMNS
            if self.truth_parent:
                columns += PARENT_COLUMNS
        return columns


def photometry_from_xp(batch: FeedBatch) -> FeedBatch:
    """G flux, G and BP-RP from the XP spectrum itself where gaia_source gave none (a source
    with XP but no gaia_source row): integrated BP and RP rates, G by the Riello et al. (2021)
    excess relation, as the simulator makes them. Without RP the row stays NaN."""
    missing = ~np.isfinite(batch["g_flux"])
    if not missing.any():
        return batch
    from ingest.simulator.continua import g_flux_of, magnitude
    from ingest.xp_physics.lsf import band_model

    bp_flux = band_model("bp").integrated_rate(batch["bp"][missing])
    rp_flux = band_model("rp").integrated_rate(batch["rp"][missing])
    g_flux = np.where(rp_flux > 0, g_flux_of(bp_flux, rp_flux), np.nan)  # BP may be missing
    g_flux = np.where(g_flux > 0, g_flux, np.nan)
    colour = magnitude(bp_flux, "bp") - magnitude(rp_flux, "rp")  # NaN without both fluxes
    g_mag = magnitude(g_flux, "g")
    for name, values in (("g_flux", g_flux), ("g_mag", g_mag), ("bp_rp", colour)):
        column = np.array(batch[name])  # a copy: snapshot arrays may be read-only
        keep = np.isfinite(column[missing])
        column[missing] = np.where(keep, column[missing], values)
        batch[name] = column
    return batch


def fill_missing(batch: FeedBatch) -> FeedBatch:
    """Truth NaN, parent -1 and labels -1 / NaN when the spec reads none (every batch has the
    same keys); photometry from XP where gaia_source has none."""
    if "ew_true" not in batch:
        batch["ew_true"] = np.full(len(batch["source_id"]), np.nan, np.float32)
    if "parent_id" not in batch:
        batch["parent_id"] = np.full(len(batch["source_id"]), -1, np.int64)
    if "is_emitter" not in batch:
        batch["is_emitter"] = np.full(len(batch["source_id"]), -1, np.int16)
        batch["ew_label"] = np.full(len(batch["source_id"]), np.nan, np.float32)
    return photometry_from_xp(batch)
