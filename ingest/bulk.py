"""The bulk path into PostgreSQL: numpy-packed binary COPY, one transaction per file, ingest log.

Rows travel as typed numpy columns (:class:`ChunkColumn`), packed into binary COPY by
:func:`sql.binary_copy.encode_copy_parts` without a Python loop over rows. :func:`ingest_file`
streams a file's chunks through a producer thread (parse + pack the next chunk while the main
thread COPYs the current one), skips files already in ``public.ingest_log`` and rows whose key
already exists, and commits the file with its log row, or nothing at all.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from tqdm import tqdm

from sql.binary_copy import encode_copy_parts
from sql.checksums import file_checksum
from sql.database import connect, database_url
from sql.errors import XphaError
from sql.published_statistics import refresh_published_statistics


class IngestError(XphaError):
    """A file cannot be loaded; names the file, and the data row and column when known."""

    def __init__(
        self, path: Path | str, reason: str, row: int | None = None, column: str | None = None
    ) -> None:
        where = str(path)
        if row is not None:
            where += f", data row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")
        self.path, self.row, self.column, self.reason = str(path), row, column, reason

    def __reduce__(self) -> tuple:  # travels intact from ingest worker processes
        return (type(self), (self.path, self.reason, self.row, self.column))


@dataclass
class ChunkColumn:
    """One column of a chunk: values (n,) or (n, length) and a NULL mask (n,) or None."""

    values: np.ndarray
    null: np.ndarray | None = None


@dataclass
class Chunk:
    """Consecutive data rows of a file, ``first_row`` being the 1-based number of the first."""

    first_row: int
    n_rows: int
    columns: dict[str, ChunkColumn]


# --- database helpers -----------------------------------------------------------------------
def table_types(conn: psycopg.Connection, table: str) -> dict[str, str]:
    """Column name -> type (as format_type spells it) of a table, in table order."""
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (table,),
    ).fetchall()
    return {str(name): str(pg_type) for name, pg_type in rows}


def already_loaded(conn: psycopg.Connection, kind: str, checksum: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM public.ingest_log WHERE kind = %s AND checksum = %s", (kind, checksum)
    ).fetchone()
    return row is not None


def record_ingest(conn: psycopg.Connection, result: IngestResult, checksum: str) -> None:
    conn.execute(
        "INSERT INTO public.ingest_log (kind, file_name, checksum, rows_read, rows_loaded,"
        " duration_s) VALUES (%s, %s, %s, %s, %s, %s)",
        (
            result.kind,
            result.file_name,
            checksum,
            result.rows_read,
            result.rows_loaded,
            result.duration_s,
        ),
    )


# --- loading ----------------------------------------------------------------------------------
@dataclass
class IngestResult:
    kind: str
    file_name: str
    rows_read: int = 0
    rows_loaded: int = 0
    duration_s: float = 0.0
    skipped: bool = False


@dataclass(frozen=True)
class Target:
    """Where a kind of file goes: table, key column, and how a file becomes typed chunks.

    ``read(path, types, chunk_rows)`` yields :class:`Chunk` objects whose columns are a subset
    of the table's, typed as ``types`` says.
    """

    kind: str
    table: str
    key: str
    read: Callable[[Path, dict[str, str], int], Iterator[Chunk]]


class _Loader:
    """COPYs encoded chunks into the table: straight in when no key exists, else via staging."""

    def __init__(self, conn: psycopg.Connection, target: Target) -> None:
        self.conn, self.target = conn, target
        schema, name = target.table.split(".")
        self.table = sql.Identifier(schema, name)
        self.key = sql.Identifier(target.key)
        self.staging_ready = False

    def load(self, names: list[str], keys: np.ndarray, payload: list[bytes | memoryview]) -> int:
        column_list = sql.SQL(", ").join(sql.Identifier(n) for n in names)
        if not len(keys):
            return 0
        has_duplicates = len(np.unique(keys)) != len(keys)
        if not has_duplicates and not self._any_exists(keys):
            self._copy(
                sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(self.table, column_list),
                payload,
            )
            return len(keys)
        staging = sql.Identifier("xpha_staging")
        if not self.staging_ready:
            self.conn.execute(
                sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(staging, self.table)
            )
            self.staging_ready = True
        self.conn.execute(sql.SQL("TRUNCATE {}").format(staging))
        self._copy(
            sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(staging, column_list), payload
        )
        cursor = self.conn.execute(
            sql.SQL(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {} ON CONFLICT ({}) DO NOTHING"
            ).format(self.table, staging, self.key, cols=column_list)
        )
        return cursor.rowcount

    def _any_exists(self, keys: np.ndarray) -> bool:
        """Whether any key is in the table: one range probe (archive files are sorted by
        source_id, so a new chunk's range is usually empty), then the exact keys."""
        probe = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} BETWEEN %s AND %s)")
        row = self.conn.execute(
            probe.format(self.table, self.key), (int(keys.min()), int(keys.max()))
        ).fetchone()
        if not row or not row[0]:
            return False
        probe = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} = ANY(%s))")
        row = self.conn.execute(
            probe.format(self.table, self.key), (keys.astype(np.int64).tolist(),)
        ).fetchone()
        return bool(row and row[0])

    def _copy(self, statement: sql.Composed, payload: list[bytes | memoryview]) -> None:
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            for part in payload:
                copy.write(part)


