"""Binary COPY rows with variable-width fields (text, arrays) -> numpy, a batch at a time.

``sql.binary_copy`` decodes rows of one fixed width with a single ``frombuffer``. A text or
array field makes each row as long as its values, so where a row starts is only known once
the row before has been read: that walk is the one step done per row in Python, and only over
the length words of the variable fields (placed last in the row, after every fixed-width one).
Where consecutive rows have the same length (a column holding one model's name, say), the walk
guesses the run and checks it with strided numpy views, exactly: a row whose length words all
match is as long as the one before, so the next row starts where the guess says. Everything
else (the fixed fields, every text's bytes, every array's elements) is gathered with numpy.

A text column comes back as its bytes back to back with row offsets (Arrow's layout), an array
column as its elements back to back with row offsets; NULL is a flag, never a value.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterable
from dataclasses import dataclass

import numpy as np

from sql.binary_copy import (
    SCALARS,
    TRAILER,
    CopyColumn,
    CopyFormatError,
    _header_length,
    decode_records,
    row_dtype,
)

VARIABLE = -1  # CopyColumn.length of an array whose length varies from row to row
TEXT = "text"  # CopyColumn.type of a text column (bytes in the connection's encoding)
_INT32 = struct.Struct(">i")
_RUN_MIN = 16  # rows a guessed run must reach before the walk guesses again straight away


@dataclass
class Varlen:
    """One variable-width column of a batch: row i is ``values[offsets[i]:offsets[i + 1]]``."""

    values: np.ndarray  # uint8 (text bytes) or the array's element type
    offsets: np.ndarray  # int64, rows + 1
    null: np.ndarray  # bool, rows


def is_variable(column: CopyColumn) -> bool:
    return column.type == TEXT or column.length == VARIABLE


def stream(
    chunks: Iterable[bytes | bytearray | memoryview], columns: list[CopyColumn], batch_rows: int
) -> Generator[dict[str, np.ndarray | Varlen], None, None]:
    """Decode a binary COPY stream whose last columns are variable-width, in batches of
    ``batch_rows`` rows (the last one shorter); about one batch of raw bytes is held, and
    what arrived since the last walk (``WALK_CHUNKS`` chunks or ``WALK_BYTES`` bytes)."""
    fixed = [c for c in columns if not is_variable(c)]
    variable = [c for c in columns if is_variable(c)]
    if columns[: len(fixed)] != fixed:
        raise CopyFormatError("variable-width columns must come after every fixed-width one")
    walk = _Walk(row_dtype(fixed).itemsize, len(variable), batch_rows)
    pending = bytearray()
    arrived: list[bytes | bytearray | memoryview] = []  # chunks not yet in pending
    keep = arrived.append
    arrived_bytes = 0
    header: int | None = None
    for chunk in chunks:  # a chunk may be one row (a CopyData message): keep this short
        keep(chunk)
        arrived_bytes += len(chunk)
        if len(arrived) < WALK_CHUNKS and arrived_bytes < WALK_BYTES:
            continue
        pending += b"".join(arrived)
        arrived.clear()
        arrived_bytes = 0
        if header is None:
            if len(pending) < 19:
                continue
            header = _header_length(memoryview(pending))
            del pending[:header]
        while walk.advance(pending, len(pending)) and walk.full:
            yield walk.take(pending, fixed, variable, len(columns))
    pending += b"".join(arrived)
    if header is None:
        if len(pending) < 19:
            raise CopyFormatError("the COPY stream ended before its header")
        header = _header_length(memoryview(pending))
        del pending[:header]
    if pending[-2:] != TRAILER:
        raise CopyFormatError("the COPY stream ended without its trailer")
    while walk.advance(pending, len(pending) - 2) or walk.rows:
        yield walk.take(pending, fixed, variable, len(columns))
    if len(pending) != 2:
        raise CopyFormatError(f"the COPY stream ends inside a row (columns {_names(columns)})")


WALK_CHUNKS = 512  # chunks (rows) gathered before a walk (runs are guessed within them)
WALK_BYTES = 1 << 20  # or bytes, when chunks hold many rows (tap_service.columnar.copy_blocks)


class _Walk:
    """Row boundaries found so far in the pending bytes, up to one batch."""

    def __init__(self, head: int, n_var: int, batch_rows: int) -> None:
        self.head, self.n_var, self.batch_rows = head, n_var, batch_rows
        self.starts: list[np.ndarray] = []
        self.at: list[np.ndarray] = []
        self.rows = 0
        self.pos = 0

    @property
    def full(self) -> bool:
        return self.rows >= self.batch_rows

    def advance(self, pending: bytearray, end: int) -> bool:
        """Walk the rows complete in ``pending[pos:end]``; False when none was."""
        with memoryview(pending) as view:
            starts, at, self.pos = row_bounds(
                view, self.pos, end, self.head, self.n_var, self.batch_rows - self.rows
            )
        self.starts.append(starts)
        self.at.append(at)
        self.rows += len(starts)
        return len(starts) > 0

    def take(
        self, pending: bytearray, fixed: list[CopyColumn], variable: list[CopyColumn], n_fields: int
    ) -> dict[str, np.ndarray | Varlen]:
        """Decode the walked rows and drop their bytes from ``pending``."""
        starts = np.concatenate(self.starts)
        at = np.concatenate(self.at)
        with memoryview(pending) as view:
            batch = _decode(view, self.pos, starts, at, fixed, variable, self.head, n_fields)
        del pending[: self.pos]
        self.starts, self.at, self.rows, self.pos = [], [], 0, 0
        return batch


def _names(columns: list[CopyColumn]) -> list[str]:
    return [c.name for c in columns]


def _decode(
    view: memoryview,
    end: int,
    starts: np.ndarray,
    lengths_at: np.ndarray,
    fixed: list[CopyColumn],
    variable: list[CopyColumn],
    head: int,
    n_fields: int,
) -> dict[str, np.ndarray | Varlen]:
    """The rows starting at ``starts`` (their variable fields' length words at
    ``lengths_at``) in ``view[:end]``, decoded."""
    data = np.frombuffer(view, dtype=np.uint8, count=end)
    record = row_dtype(fixed)
    steps = np.diff(starts)
    if len(steps) and np.all(steps == steps[0]):  # rows of one length: a strided view
        rows = np.ndarray(
            (len(starts),),
            dtype=record,
            buffer=view,
            offset=int(starts[0]),
            strides=(int(steps[0]),),
        )
    else:  # (n, head) bytes gathered: the count and the fixed fields of each row
        rows = data[starts[:, None] + np.arange(head)].reshape(-1).view(record)
    batch: dict[str, np.ndarray | Varlen] = dict(decode_records(rows, fixed, n_fields))
    for k, column in enumerate(variable):
        at = lengths_at[:, k]
        lengths = _int32(data, at)
        batch[column.name] = (
            _texts(data, at + 4, lengths)
            if column.type == TEXT
            else _arrays(data, at + 4, lengths, column)
        )
    return batch


def row_bounds(
    data: memoryview, pos: int, end: int, head: int, n_var: int, max_rows: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Where each whole row in ``data[pos:end]`` starts (at most ``max_rows``), where its
    variable fields' length words are ``(rows, n_var)``, and where the next row starts."""
    unpack = _INT32.unpack_from
    found_starts: list[np.ndarray] = []  # walked rows and guessed runs, in order
    found_at: list[np.ndarray] = []
    starts: list[int] = []  # rows walked since the last run
    at: list[int] = []
    rows = 0
    guess_after = 0
    while rows < max_rows:
        p = pos + head
        row_at = []
        for _ in range(n_var):
            if p + 4 > end:
                break
            row_at.append(p)
            n = unpack(data, p)[0]
            p += 4 + max(n, 0)
        if len(row_at) < n_var or p > end:
            break
        starts.append(pos)
        at.extend(row_at)
        rows += 1
        length, row, pos = p - pos, pos, p
        if rows < guess_after:
            continue
        offsets = [a - row for a in row_at]
        run = min(_run(data, pos, end, length, offsets), max_rows - rows)
        if run:
            found_starts.append(np.asarray(starts, dtype=np.int64))
            found_at.append(np.asarray(at, dtype=np.int64))
            starts, at = [], []
            run_starts = pos + length * np.arange(run, dtype=np.int64)
            found_starts.append(run_starts)
            found_at.append((run_starts[:, None] + np.asarray(offsets)).reshape(-1))
            rows += run
            pos += run * length
        guess_after = rows + (0 if run >= _RUN_MIN else 64)
    found_starts.append(np.asarray(starts, dtype=np.int64))
    found_at.append(np.asarray(at, dtype=np.int64))
    bounds = np.concatenate(found_starts)
    return bounds, np.concatenate(found_at).reshape(len(bounds), n_var), pos


