"""Streaming readers for the Gaia archive's table formats, and conversion to typed columns.

Every reader yields :class:`RawChunk` objects of at most ``chunk_rows`` rows whose columns are
one of: a pyarrow string array (CSV/ECSV text, parsed later), a numpy (masked) array of shape
(n,) or (n, length) (FITS, VOTable), or an object array of per-row arrays (variable-length arrays
whose lengths differ). :func:`to_column` turns any of them into the typed :class:`ChunkColumn` the
bulk loader packs, checking array lengths and naming the row of the first bad value.

- CSV / ECSV (also gzipped): pyarrow's streaming CSV reader, every column read as text; arrays
  are "(a, b, ...)" or "[a, b, ...]" strings. The archive's own "[a,b,...]" is parsed in place
  by one cast; any other spelling is split and cast by pyarrow compute. Gzip is inflated by
  ISA-L (``isal``): zlib's inflate was a third of the client's time on the archive's files.
- FITS (also gzipped, decompressed to a temporary file first): the binary table is memory-mapped
  and sliced; variable-length array columns (the archive's ``PD(55)``) are gathered from the heap
  with numpy, so memory stays flat and no Python loop runs per row.
- VOTable: astropy reads the whole file (archive VOTables are small; DataLink returns one per
  source or per few thousand sources), then it is cut into chunks.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from isal import igzip, isal_zlib

from ingest.bulk import ChunkColumn, IngestError
from sql.binary_copy import PG_SCALARS
from sql.votable_guard import VOTableLimits, VOTableRefused, check_votable_file

TEXT_NULLS = ["", "null", "NULL", "--"]
# What reading a damaged .gz raises: OSError (bad header or CRC), EOFError (truncated), ISA-L's
# error (a garbled deflate stream; inflating reads ahead, so even a header line can meet it)
READ_ERRORS = (OSError, EOFError, cast(type[Exception], isal_zlib.error))  # its stub: an instance
ARRAY_BRACKETS = "()[] \t"


@dataclass
class RawChunk:
    """Rows ``first_row`` .. ``first_row + n_rows - 1`` (1-based data rows) of a file."""

    first_row: int
    n_rows: int
    columns: dict[str, Any]


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def table_format(path: Path) -> str:
    """csv, ecsv, fits or votable, from the file name (a trailing .gz is ignored)."""
    name = path.name.lower().removesuffix(".gz")
    for suffixes, fmt in (
        ((".csv",), "csv"),
        ((".ecsv",), "ecsv"),
        ((".fits", ".fit", ".fts"), "fits"),
        ((".xml", ".vot", ".votable"), "votable"),
    ):
        if name.endswith(suffixes):
            return fmt
    raise IngestError(
        path, "unknown table format (expected .csv, .ecsv, .fits, .xml/.vot, optionally .gz)"
    )


TABLE_SUFFIXES = (
    ".csv",
    ".ecsv",
    ".fits",
    ".fit",
    ".fts",
    ".xml",
    ".vot",
    ".votable",
    ".csv.gz",
    ".ecsv.gz",
    ".fits.gz",
    ".fit.gz",
    ".xml.gz",
    ".vot.gz",
)


def read_table(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    """The file's rows in chunks, whatever its format."""
    fmt = table_format(path)
    if fmt in ("csv", "ecsv"):
        return _read_text(path, chunk_rows, fmt)
    if fmt == "fits":
        return _read_fits(path, chunk_rows)
    return _read_votable(path, chunk_rows)


# --- CSV and ECSV ---------------------------------------------------------------------------
def _open_text(path: Path):
    return (
        igzip.open(path, "rt", encoding="utf-8", newline="")
        if is_gzip(path)
        else open(path, encoding="utf-8", newline="")
    )


