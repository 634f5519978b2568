"""Reading a Parquet snapshot of the training feed (``xpha train snapshot`` writes it).

``open_snapshot`` checks a snapshot's manifest and files and gives the feed's spec and
partitions; ``read_snapshot_partition`` is the feed's read when its spec names a snapshot: a pure
function of (spec, lo, hi) that checks the file's sha256 against the manifest the feed was
planned from and returns exactly the arrays the PostgreSQL feed returns. The exporter is
``training/snapshot.py``.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sql.binary_copy import SCALARS, CopyColumn
from sql.errors import XphaError
from training.feed_spec import FeedBatch, FeedSpec, NoSourcesError, Partition

FORMAT = "xpha-feed-snapshot"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class SnapshotError(XphaError):
    """A feed snapshot that cannot be used as it is (missing, incomplete or damaged)."""


def part_name(lo: int, hi: int) -> str:
    """The file of one source_id range: zero-padded so names sort like the ranges."""
    return f"part-{lo:020d}-{hi:020d}.parquet"


def native_dtype(column: CopyColumn) -> np.dtype:
    """The column's numpy dtype in native byte order (Parquet stores native values)."""
    return np.dtype(SCALARS[column.type]).newbyteorder("=")


def _check_entry(entry: dict[str, Any]) -> None:
    for key in ("lo", "hi", "rows", "bytes"):
        if not isinstance(entry[key], int):
            raise TypeError(f"partition {key} must be an integer, not {entry[key]!r}")
    for key in ("file", "sha256"):
        if not isinstance(entry[key], str) or "/" in entry[key]:
            raise TypeError(f"partition {key} must be a plain name, not {entry[key]!r}")


def load_manifest(directory: Path) -> tuple[dict[str, Any], str]:
    """The manifest of a snapshot and its sha256, checked; a clear error when unusable."""
    if not directory.is_dir():
        raise SnapshotError(f"feed snapshot {directory}: no such directory")
    path = directory / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(
            f"feed snapshot {directory} has no {MANIFEST}: export it with `xpha train snapshot`"
        ) from None
    try:
        manifest = json.loads(raw)
        problem = None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            problem = f"not an {FORMAT} manifest"
        elif manifest.get("format_version") != FORMAT_VERSION:
            problem = (
                f"format version {manifest.get('format_version')}, this code reads "
                f"{FORMAT_VERSION}; export it again"
            )
        else:
            for entry in manifest["partitions"]:
                _check_entry(entry)
            if not all(len(c) == 3 for c in manifest["columns"]):
                problem = "columns must be [name, type, length]"
    except (ValueError, KeyError, TypeError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        raise SnapshotError(f"invalid snapshot manifest {path}: {problem}")
    if not manifest.get("complete"):
        raise SnapshotError(
            f"feed snapshot {directory} is incomplete (its export was interrupted): run "
            f"`xpha train snapshot {directory}` again to finish it"
        )
    return manifest, hashlib.sha256(raw).hexdigest()


def open_snapshot(
    directory: Path, labels_relation: str | None, with_labels: bool
) -> tuple[FeedSpec, list[Partition]]:
    """The feed spec and partitions of a snapshot; every file must be there with the size its
    manifest records."""
    manifest, digest = load_manifest(directory)
    labels = truth = None
    if with_labels:
        labels, truth = manifest.get("labels_relation"), manifest.get("truth_relation")
        if not labels:
            raise SnapshotError(
                f"feed snapshot {directory} holds no labels (none existed when it was exported);"
                " load labels and export it again"
            )
        if labels_relation and labels_relation != labels:
            raise SnapshotError(
                f"feed snapshot {directory} holds labels from {labels}, not {labels_relation}: "
                "export it again or set XPHA_TRAINING_LABELS_RELATION"
            )
    partitions = []
    for entry in manifest["partitions"]:
        path = directory / entry["file"]
        if not path.is_file():
            raise SnapshotError(f"feed snapshot file {path} is missing")
        if path.stat().st_size != entry["bytes"]:
            raise SnapshotError(
                f"feed snapshot file {path} has {path.stat().st_size} bytes, its manifest "
                f"says {entry['bytes']}: truncated or replaced; export the snapshot again"
            )
        partitions.append(Partition(int(entry["lo"]), int(entry["hi"]), int(entry["rows"])))
    if not partitions:
        raise NoSourcesError(f"no sources: feed snapshot {directory} holds no partitions")
    parent = truth is not None and any(c[0] == "parent_id" for c in manifest["columns"])
    return FeedSpec("", labels, truth, str(directory.resolve()), digest, parent), partitions


@lru_cache(maxsize=8)
def _expected(directory: str, manifest_sha256: str) -> dict[tuple[int, int], dict[str, Any]]:
    """(lo, hi) -> manifest entry, read once per worker for the manifest the feed planned."""
    manifest, digest = load_manifest(Path(directory))
    if digest != manifest_sha256:
        raise SnapshotError(
            f"feed snapshot manifest {Path(directory) / MANIFEST} changed since the feed was "
            "planned (re-exported meanwhile?): start again"
        )
    return {(int(e["lo"]), int(e["hi"])): e for e in manifest["partitions"]}


def read_snapshot_partition(spec: FeedSpec, lo: int, hi: int) -> FeedBatch:
    """One range from the snapshot as the COPY feed returns it (a pure Dask task)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = Path(str(spec.snapshot))
    entry = _expected(str(directory), str(spec.manifest_sha256)).get((lo, hi))
    if entry is None:
        raise SnapshotError(f"feed snapshot {directory} has no partition [{lo}, {hi})")
    path = directory / entry["file"]
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(f"feed snapshot file {path} is missing") from None
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise SnapshotError(
            f"feed snapshot file {path} does not match its sha256 in the manifest (corrupted or "
            "replaced): export the snapshot again"
        )
    columns = spec.columns
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise SnapshotError(f"feed snapshot file {path} cannot be read: {exc}") from None
    batch: FeedBatch = {}
    for column in columns:
        if column.name not in table.column_names:
            raise SnapshotError(f"feed snapshot file {path} has no column {column.name}")
        array = table.column(column.name).combine_chunks()
        if column.length:
            array = array.flatten()
        if array.null_count:
            raise SnapshotError(f"feed snapshot file {path}: column {column.name} has nulls")
        values = np.array(array.to_numpy(zero_copy_only=False), dtype=native_dtype(column))
        if column.length:
            if values.size != table.num_rows * column.length:
                raise SnapshotError(
                    f"feed snapshot file {path}: column {column.name} is not {column.length} "
                    "values per row"
                )
            values = values.reshape(table.num_rows, column.length)
        batch[column.name] = values
    if table.num_rows != entry["rows"]:
        raise SnapshotError(
            f"feed snapshot file {path} has {table.num_rows} rows, its manifest says {entry['rows']}"
        )
    return batch