def _run(data: memoryview, pos: int, end: int, length: int, offsets: list[int]) -> int:
    """How many rows from ``pos`` on are exactly ``length`` bytes long, the variable fields'
    length words where ``offsets`` says (checked with strided views, no per-row Python)."""
    count = (end - pos) // length
    if count <= 0:
        return 0
    same = np.ones(count, dtype=bool)
    for k, offset in enumerate(offsets):
        expected = (offsets[k + 1] if k + 1 < len(offsets) else length) - offset - 4
        words = np.ndarray(
            (count,), dtype=">i4", buffer=data, offset=pos + offset, strides=(length,)
        )
        same &= words == expected
    if not offsets:
        return count
    wrong = np.flatnonzero(~same)
    return int(wrong[0]) if wrong.size else count


def _int32(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The big-endian int32 at each of ``at``."""
    return data[at[:, None] + np.arange(4)].reshape(-1).view(">i4").astype(np.int64)


def _gather(
    data: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The byte ranges ``[starts, starts + sizes)`` back to back, and their offsets."""
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    total = int(offsets[-1])
    if not total:
        return np.empty(0, dtype=np.uint8), offsets
    index = np.repeat(starts - offsets[:-1], sizes) + np.arange(total)
    return data[index], offsets


def _texts(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> Varlen:
    null = lengths < 0
    values, offsets = _gather(data, starts, np.maximum(lengths, 0))
    return Varlen(values, offsets, null)


def _arrays(
    data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, column: CopyColumn
) -> Varlen:
    """Array payloads (ndim, has-null flag, element OID, (dim, lower bound) per dimension,
    then a length word and a value per element) as their elements, row-major, back to back."""
    null = lengths < 0
    dtype = np.dtype(SCALARS[column.type])
    n = len(starts)
    starts = np.where(null, 0, starts)  # a NULL has no payload: read nothing past the data
    ndim = np.where(null, 0, _int32(data, starts))
    if np.any((ndim < 0) | (ndim > 6)):
        raise CopyFormatError(f"column {column.name} is not an array of {column.type}")
    has_null = np.where(null, 0, _int32(data, starts + 4))
    counts = np.where(ndim > 0, 1, 0)
    for d in range(int(ndim.max(initial=0))):
        dims = np.where(ndim > d, _int32(data, np.where(ndim > d, starts + 12 + 8 * d, 0)), 1)
        counts = counts * dims
    first = starts + 12 + 8 * ndim  # the first element's length word
    if np.any(has_null):
        return _arrays_with_nulls(data, first, counts, null, has_null.astype(bool), column)
    step = 4 + dtype.itemsize
    expected = np.where(null, -1, 12 + 8 * ndim + counts * step)
    if np.any(expected != lengths):
        raise CopyFormatError(f"column {column.name} holds elements that are not {column.type}")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    element = np.repeat(first + 4 - offsets[:-1] * step, counts) + np.arange(total) * step
    raw = data[element[:, None] + np.arange(dtype.itemsize)]
    values = raw.reshape(-1).view(dtype).astype(dtype.newbyteorder("="))
    return Varlen(values, offsets, null)


def _arrays_with_nulls(
    data: np.ndarray,
    first: np.ndarray,
    counts: np.ndarray,
    null: np.ndarray,
    has_null: np.ndarray,
    column: CopyColumn,
) -> Varlen:
    """The rare arrays holding NULL elements, element by element (a NULL element becomes NaN,
    an integer's smallest value or false: VOTable has no NULL inside an array)."""
    dtype = np.dtype(SCALARS[column.type])
    native = dtype.newbyteorder("=")
    fill = np.nan if native.kind == "f" else np.iinfo(native).min if native.kind == "i" else 0
    parts = []
    raw = data.tobytes()
    for row in range(len(first)):
        pos = int(first[row])
        values = np.full(int(counts[row]), fill, dtype=native)
        for j in range(int(counts[row])):
            size = _INT32.unpack_from(raw, pos)[0]
            if size >= 0:
                values[j] = np.frombuffer(raw, dtype=dtype, count=1, offset=pos + 4)[0]
            pos += 4 + max(size, 0)
        parts.append(values)
    offsets = np.zeros(len(first) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    values = np.concatenate(parts) if parts else np.empty(0, dtype=native)
    return Varlen(values, offsets, null)