def _text_layout(path: Path, fmt: str) -> tuple[int, str, list[str]]:
    """(comment lines to skip, delimiter, column names) of a CSV or ECSV file."""
    skip, delimiter = 0, " " if fmt == "ecsv" else ","  # ECSV's default delimiter is a space
    with _open_text(path) as handle:
        try:
            line = handle.readline()
            while line.startswith("#"):
                skip += 1
                found = re.match(r"#\s*delimiter:\s*'?(.)'?\s*$", line.rstrip("\n"))
                if found:
                    delimiter = found.group(1)
                line = handle.readline()
        except READ_ERRORS as exc:
            raise IngestError(path, f"unreadable {fmt.upper()}: {exc}") from exc
        if fmt == "ecsv" and skip == 0:
            raise IngestError(path, "not an ECSV file: no '# %ECSV' header")
        names = next(csv.reader([line], delimiter=delimiter), [])
    if not names:
        raise IngestError(path, "empty file: no header line")
    return skip, delimiter, [n.strip() for n in names]


def _read_text(path: Path, chunk_rows: int, fmt: str) -> Iterator[RawChunk]:
    skip, delimiter, names = _text_layout(path, fmt)
    stream = pa.input_stream(igzip.open(path, "rb") if is_gzip(path) else str(path))
    try:
        pending: list[pa.RecordBatch] = []  # pyarrow's blocks, re-cut into chunk_rows rows
        buffered, row = 0, 1
        for batch in _text_batches(path, stream, skip, delimiter, names, fmt):
            pending.append(batch)
            buffered += batch.num_rows
            if buffered < chunk_rows:
                continue
            table, offset = pa.Table.from_batches(pending), 0  # no copy: slices of the blocks
            while buffered - offset >= chunk_rows:
                yield _text_chunk(table.slice(offset, chunk_rows), row)
                offset += chunk_rows
                row += chunk_rows
            pending, buffered = table.slice(offset).to_batches(), buffered - offset
        if buffered:
            yield _text_chunk(pa.Table.from_batches(pending), row)
    finally:
        stream.close()


def _text_batches(
    path: Path, stream: Any, skip: int, delimiter: str, names: list[str], fmt: str
) -> Iterator[pa.RecordBatch]:
    """pyarrow's record batches, every column as text; a malformed line names its row."""
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                skip_rows=skip + 1, column_names=names, block_size=1 << 23
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                null_values=TEXT_NULLS,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        yield from reader
    except (pa.ArrowInvalid, *READ_ERRORS) as exc:
        bad = _first_bad_text_row(path, skip, delimiter, len(names))
        reason = str(exc).split("\n")[0][:200]
        raise IngestError(path, f"unreadable {fmt.upper()}: {reason}", row=bad) from exc


def _text_chunk(table: pa.Table, first_row: int) -> RawChunk:
    columns = {name: table.column(name).combine_chunks() for name in table.column_names}
    return RawChunk(first_row, table.num_rows, columns)


def _first_bad_text_row(path: Path, skip: int, delimiter: str, n_fields: int) -> int | None:
    """The 1-based data row where a CSV stops being well formed (slow; only after an error)."""
    row = 0
    try:
        with _open_text(path) as handle:
            for _ in range(skip + 1):
                handle.readline()
            for row, fields in enumerate(csv.reader(handle, delimiter=delimiter, strict=True), 1):
                if len(fields) != n_fields:
                    return row
    except (csv.Error, *READ_ERRORS):
        return row + 1
    return None


# --- FITS -------------------------------------------------------------------------------------
FITS_TYPES = {
    "L": "i1",
    "B": "u1",
    "I": ">i2",
    "J": ">i4",
    "K": ">i8",
    "E": ">f4",
    "D": ">f8",
    "A": "S",
}
TFORM = re.compile(r"^(\d*)([LBIJKEDAPQ])([LBIJKED])?(?:\((\d+)\))?")


