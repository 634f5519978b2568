"""The Dask data feed: partitions are whole HEALPix cells, read by binary COPY.

Gaia ``source_id`` carries the level-12 nested HEALPix index in its top bits
(``source_id >> 35``), so a contiguous source_id range is a contiguous patch of sky and a
partition of the (HEALPix-partitioned) tables. The plan counts rows per cell at
``feed_healpix_level`` and merges neighbouring cells into partitions of about
``feed_partition_rows``; each partition is one COPY, parsed into numpy in one call. Tasks are
plain functions of (url, range), so the same code runs on a local or a remote Dask cluster, and
at most ``prefetch`` partitions are in flight: memory stays flat at any catalogue size.

A feed can also come from a Parquet snapshot of the same partitions (written by
``xpha train snapshot``, read by ``training/snapshot_reader.py``; ``XPFeed.from_snapshot`` or the
``feed_snapshot`` setting): the spec then names the snapshot directory and ``read_partition``
reads that range's file instead of COPYing, returning the same arrays.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sql.binary_copy import parse
from sql.database import connect, one_row
from sql.errors import XphaError
from training import queries
from training.feed_spec import FeedBatch, FeedSpec, NoSourcesError, Partition, fill_missing
from training.settings import TrainingSettings
from training.snapshot_reader import open_snapshot, read_snapshot_partition


def cell_shift(level: int) -> int:
    """Right shift that turns a source_id into its HEALPix cell index at ``level`` (0..12)."""
    if not 0 <= level <= 12:
        raise XphaError(f"HEALPix level must be between 0 and 12, not {level}")
    return 35 + 2 * (12 - level)


def read_partition(spec: FeedSpec, lo: int, hi: int) -> FeedBatch:
    """One source_id range as numpy arrays (a Dask task: a pure function of its arguments)."""
    if spec.snapshot:
        return fill_missing(read_snapshot_partition(spec, lo, hi))
    query = queries.feed_copy(spec.labels_relation, spec.truth_relation, spec.truth_parent)
    buffer = bytearray()
    with (
        connect(spec.url) as conn,
        conn.cursor() as cur,
        cur.copy(query, {"lo": lo, "hi": hi}) as copy,
    ):
        for chunk in copy:
            buffer += chunk
    return fill_missing(parse(buffer, spec.columns))


def plan_partitions(url: str, level: int, target_rows: int) -> list[Partition]:
    """Merge consecutive HEALPix cells into partitions of about ``target_rows`` rows; a clear
    error when there is nothing to partition."""
    shift = cell_shift(level)
    with connect(url) as conn:
        counts = conn.execute(queries.CELL_COUNTS, (shift,)).fetchall()
    if not counts:
        raise NoSourcesError(
            "no sources: gaia.xp_continuous is empty; ingest XP spectra first "
            "(`xpha ingest gaia-xp ...` or `xpha simulate ...`)"
        )
    partitions: list[Partition] = []
    start, rows = None, 0
    for cell, count in counts:
        if start is None:
            start = int(cell) << shift
        rows += int(count)
        if rows >= target_rows:
            partitions.append(Partition(start, (int(cell) + 1) << shift, rows))
            start, rows = None, 0
    if start is not None:
        partitions.append(Partition(start, (int(counts[-1][0]) + 1) << shift, rows))
    return partitions


def truth_names_parents(url: str, truth_relation: str | None) -> bool:
    """Whether the truth relation has a parent_source_id column (the simulator's does)."""
    if not truth_relation:
        return False
    with connect(url) as conn:
        return bool(one_row(conn.execute(queries.TRUTH_HAS_PARENT, (truth_relation,)))[0])


def relation_exists(url: str, name: str) -> bool:
    with connect(url) as conn:
        row = conn.execute(queries.RELATION_EXISTS, (name,)).fetchone()
    return bool(row and row[0])


@dataclass
class XPFeed:
    """Partitions of the XP catalogue and how to read them, locally or on a Dask cluster."""

    spec: FeedSpec
    partitions: list[Partition]

    @classmethod
    def plan(cls, url: str, settings: TrainingSettings, with_labels: bool = True) -> XPFeed:
        """Plan the feed; with labels, the labels relation must exist (truth is optional).

        With the ``feed_snapshot`` setting the feed reads that Parquet snapshot, not ``url``.
        """
        if settings.feed_snapshot:
            return cls.from_snapshot(
                settings.feed_snapshot,
                settings.training_labels_relation if with_labels else None,
                with_labels,
            )
        labels = truth = None
        if with_labels:
            labels = settings.training_labels_relation
            if not relation_exists(url, labels):
                raise XphaError(
                    f"no labels: relation {labels} does not exist; load labels first "
                    "(`xpha labels ...`) or set XPHA_TRAINING_LABELS_RELATION"
                )
            if relation_exists(url, settings.training_truth_relation):
                truth = settings.training_truth_relation
        partitions = plan_partitions(url, settings.feed_healpix_level, settings.feed_partition_rows)
        return cls(FeedSpec(url, labels, truth, truth_parent=truth_names_parents(url, truth)),
                   partitions)  # fmt: skip

    @classmethod
    def from_snapshot(
        cls, path: str | Path, labels_relation: str | None = None, with_labels: bool = True
    ) -> XPFeed:
        """The feed of a Parquet snapshot (``xpha train snapshot``), partitions as exported.

        Without labels the batches carry no labels or truth, like ``plan(with_labels=False)``;
        with ``labels_relation``, the snapshot must have been exported with those labels.
        """
        spec, partitions = open_snapshot(Path(path), labels_relation, with_labels)
        return cls(spec, partitions)

    @property
    def n_rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    def read(self, partition: Partition) -> FeedBatch:
        return read_partition(self.spec, partition.lo, partition.hi)

    def map(
        self,
        client: Any,
        function: Callable[..., Any],
        *args: Any,
        partitions: Sequence[Partition] | None = None,
        in_flight: int = 2,
        desc: str | None = None,
        with_range: bool = False,
    ) -> Iterator[Any]:
        """``function(batch, *args)`` for each partition, in order, at most ``in_flight`` at once.

        The read and the function run together on a worker, so only results travel back.
        With ``desc``, a progress bar counts the sources done; with ``with_range``, the
        function is called as ``function(batch, lo, hi, *args)``.
        """
        from tqdm import tqdm

        todo = deque(self.partitions if partitions is None else partitions)
        bar = tqdm(total=sum(p.rows for p in todo), desc=desc, unit="src", disable=desc is None)
        running: deque = deque()
        while todo or running:
            while todo and len(running) < max(1, in_flight):
                p = todo.popleft()
                future = client.submit(
                    _read_and_apply,
                    self.spec,
                    p.lo,
                    p.hi,
                    with_range,
                    function,
                    *args,
                    pure=False,
                )
                running.append((future, p.rows))
            future, rows = running.popleft()
            result = future.result()
            future.release()
            bar.update(rows)
            yield result
        bar.close()


def _read_and_apply(
    spec: FeedSpec, lo: int, hi: int, with_range: bool, function: Callable, *args: Any
) -> Any:
    if with_range:
        return function(read_partition(spec, lo, hi), lo, hi, *args)
    return function(read_partition(spec, lo, hi), *args)


@contextmanager
def dask_client(settings: TrainingSettings, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client on ``scheduler`` (or settings.dask_scheduler), else on a local cluster."""
    from distributed import Client, LocalCluster

    address = scheduler or settings.dask_scheduler
    if address:
        try:
            client = Client(address, timeout="10s")
        except OSError as exc:
            raise XphaError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=settings.dask_local_workers,
            threads_per_worker=1,
            processes=False,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def select(batch: FeedBatch, mask: np.ndarray) -> FeedBatch:
    """The rows of a batch where ``mask`` is true."""
    return {name: values[mask] for name, values in batch.items()}


def concat(batches: Sequence[FeedBatch]) -> FeedBatch:
    """Join batches row-wise (an empty list gives an empty dict)."""
    if not batches:
        return {}
    return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}