_DONE = object()


def _produce(
    chunks: Iterator[Chunk],
    types: dict[str, str],
    out: queue.Queue,
    stop: threading.Event,
    key: str,
) -> None:
    """Parse and pack chunks ahead of the loader; errors travel through the queue."""
    try:
        for chunk in chunks:
            names = list(chunk.columns)
            payload = encode_copy_parts([(types[n], chunk.columns[n]) for n in names], chunk.n_rows)
            if not _offer(out, (chunk, names, chunk.columns[key].values, payload), stop):
                return
        _offer(out, _DONE, stop)
    except BaseException as exc:  # re-raised in the consumer thread
        _offer(out, exc, stop)


def _offer(out: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put unless the consumer has stopped (it then never reads the queue again)."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


SYNC_CHECKSUM_BYTES = 64 << 20  # smaller files are hashed before anything else is done


class _AlreadyLoaded(Exception):
    """The checksum, known only once hashed, is in the ingest log: abandon the transaction."""


def ingest_file(
    path: Path,
    target: Target,
    url: str | None = None,
    chunk_rows: int = 5000,
    rows_bar: tqdm | None = None,
) -> IngestResult:
    """Load one file in one transaction; a file already in the ingest log is skipped.

    A big file is hashed in a thread while it loads (hashlib releases the GIL), and the load is
    abandoned as soon as the checksum turns out to be logged already.
    """
    try:
        return _ingest_file(path, target, url, chunk_rows, rows_bar)
    except OSError as exc:  # unreadable, vanished, permission denied: one clear line
        raise IngestError(path, f"cannot read the file: {exc.strerror or exc}") from exc


def _ingest_file(
    path: Path, target: Target, url: str | None, chunk_rows: int, rows_bar: tqdm | None
) -> IngestResult:
    started = time.perf_counter()
    result = IngestResult(kind=target.kind, file_name=str(path))
    if not path.is_file():
        raise IngestError(path, "no such file")
    with (
        ThreadPoolExecutor(1, thread_name_prefix="xpha-sha256") as pool,
        connect(url, autocommit=True) as conn,
    ):
        digest = pool.submit(file_checksum, path)
        if path.stat().st_size < SYNC_CHECKSUM_BYTES:
            digest.result()
        checked = digest.done()
        if checked and not _check_new(conn, target.kind, digest.result()):
            return IngestResult(kind=target.kind, file_name=str(path), skipped=True)
        types = table_types(conn, target.table)
        loader = _Loader(conn, target)
        pending: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        producer = threading.Thread(
            target=_produce,
            args=(target.read(path, types, chunk_rows), types, pending, stop, target.key),
            name=f"xpha-parse-{path.name}",
            daemon=True,
        )
        try:
            with conn.transaction():
                producer.start()
                while (item := pending.get()) is not _DONE:
                    if isinstance(item, BaseException):
                        raise item
                    if not checked and digest.done():
                        checked = _check_new(conn, target.kind, digest.result(), abandon=True)
                    chunk, names, keys, payload = item
                    try:
                        result.rows_loaded += loader.load(names, keys, payload)
                    except psycopg.Error as exc:
                        last = chunk.first_row + chunk.n_rows - 1
                        raise IngestError(
                            path, f"the database refused rows {chunk.first_row}-{last}: {exc}"
                        ) from exc
                    result.rows_read += chunk.n_rows
                    if rows_bar is not None:
                        rows_bar.update(chunk.n_rows)
                if not checked:
                    _check_new(conn, target.kind, digest.result(), abandon=True)
                result.duration_s = time.perf_counter() - started
                record_ingest(conn, result, digest.result())
        except _AlreadyLoaded:
            return IngestResult(kind=target.kind, file_name=str(path), skipped=True)
        finally:
            stop.set()
            producer.join()
    return result


def _check_new(conn: psycopg.Connection, kind: str, checksum: str, abandon: bool = False) -> bool:
    """True when the checksum is not logged yet; a logged one abandons a running load."""
    if not already_loaded(conn, kind, checksum):
        return True
    if abandon:
        raise _AlreadyLoaded(checksum)
    return False


def expand_paths(paths: Iterable[Path], patterns: tuple[str, ...]) -> list[Path]:
    """Files named directly, plus the matching files of named directories in sorted order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(patterns)
                )
            )
        elif path.exists():
            files.append(path)
        else:
            raise IngestError(path, "no such file or directory")
    return files


def ingest_paths(
    paths: Iterable[Path],
    target: Target,
    patterns: tuple[str, ...],
    url: str | None = None,
    chunk_rows: int = 5000,
    progress: bool = True,
    jobs: int = 1,
) -> list[IngestResult]:
    """Ingest files and directories (sorted), each file committed on its own: resumable.

    With ``jobs`` > 1, files load in that many processes at once (the scale path: one
    archive file per process); results keep the sorted order, the first error is raised once
    the files in flight have finished.
    """
    if chunk_rows < 1:
        raise XphaError(f"chunk rows must be at least 1 (got {chunk_rows})")
    files = expand_paths(paths, patterns)
    with tqdm(
        total=len(files), desc=f"ingest {target.kind}", unit="file", disable=not progress
    ) as bar:
        if jobs > 1 and len(files) > 1:
            results = _ingest_parallel(files, target, url or database_url(), chunk_rows, jobs, bar)
        else:
            results = []
            with tqdm(desc="rows", unit="row", disable=not progress, leave=False) as rows_bar:
                for path in files:
                    bar.set_postfix_str(path.name)
                    results.append(ingest_file(path, target, url, chunk_rows, rows_bar))
                    bar.update(1)
    with connect(url) as conn:  # true sizes of what was loaded (a failed run: the next refresh)
        refresh_published_statistics(conn)
    return results


def _ingest_parallel(
    files: list[Path], target: Target, url: str, chunk_rows: int, jobs: int, bar: tqdm
) -> list[IngestResult]:
    results: list[IngestResult | None] = [None] * len(files)
    failure: BaseException | None = None
    context = multiprocessing.get_context("spawn")  # no fork of a process running threads
    with ProcessPoolExecutor(min(jobs, len(files)), mp_context=context) as pool:
        futures = {
            pool.submit(ingest_file, path, target, url, chunk_rows): i
            for i, path in enumerate(files)
        }
        for future in as_completed(futures):
            try:
                results[futures[future]] = future.result()
            except BaseException as exc:  # first failure wins; stop what has not started
                failure = failure or exc
                for pending in futures:
                    pending.cancel()
            bar.update(1)
    if failure is not None:
        raise failure
    return [r for r in results if r is not None]