@dataclass
class _FitsColumn:
    name: str
    code: str  # FITS type letter of the values
    repeat: int  # elements per row (fixed arrays); 1 for scalars
    offset: int  # byte offset inside the row
    vla: str | None = None  # 'P' or 'Q' when a variable-length array descriptor
    null: int | None = None  # TNULL of integer columns
    scale: tuple[float, float] = (1.0, 0.0)  # TSCAL, TZERO


def _read_fits(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    if is_gzip(path):
        with tempfile.TemporaryDirectory(prefix="xpha-fits-") as tmp:
            plain = Path(tmp) / path.name.removesuffix(".gz")
            with igzip.open(path, "rb") as src, open(plain, "wb") as dst:
                try:
                    shutil.copyfileobj(src, dst, 1 << 22)
                except READ_ERRORS as exc:
                    raise IngestError(path, f"truncated or corrupt gzip: {exc}") from exc
            yield from _read_plain_fits(plain, chunk_rows, shown=path)
    else:
        yield from _read_plain_fits(path, chunk_rows, shown=path)


def _fits_layout(path: Path, shown: Path) -> tuple[Any, int, list[_FitsColumn]]:
    """(header, data offset, columns) of the first binary table HDU."""
    from astropy.io import fits

    try:
        with warnings.catch_warnings(), fits.open(path, memmap=True) as hdul:
            warnings.simplefilter("ignore")  # truncation is detected (with the row) below
            for index, hdu in enumerate(hdul):
                if isinstance(hdu, fits.BinTableHDU):
                    header = hdu.header.copy()
                    data_offset = hdul.fileinfo(index)["datLoc"]
                    break
            else:
                raise IngestError(shown, "no binary table extension in this FITS file")
    except (OSError, ValueError, IndexError) as exc:
        raise IngestError(shown, f"unreadable FITS: {exc}") from exc
    columns, offset = [], 0
    for i in range(1, int(header["TFIELDS"]) + 1):
        tform = str(header[f"TFORM{i}"]).strip()
        match = TFORM.match(tform)
        if not match:
            raise IngestError(
                shown, f"unsupported FITS column format {tform!r}", column=header.get(f"TTYPE{i}")
            )
        repeat = int(match.group(1) or 1)
        code, vla = match.group(2), None
        if code in "PQ":
            vla, code = code, match.group(3) or "B"
            width = 8 if vla == "P" else 16
        elif code == "A":
            width = repeat
        else:
            width = repeat * np.dtype(FITS_TYPES[code]).itemsize
        columns.append(
            _FitsColumn(
                name=str(header.get(f"TTYPE{i}", f"col{i}")).strip(),
                code=code,
                repeat=repeat,
                offset=offset,
                vla=vla,
                null=header.get(f"TNULL{i}"),
                scale=(float(header.get(f"TSCAL{i}", 1.0)), float(header.get(f"TZERO{i}", 0.0))),
            )
        )
        offset += width
    if offset != int(header["NAXIS1"]):
        raise IngestError(
            shown, f"FITS row width {offset} does not match NAXIS1 {header['NAXIS1']}"
        )
    return header, data_offset, columns


def _read_plain_fits(path: Path, chunk_rows: int, shown: Path) -> Iterator[RawChunk]:
    header, data_offset, columns = _fits_layout(path, shown)
    row_bytes, n_rows = int(header["NAXIS1"]), int(header["NAXIS2"])
    heap_start = data_offset + int(header.get("THEAP", row_bytes * n_rows))
    size = path.stat().st_size
    complete_rows = max(0, (size - data_offset) // row_bytes) if row_bytes else n_rows
    if complete_rows < n_rows:
        raise IngestError(
            shown,
            f"truncated FITS: the table declares {n_rows} rows but the file "
            f"ends inside row {complete_rows + 1}",
            row=complete_rows + 1,
        )
    row_type = np.dtype(
        {
            "names": [c.name for c in columns],
            "formats": [_fits_field_type(c) for c in columns],
            "offsets": [c.offset for c in columns],
            "itemsize": row_bytes,
        }
    )
    if n_rows == 0:
        return
    table = np.memmap(path, dtype=row_type, mode="r", offset=data_offset, shape=(n_rows,))
    heap_size = max(0, size - heap_start)
    heap = (
        np.memmap(path, dtype=np.uint8, mode="r", offset=heap_start, shape=(heap_size,))
        if heap_size
        else np.zeros(0, dtype=np.uint8)
    )
    for start in range(0, n_rows, chunk_rows):
        rows = table[start : start + chunk_rows]
        raw: dict[str, Any] = {}
        for column in columns:
            field = np.asarray(rows[column.name])
            if column.vla:
                raw[column.name] = _gather_vla(field, column, heap, shown, start + 1)
            else:
                raw[column.name] = _fits_values(field, column)
        yield RawChunk(start + 1, len(rows), raw)


def _fits_field_type(column: _FitsColumn) -> Any:
    if column.vla:
        return (">i4" if column.vla == "P" else ">i8", (2,))
    if column.code == "A":
        return f"S{column.repeat}"
    base = FITS_TYPES[column.code]
    return (base, (column.repeat,)) if column.repeat > 1 else base


def _fits_values(field: np.ndarray, column: _FitsColumn) -> Any:
    if column.code == "A":
        return np.char.decode(np.char.strip(field), "ascii")
    if column.code == "L":
        bytes_ = field.astype(np.uint8)
        return np.ma.MaskedArray(bytes_ == ord("T"), mask=bytes_ == 0)
    mask = (field == column.null) if column.null is not None and column.code in "BIJK" else None
    values = field.astype(field.dtype.newbyteorder("="))
    scale, zero = column.scale
    if (scale, zero) != (1.0, 0.0):
        values = values * scale + zero
    return np.ma.MaskedArray(values, mask=mask if mask is not None else np.ma.nomask)


def _gather_vla(
    descriptors: np.ndarray, column: _FitsColumn, heap: np.ndarray, shown: Path, first_row: int
) -> Any:
    """Variable-length arrays of a chunk as (n, length) masked rows (empty -> masked)."""
    counts = descriptors[:, 0].astype(np.int64)
    offsets = descriptors[:, 1].astype(np.int64)
    element = np.dtype(FITS_TYPES[column.code])
    item = element.itemsize
    ends = offsets + counts * item
    beyond = np.flatnonzero((counts > 0) & (ends > len(heap)))
    if len(beyond):
        raise IngestError(
            shown,
            "truncated FITS: array data missing from the heap",
            row=first_row + int(beyond[0]),
            column=column.name,
        )
    present = counts > 0
    lengths = np.unique(counts[present])
    if len(lengths) > 1:  # mixed lengths: let the converter name the offending row
        out = np.empty(len(counts), dtype=object)
        for i in np.flatnonzero(present):
            out[i] = heap[offsets[i] : ends[i]].view(element)
        return out
    length = int(lengths[0]) if len(lengths) else 0
    values = np.zeros((len(counts), length), dtype=element.newbyteorder("="))
    rows = np.flatnonzero(present)
    if len(rows):
        starts = offsets[rows]
        steps = np.unique(np.diff(starts))
        if len(rows) == 1 or (len(steps) == 1 and steps[0] >= length * item):
            # evenly spaced in the heap (how writers lay it out): one strided copy
            step = int(steps[0]) if len(steps) else length * item
            block = np.lib.stride_tricks.as_strided(
                heap[starts[0] :], shape=(len(rows), length * item), strides=(step, 1)
            )
            values[rows] = np.ascontiguousarray(block).view(element)
        else:
            index = starts[:, None] + np.arange(length * item)[None, :]
            values[rows] = heap[index].reshape(len(rows), -1).view(element)
    if present.all():
        return np.ma.MaskedArray(values)
    return np.ma.MaskedArray(values, mask=np.repeat(~present[:, None], length, axis=1))


# --- VOTable ------------------------------------------------------------------------------------
#: What a VOTable to ingest may be. astropy holds the whole table in memory, so the bound is
#: what this machine can hold; archive VOTables (DataLink answers) are far smaller.
VOTABLE_LIMITS = VOTableLimits(
    max_bytes=4 << 30, max_decoded_bytes=4 << 30, max_rows=50_000_000, max_columns=1000
)


def _read_votable(path: Path, chunk_rows: int) -> Iterator[RawChunk]:
    """A VOTable, checked by ``sql.votable_guard`` first: astropy would follow a
    ``STREAM href`` (reading local files or other hosts) and decompress without a bound."""
    from astropy.io import votable

    try:
        check_votable_file(path, VOTABLE_LIMITS)
    except VOTableRefused as exc:
        raise IngestError(path, f"refused VOTable: {exc}") from None
    try:
        table = votable.parse_single_table(str(path), verify="ignore").array
    except Exception as exc:  # astropy raises many types for malformed XML
        raise IngestError(path, f"unreadable VOTable: {exc}") from exc
    n_rows = len(table)
    for start in range(0, n_rows, chunk_rows):
        part = table[start : start + chunk_rows]
        columns: dict[str, Any] = {}
        for name in part.dtype.names:
            data = part[name]
            if data.dtype == object:
                columns[name] = _votable_objects(data)
            else:
                columns[name] = data
        yield RawChunk(start + 1, len(part), columns)


def _votable_objects(data: np.ma.MaskedArray) -> Any:
    """Variable-length arrays as an object array of float arrays; text as pyarrow strings."""
    mask = np.ma.getmaskarray(data)
    cells = [None if mask[i] else cell for i, cell in enumerate(np.ma.getdata(data))]
    if any(isinstance(cell, str | bytes) for cell in cells):
        return pa.array([None if c is None else str(c) for c in cells], pa.string())
    values = np.empty(len(cells), dtype=object)
    for i, cell in enumerate(cells):
        if cell is not None and np.size(cell):
            values[i] = np.ma.filled(np.ma.asarray(cell, dtype=float), np.nan)
    return values


# --- conversion to typed columns -----------------------------------------------------------
def to_column(
    raw: Any, pg_type: str, length: int | None, path: Path, first_row: int, name: str
) -> ChunkColumn:
    """A typed column for the bulk loader; NaN, empty and masked values become NULL."""
    is_array = pg_type.endswith("[]")
    np_type = np.dtype(PG_SCALARS[pg_type.removesuffix("[]")][0]).newbyteorder("=")
    if isinstance(raw, pa.Array | pa.ChunkedArray):
        if is_array:
            return _text_arrays(raw, np_type, length, path, first_row, name)
        return _text_scalars(raw, np_type, path, first_row, name)
    if isinstance(raw, np.ndarray) and raw.dtype == object:
        return _object_arrays(raw, np_type, length, path, first_row, name)
    data = np.ma.asarray(raw)
    if is_array:
        return _numeric_arrays(data, np_type, length, path, first_row, name)
    if data.ndim != 1:
        raise IngestError(
            path,
            f"expected one value per row, found arrays of {data.shape[1]}",
            row=first_row,
            column=name,
        )
    if data.dtype.kind not in "biuf":
        raise IngestError(
            path,
            f"{data.dtype} values where {pg_type} numbers are expected",
            row=first_row,
            column=name,
        )
    values = np.ma.getdata(data)
    null = np.ma.getmaskarray(data).copy()
    if data.dtype.kind == "f":
        null |= np.isnan(values)
    if np_type.kind in "iu":  # in range and (stored as float) whole
        info = np.iinfo(np_type)
        bad = ~null & ((values < info.min) | (values > info.max))
        if data.dtype.kind == "f":
            bad |= ~null & (values != np.round(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise IngestError(
                path,
                f"value {values[row]} is not a valid {pg_type}",
                row=first_row + row,
                column=name,
            )
    return ChunkColumn(np.where(null, 0, values).astype(np_type), null)


def _numeric_arrays(
    data: np.ma.MaskedArray,
    np_type: np.dtype,
    length: int | None,
    path: Path,
    first_row: int,
    name: str,
) -> ChunkColumn:
    """(n, length) numbers; a row entirely masked or NaN is NULL, a masked element NaN."""
    if data.ndim != 2 or (length is not None and data.shape[1] != length):
        found = data.shape[1] if data.ndim == 2 else 1
        raise IngestError(
            path, f"array of {found} values, expected {length}", row=first_row, column=name
        )
    values = np.ma.getdata(data).astype(np_type, copy=False)
    mask = np.asarray(np.ma.getmask(data))  # a 0-d False when nothing is masked
    null: np.ndarray = np.zeros(len(values), dtype=bool)
    if mask.any():
        null = np.asarray(mask.all(axis=1))
        values = np.where(mask, np.nan, values)
    if np_type.kind == "f":
        null |= _all_nan_rows(values)
    return ChunkColumn(values, null)


def _all_nan_rows(values: np.ndarray) -> np.ndarray:
    """Rows of an (n, length) float array that are NaN throughout: a missing band."""
    null = np.zeros(len(values), dtype=bool)
    if len(values) and values.shape[1]:
        maybe = np.flatnonzero(np.isnan(values[:, 0]))  # only these rows can be all-NaN
        null[maybe] = np.isnan(values[maybe]).all(axis=1)
    return null


def _bad_row(strings: pa.Array, convert) -> int:
    """Index of the first element ``convert`` rejects (the slow path after a failed cast)."""
    for i, value in enumerate(strings.to_pylist()):
        if value is None:
            continue
        try:
            convert(value)
        except (ValueError, pa.ArrowInvalid):
            return i
    return 0


def _text_scalars(
    raw: pa.Array, np_type: np.dtype, path: Path, first_row: int, name: str
) -> ChunkColumn:
    strings = pc.utf8_trim_whitespace(raw)
    strings = pc.if_else(pc.equal(strings, ""), pa.scalar(None, pa.string()), strings)
    if np_type.kind == "b":
        lowered = pc.utf8_lower(strings)
        truth = pc.is_in(lowered, pa.array(["true", "t", "1"]))
        valid = pc.or_(truth, pc.is_in(lowered, pa.array(["false", "f", "0"])))
        bad = np.flatnonzero(~np.asarray(pc.or_kleene(valid, pc.is_null(lowered))))
        if len(bad):
            raise IngestError(
                path,
                f"{raw[int(bad[0])].as_py()!r} is not a boolean",
                row=first_row + int(bad[0]),
                column=name,
            )
        null = np.asarray(pc.is_null(lowered))
        return ChunkColumn(np.asarray(pc.fill_null(truth, False)), null)
    arrow_type = pa.from_numpy_dtype(np_type)
    try:
        typed = pc.cast(strings, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        row = _bad_row(strings, lambda v: pc.cast(pa.array([v]), arrow_type))
        raise IngestError(
            path,
            f"{strings[row].as_py()!r} is not a valid {arrow_type}: {exc}",
            row=first_row + row,
            column=name,
        ) from exc
    values = typed.to_numpy(zero_copy_only=False)
    null = np.asarray(pc.is_null(typed))
    if np_type.kind == "f":
        values = values.astype(np_type)
        null |= np.isnan(values)
    else:
        values = np.where(null, 0, np.nan_to_num(values)).astype(np_type)
    return ChunkColumn(values, null)


def _text_arrays(
    raw: pa.Array, np_type: np.dtype, length: int | None, path: Path, first_row: int, name: str
) -> ChunkColumn:
    """Bracketed text arrays: the archive's own spelling parsed where it lies, anything else
    (spaces, masked elements, a bad value or length) by the exact path, which names the row."""
    if np_type.kind == "f" and length is not None:
        column = _archive_arrays(raw, np_type, length)
        if column is not None:
            return column
    return _exact_text_arrays(raw, np_type, length, path, first_row, name)


ARRAY_OPENS = np.frombuffer(b"[(", dtype=np.uint8)
ARRAY_CLOSES = np.frombuffer(b"])", dtype=np.uint8)
ARCHIVE_BLOCK_ROWS = 256  # rows parsed at once (~5 MB of XP text): the work stays in cache


def _archive_arrays(
    raw: pa.Array | pa.ChunkedArray, np_type: np.dtype, length: int
) -> ChunkColumn | None:
    """The column when every non-empty cell is spelled as the archive writes it,
    ``[v,v,...]`` with no spaces or masked elements; None otherwise (nothing is reported:
    the exact path then finds and names what is wrong). Parsed in blocks of rows."""
    pieces = raw.chunks if isinstance(raw, pa.ChunkedArray) else [raw]
    values = np.empty((len(raw), length), dtype=np_type)
    empty = np.empty(len(raw), dtype=bool)
    row = 0
    for piece in pieces:
        for start in range(0, len(piece), ARCHIVE_BLOCK_ROWS):
            block = piece.slice(start, ARCHIVE_BLOCK_ROWS)
            parsed = _archive_block(block, length)
            if parsed is None:
                return None
            block_empty, numbers = parsed
            out = values[row : row + len(block)]
            if block_empty.any():
                out[block_empty] = np.nan
                out[~block_empty] = numbers
            else:
                out[...] = numbers
            empty[row : row + len(block)] = block_empty
            row += len(block)
    return ChunkColumn(values, empty | _all_nan_rows(values))


def _archive_block(raw: pa.Array, length: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(empty cells, float64 values of the others) of ``[v,v,...]`` cells, or None.

    Splitting 3,000 numbers a row into strings cost more than parsing them. Here one pass
    finds the commas, and one cast parses every number where it lies: the numbers are the
    valid slots of a string array over the text's own buffer, whose null slots (never parsed)
    cover the brackets and commas between them. Any check that fails (a bracket, a row's
    comma count, a value the cast refuses) gives None.
    """
    if pa.types.is_string(raw.type):
        offset_type: type = np.int32
    elif pa.types.is_large_string(raw.type):
        offset_type = np.int64
    else:
        return None
    _, offset_buffer, text = raw.buffers()
    all_offsets: np.ndarray = np.frombuffer(offset_buffer, dtype=offset_type)
    offsets = all_offsets[raw.offset : raw.offset + len(raw) + 1].astype(np.int64)
    sizes = np.diff(offsets)
    null = raw.is_null().to_numpy(zero_copy_only=False)
    if sizes[null].any():  # a null slot with text: never written by pyarrow's CSV reader
        return None
    short = ~null & (sizes <= 2)  # "[]", "()", "": an empty array (the text checked here)
    if short.any() and any(
        cell.strip(ARRAY_BRACKETS) for cell in raw.filter(pa.array(short)).to_pylist()
    ):
        return None
    empty = null | short
    rows = np.flatnonzero(~empty)
    if not len(rows):
        return empty, np.zeros((0, length))
    data = np.frombuffer(text, dtype=np.uint8)
    starts, ends = offsets[rows], offsets[rows + 1] - 1  # the brackets
    if not (np.isin(data[starts], ARRAY_OPENS).all() and np.isin(data[ends], ARRAY_CLOSES).all()):
        return None
    commas = np.flatnonzero(data[offsets[0] : offsets[-1]] == ord(",")) + offsets[0]
    if len(commas) != len(rows) * (length - 1):
        return None
    commas = commas.reshape(len(rows), length - 1)
    if length > 1 and not ((commas[:, 0] > starts).all() and (commas[:, -1] < ends).all()):
        return None  # (commas are sorted: each row's block of them lies inside that row)
    # slot 2k: null, from the separator before number k; slot 2k + 1: number k
    slots = 2 * len(rows) * length
    big = offsets[-1] >= 2**31
    bounds = np.zeros(slots + 1, dtype=np.int64 if big else np.int32)
    number_bounds = bounds[1:].reshape(len(rows), length, 2)
    number_bounds[:, 0, 0] = starts + 1
    number_bounds[:, 1:, 0] = commas + 1
    number_bounds[:, :-1, 1] = commas
    number_bounds[:, -1, 1] = ends
    odd_slots_valid = np.full((slots + 7) // 8, 0b10101010, dtype=np.uint8)
    strings = pa.Array.from_buffers(
        pa.large_string() if big else pa.string(),
        slots,
        [pa.py_buffer(odd_slots_valid), pa.py_buffer(bounds), text],
        null_count=slots // 2,
    )
    try:
        parsed = pc.cast(strings, pa.float64())
    except pa.ArrowInvalid:  # masked elements, spaces, a bad value: the exact path's job
        return None
    numbers = np.frombuffer(
        parsed.buffers()[1], dtype=np.float64, count=slots, offset=parsed.offset * 8
    )
    return empty, numbers[1::2].reshape(len(rows), length)


def _exact_text_arrays(
    raw: pa.Array, np_type: np.dtype, length: int | None, path: Path, first_row: int, name: str
) -> ChunkColumn:
    """Any bracketed spelling: trimmed, split and cast by pyarrow compute, masked elements
    ("null", "") NaN; names the row of a bad element or a wrong length."""
    trimmed = pc.utf8_trim(raw, ARRAY_BRACKETS)
    null = np.asarray(pc.fill_null(pc.equal(trimmed, ""), True))
    parts = pc.split_pattern(pc.replace_substring(trimmed, " ", ""), ",")
    counts = np.asarray(pc.fill_null(pc.list_value_length(parts), 0))
    if length is None:
        length = int(counts[~null][0]) if (~null).any() else 0
    wrong = np.flatnonzero(~null & (counts != length))
    if len(wrong):
        raise IngestError(
            path,
            f"array of {counts[wrong[0]]} values, expected {length}",
            row=first_row + int(wrong[0]),
            column=name,
        )
    values = np.full((len(raw), length), np.nan, dtype=np_type)
    keep = np.flatnonzero(~null)
    if len(keep):
        flat = pc.list_flatten(parts if len(keep) == len(raw) else parts.take(pa.array(keep)))
        try:
            numbers = pc.cast(flat, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # masked elements ("null", "") are NaN; anything else is bad
            flat = pc.if_else(pc.is_in(flat, pa.array(TEXT_NULLS)), "nan", flat)
            try:
                numbers = pc.cast(flat, pa.float64()).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid as exc:
                element = _bad_row(flat, float)
                row = int(keep[element // length])
                raise IngestError(
                    path,
                    f"unparsable array element {flat[element].as_py()!r}",
                    row=first_row + row,
                    column=name,
                ) from exc
        values[keep] = numbers.reshape(len(keep), length)
    return ChunkColumn(values, null | _all_nan_rows(values))


def _object_arrays(
    raw: np.ndarray, np_type: np.dtype, length: int | None, path: Path, first_row: int, name: str
) -> ChunkColumn:
    present = [i for i, cell in enumerate(raw) if cell is not None and np.size(cell)]
    if length is None:
        length = int(np.size(raw[present[0]])) if present else 0
    values = np.full((len(raw), length), np.nan, dtype=np_type)
    null = np.ones(len(raw), dtype=bool)
    for i in present:
        cell = np.asarray(raw[i]).reshape(-1)
        if cell.size != length:
            raise IngestError(
                path,
                f"array of {cell.size} values, expected {length}",
                row=first_row + i,
                column=name,
            )
        values[i] = cell
        null[i] = False
    return ChunkColumn(values, null | _all_nan_rows(values))
