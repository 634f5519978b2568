"""FITS results: one BINTABLE extension, spooled to a temporary file, then streamed.

A FITS header states the row count (NAXIS2), the row width (string columns need their
longest value) and the heap size before any row, so a FITS result cannot be streamed as the
rows arrive. The writer spools each converted batch to an anonymous temporary file (memory
stays flat), then streams the headers, the rows and the variable-length-array heap from it.
NULL is TNULL for integers, NaN for floats, 0 for booleans, '' for strings and an empty
array for variable-length arrays. QUERY_STATUS (OVERFLOW/ERROR) goes into the primary header.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from .base import Infos, ResultStatus, RowsOrColumns, Writer, encoded_batches
from .columns import NULL_VALUES, NUMPY_TYPES, Numbers, Texts, batch_columns
from .fields import INTEGER_TYPES, FieldSpec

BLOCK = 2880
_CODES = {
    "boolean": "L",
    "unsignedByte": "B",
    "short": "I",
    "int": "J",
    "long": "K",
    "float": "E",
    "double": "D",
}


@dataclass
class _Column:
    """What the header needs to know about one column, learnt while spooling."""

    spec: FieldSpec
    text: bool
    variable: bool
    width: int = 0  # longest string (bytes) or longest variable-length array (elements)
    heap: int = 0  # bytes this column puts on the heap (variable-length arrays)

    def tform(self) -> str:
        if self.text:
            return f"{max(self.width, 1)}A"
        code = _CODES[self.spec.datatype]
        if self.variable:
            return f"P{code}({self.width})"
        count = self.spec.fixed_count or 1
        return code if not self.spec.is_array else f"{count}{code}"

    def row_dtype(self) -> np.dtype:
        if self.text:
            return np.dtype(f"S{max(self.width, 1)}")
        if self.variable:
            return np.dtype((">i4", (2,)))
        dtype = NUMPY_TYPES[self.spec.datatype]
        return np.dtype((dtype, (self.spec.fixed_count,))) if self.spec.is_array else dtype


class FitsWriter(Writer):
    """FITS BINTABLE (spooled, see the module docstring)."""

    content_type = "application/fits"
    extension = "fits"

    def __init__(self, spool_dir: str | None = None) -> None:
        self.spool_dir = spool_dir  # None: the system's temporary directory ($TMPDIR)

    def write(
        self,
        fields: Sequence[FieldSpec],
        batches: Iterable[RowsOrColumns],
        status: ResultStatus,
        infos: Infos,
    ) -> Iterator[bytes]:
        columns = [
            _Column(
                spec,
                spec.datatype in ("char", "unicodeChar"),
                spec.is_array and spec.fixed_count is None,
            )
            for spec in fields
        ]
        with tempfile.TemporaryFile(dir=self.spool_dir) as spool:
            counts = list(encoded_batches(batches, status, lambda b: _spool(columns, b, spool)))
            nrows = sum(counts)
            heap = sum(c.heap for c in columns)
            yield _primary_header(status, infos)
            yield _table_header(columns, nrows, heap)
            size = 0
            for chunk in _rows(columns, spool, len(counts)):
                size += len(chunk)
                yield chunk
            for chunk in _heap(columns, spool, len(counts)):
                size += len(chunk)
                yield chunk
            yield b"\0" * (-size % BLOCK)


def _spool(columns: list[_Column], rows: RowsOrColumns, spool: IO[bytes]) -> int:
    """Convert one batch and append its arrays to the spool; returns the row count."""
    specs = [column.spec for column in columns]
    for column, data in zip(columns, batch_columns(specs, rows), strict=True):
        if isinstance(data, Texts):
            encoded = [v.encode("utf-8") for v in data.values]
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
            column.width = max(column.width, int(lengths.max(initial=0)))
            np.save(spool, np.array(encoded, dtype=f"S{max(int(lengths.max(initial=1)), 1)}"))
            continue
        values = _fits_values(column.spec, data)
        np.save(spool, values)
        if column.variable:
            assert data.lengths is not None  # a variable-length column has them
            column.width = max(column.width, int(data.lengths.max(initial=0)))
            column.heap += values.nbytes
            np.save(spool, data.lengths)
    return len(rows)


def _fits_values(spec: FieldSpec, data: Numbers) -> np.ndarray:
    if spec.datatype == "boolean":
        return np.where(data.values == b"?", b"\0", data.values).astype("S1")
    return data.values.astype(NUMPY_TYPES[spec.datatype])


def _batches(columns: list[_Column], spool: IO[bytes], count: int) -> Iterator[list]:
    """The spooled arrays again, batch by batch: per column (values, lengths or None)."""
    spool.seek(0)
    for _ in range(count):
        batch = []
        for column in columns:
            values = np.load(spool)
            lengths = np.load(spool) if column.variable else None
            batch.append((values, lengths))
        yield batch


def _rows(columns: list[_Column], spool: IO[bytes], count: int) -> Iterator[bytes]:
    dtype = np.dtype([(f"f{i}", c.row_dtype()) for i, c in enumerate(columns)])
    heap_offset = 0
    for batch in _batches(columns, spool, count):
        # rows: a variable-length array's flat values are not one per row, its lengths are
        n = len(batch[0][1] if columns[0].variable else batch[0][0]) if batch else 0
        table = np.zeros(n, dtype=dtype)
        for i, (column, (values, lengths)) in enumerate(zip(columns, batch, strict=True)):
            if column.variable:
                nbytes = lengths * values.dtype.itemsize
                table[f"f{i}"][:, 0] = lengths
                table[f"f{i}"][:, 1] = heap_offset + np.cumsum(nbytes) - nbytes
                heap_offset += int(nbytes.sum())
            else:
                table[f"f{i}"] = values
        yield table.tobytes()


def _heap(columns: list[_Column], spool: IO[bytes], count: int) -> Iterator[bytes]:
    for batch in _batches(columns, spool, count):
        for column, (values, _) in zip(columns, batch, strict=True):
            if column.variable and values.size:
                yield values.tobytes()


def _primary_header(status: ResultStatus, infos: Infos) -> bytes:
    from astropy.io import fits

    header = fits.PrimaryHDU().header
    header["EXTEND"] = True
    state = "ERROR" if status.error is not None else "OVERFLOW" if status.overflow else "OK"
    header["QRYSTAT"] = (state, "TAP QUERY_STATUS of this result")
    if status.error is not None:
        header["QRYERROR"] = _ascii(status.error)
    for name, info in infos.items():
        value = " ".join(info) if isinstance(info, tuple) else info
        header.add_comment(_ascii(f"{name}: {value}"))
    return header.tostring().encode("ascii")


def _table_header(columns: list[_Column], nrows: int, heap: int) -> bytes:
    from astropy.io import fits

    width = sum(c.row_dtype().itemsize for c in columns)
    header = fits.Header()
    header["XTENSION"] = "BINTABLE"
    header["BITPIX"] = 8
    header["NAXIS"] = 2
    header["NAXIS1"] = width
    header["NAXIS2"] = nrows
    header["PCOUNT"] = heap
    header["GCOUNT"] = 1
    header["TFIELDS"] = len(columns)
    for i, column in enumerate(columns, start=1):
        spec = column.spec
        header[f"TTYPE{i}"] = spec.name
        header[f"TFORM{i}"] = column.tform()
        shape = spec.arraysize or ""
        if spec.is_array and "x" in shape and not column.variable:
            header[f"TDIM{i}"] = f"({shape.replace('x', ',')})"  # same axis order
        if spec.datatype in INTEGER_TYPES and not column.variable:
            header[f"TNULL{i}"] = NULL_VALUES[spec.datatype]
        if spec.unit:
            header[f"TUNIT{i}"] = _ascii(spec.unit)
        if spec.ucd:
            header[f"TUCD{i}"] = _ascii(spec.ucd)
        if spec.description:
            header[f"TCOMM{i}"] = _ascii(spec.description)
    header["EXTNAME"] = "RESULTS"
    return header.tostring().encode("ascii")


def _ascii(text: str) -> str:
    """FITS header values are printable ASCII."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)
