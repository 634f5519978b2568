"""The exporter of a Parquet snapshot of the training feed (``xpha train snapshot``).

``export`` writes one zstd Parquet file per feed partition (named by its source_id range),
partition by partition through ``XPFeed.map``: each Dask worker COPYs its range and writes its
own file under a temporary name, then renames it, so only (range, rows, sha256, bytes) travel
back. ``manifest.json`` lists every file with its sha256 and is rewritten (atomically) as files
land; a re-run keeps every file whose manifest entry, row count and hash still match, so an
interrupted export resumes and a finished one is a no-op. The 55-long XP arrays are
fixed-size-list columns; NaN stays NaN (no Parquet nulls), labels -1 / NaN as in the COPY feed.

The reader (``training/snapshot_reader.py``) serves the feed's batches from the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sql.binary_copy import CopyColumn
from sql.checksums import file_checksum
from training.data import XPFeed, dask_client, plan_partitions, relation_exists, truth_names_parents
from training.feed_spec import FeedBatch, FeedSpec, Partition
from training.settings import TrainingSettings
from training.snapshot_reader import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    SnapshotError,
    native_dtype,
    part_name,
)

MANIFEST_EVERY_S = 5.0


def to_table(batch: FeedBatch, columns: list[CopyColumn]):
    """The batch's ``columns`` as an Arrow table (arrays become fixed-size lists)."""
    import pyarrow as pa

    fields, arrays = [], []
    for column in columns:
        values = np.ascontiguousarray(batch[column.name], dtype=native_dtype(column))
        scalar = pa.from_numpy_dtype(values.dtype)
        if column.length:
            array = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), column.length)
            fields.append(pa.field(column.name, pa.list_(scalar, column.length), nullable=False))
        else:
            array = pa.array(values)
            fields.append(pa.field(column.name, scalar, nullable=False))
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_partition(
    batch: FeedBatch, lo: int, hi: int, directory: str, columns: list[CopyColumn]
) -> dict[str, Any]:
    """Write one partition's file (a Dask task): temporary name, fsync, rename; its entry."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = to_table(batch, columns)
    table = table.replace_schema_metadata({"xpha.lo": str(lo), "xpha.hi": str(hi)})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue()
    name = part_name(lo, hi)
    final = Path(directory) / name
    temporary = final.with_name(f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return {
        "lo": lo,
        "hi": hi,
        "rows": table.num_rows,
        "file": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": data.size,
    }


def source_database(url: str) -> dict[str, Any]:
    """Host, port and database name of a connection URL (never the user or password)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    return {"host": info.get("host"), "port": info.get("port"), "dbname": info.get("dbname")}


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    path = directory / MANIFEST
    temporary = path.with_name(f".{MANIFEST}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(temporary, path)


def _columns_json(columns: list[CopyColumn]) -> list[list]:
    return [[c.name, c.type, c.length] for c in columns]


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    files: int
    written: int
    kept: int
    rows: int
    bytes: int
    seconds: float


def _reusable(directory: Path, old: dict | None, spec: FeedSpec, partitions: list[Partition]):
    """Entries of an earlier export that match this plan and whose files hash as recorded."""
    if not old or old.get("columns") != _columns_json(spec.columns):
        return {}
    if (old.get("labels_relation"), old.get("truth_relation")) != (
        spec.labels_relation,
        spec.truth_relation,
    ):
        return {}
    wanted = {(p.lo, p.hi, p.rows) for p in partitions}
    kept = {}
    for entry in old.get("partitions", []):
        try:
            key = (int(entry["lo"]), int(entry["hi"]), int(entry["rows"]))
            path = directory / entry["file"]
            if (
                key in wanted
                and entry["file"] == part_name(key[0], key[1])
                and path.is_file()
                and path.stat().st_size == entry["bytes"]
                and file_checksum(path) == entry["sha256"]
            ):
                kept[key[:2]] = entry
        except (KeyError, TypeError, ValueError, OSError):
            continue
    return kept


def export(
    url: str,
    settings: TrainingSettings,
    directory: Path,
    scheduler: str | None = None,
    progress: bool = True,
) -> ExportResult:
    """Export the feed (XP + labels + truth when present) of ``url`` to Parquet in ``directory``."""
    clock = time.perf_counter()
    labels: str | None = settings.training_labels_relation
    labels = labels if labels and relation_exists(url, labels) else None
    truth: str | None = settings.training_truth_relation
    truth = truth if labels and truth and relation_exists(url, truth) else None
    partitions = plan_partitions(url, settings.feed_healpix_level, settings.feed_partition_rows)
    spec = FeedSpec(url, labels, truth, truth_parent=truth_names_parents(url, truth))
    feed = XPFeed(spec, partitions)
    if directory.exists() and not directory.is_dir():
        raise SnapshotError(f"snapshot directory {directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        old = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        old = None
    kept = _reusable(directory, old if isinstance(old, dict) else None, spec, partitions)
    names = {part_name(p.lo, p.hi) for p in partitions}
    for path in directory.iterdir():
        stale = (
            path.name.startswith("part-") and path.suffix == ".parquet" and path.name not in names
        )
        if stale or (path.name.startswith(".") and path.name.endswith(".tmp")):
            path.unlink()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "complete": False,
        "source_database": source_database(url),
        "labels_relation": labels,
        "truth_relation": truth,
        "healpix_level": settings.feed_healpix_level,
        "partition_rows": settings.feed_partition_rows,
        "columns": _columns_json(spec.columns),
        "partitions": [],
        "total_rows": 0,
    }
    entries = dict(kept)

    def save(complete: bool) -> None:
        ordered = [entries[(p.lo, p.hi)] for p in partitions if (p.lo, p.hi) in entries]
        manifest.update(
            complete=complete, partitions=ordered, total_rows=sum(e["rows"] for e in ordered)
        )
        _write_manifest(directory, manifest)

    todo = [p for p in partitions if (p.lo, p.hi) not in kept]
    save(complete=not todo)
    if todo:
        last = time.monotonic()
        with dask_client(settings, scheduler) as client:
            results = feed.map(
                client,
                write_partition,
                str(directory.resolve()),
                spec.columns,
                partitions=todo,
                in_flight=max(2, settings.feed_prefetch),
                desc="snapshot" if progress else None,
                with_range=True,
            )
            for entry in results:
                entries[(entry["lo"], entry["hi"])] = entry
                if time.monotonic() - last > MANIFEST_EVERY_S:
                    save(complete=False)
                    last = time.monotonic()
        save(complete=True)
    return ExportResult(
        directory,
        len(partitions),
        len(todo),
        len(kept),
        manifest["total_rows"],
        sum(e["bytes"] for e in manifest["partitions"]),
        time.perf_counter() - clock,
    )
