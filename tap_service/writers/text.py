"""CSV (RFC 4180) and TSV results: a header row of names, then one line per row.

These formats cannot carry QUERY_STATUS: an OVERFLOW or a mid-stream error is invisible in
them (the service documents this; clients wanting the status should ask for VOTable). NULL is
the empty cell; arrays are written as the Gaia archive does, ``"[1.0, 2.0]"``.

A batch is written a column at a time with Arrow's compute kernels (C++): numbers are cast to
text (shortest round-trip form; ``NaN``, ``+Inf``, ``-Inf`` as VOTable spells them; a whole
float keeps its ``.0`` so readers still see a float column), strings are quoted where CSV needs
it, and the columns are joined into lines in one pass. No Python code runs per row or cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .base import Infos, ResultStatus, RowsOrColumns, Writer, encoded_batches
from .columns import Numbers, Texts, batch_columns
from .fields import FLOAT_TYPES, FieldSpec

_CSV_NEEDS_QUOTES = r'[,"\n\r]|^ | $'
_TSV_UNSAFE = r"[\t\n\r]"


def csv_quote(value: str) -> str:
    """A CSV field, quoted when it holds a separator, quote, line break or edge space."""
    if not value:
        return value
    if any(c in value for c in ',"\n\r') or value[0] == " " or value[-1] == " ":
        return '"' + value.replace('"', '""') + '"'
    return value


class DelimitedWriter(Writer):
    """CSV or TSV, chosen by the separator."""

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self.content_type = "text/csv" if separator == "," else "text/tab-separated-values"
        self.extension = "csv" if separator == "," else "tsv"

    def _cell(self, value: str) -> str:
        return (
            csv_quote(value)
            if self.separator == ","
            else value.replace("\t", " ").replace("\n", " ").replace("\r", " ")
        )

    def write(
        self,
        fields: Sequence[FieldSpec],
        batches: Iterable[RowsOrColumns],
        status: ResultStatus,
        infos: Infos,
    ) -> Iterator[bytes]:
        header = self.separator.join(self._cell(spec.name) for spec in fields)
        yield (header + "\n").encode("utf-8")
        yield from encoded_batches(batches, status, lambda batch: self._rows(fields, batch))

    def _rows(self, fields: Sequence[FieldSpec], rows: RowsOrColumns) -> bytes | memoryview:
        n = len(rows)
        if not fields:
            return b"\n" * n
        cells = [
            self._text(spec, data)
            for spec, data in zip(fields, batch_columns(fields, rows), strict=True)
        ]
        lines = pc.binary_join_element_wise(*cells, _text(self.separator), null_handling="replace")
        lines = pc.binary_join_element_wise(lines, _text(""), _text("\n"))  # each ends in "\n"
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
        start, end = offsets[lines.offset], offsets[lines.offset + n]
        return memoryview(lines.buffers()[2])[int(start) : int(end)]

    def _text(self, spec: FieldSpec, column: Numbers | Texts) -> pa.Array:
        """One column's cells as an Arrow string array (NULL where the cell is empty)."""
        if isinstance(column, Texts):
            return self._escaped(_strings(column))
        strings = _numbers(spec, column.values.reshape(-1))
        if not spec.is_array:
            return _masked(strings, column.null)
        lengths = (
            np.full(len(column.null), column.values.shape[1], dtype=np.int64)
            if column.lengths is None
            else column.lengths
        )
        offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), strings), _text(", "))
        cells = pc.binary_join_element_wise(_text("["), joined, _text("]"), _text(""))
        return self._escaped(_masked(cells, column.null))

    def _escaped(self, cells: pa.Array) -> pa.Array:
        """CSV: quoted where needed (doubling quotes); TSV: tabs and line breaks as spaces."""
        if self.separator == ",":
            needs = pc.match_substring_regex(cells, _CSV_NEEDS_QUOTES)
            if not pc.any(needs).as_py():
                return cells
            quoted = pc.binary_join_element_wise(
                _text('"'), pc.replace_substring(cells, '"', '""'), _text('"'), _text("")
            )
            return pc.if_else(needs, quoted, cells)
        if not pc.any(pc.match_substring_regex(cells, _TSV_UNSAFE)).as_py():
            return cells
        return pc.replace_substring_regex(cells, _TSV_UNSAFE, " ")


def _strings(column: Texts) -> pa.Array:
    """Strings as Arrow holds them; an empty string is a NULL cell either way."""
    data, offsets = column.buffers()
    empty = np.diff(offsets) == 0
    return pa.LargeStringArray.from_buffers(
        len(offsets) - 1,
        pa.py_buffer(offsets),
        pa.py_buffer(data),
        pa.py_buffer(np.packbits(~(column.null | empty), bitorder="little")),
    )


def _numbers(spec: FieldSpec, values: np.ndarray) -> pa.Array:
    """Each value as text: shortest round-trip numbers, True/False for booleans."""
    if spec.datatype == "boolean":
        return pa.array(
            np.where(values == b"T", "True", np.where(values == b"F", "False", "")),
            type=pa.large_string(),
        )
    native = values.astype(values.dtype.newbyteorder("="), copy=False)
    strings = pc.cast(pa.array(native), pa.large_string())
    if spec.datatype not in FLOAT_TYPES:
        return strings
    with np.errstate(invalid="ignore"):
        whole = (np.floor(native) == native) & (np.abs(native) < 1e16)
    if whole.any():  # 1.0 stays "1.0": a reader guessing types keeps a float column
        dotted = pc.binary_join_element_wise(strings, _text(".0"), _text(""))
        plain = pc.match_substring(strings, "e")
        strings = pc.if_else(pc.and_(pa.array(whole), pc.invert(plain)), dotted, strings)
    nan, pos, neg = np.isnan(native), np.isposinf(native), np.isneginf(native)
    if nan.any() or pos.any() or neg.any():
        special = np.where(nan, "NaN", np.where(pos, "+Inf", "-Inf"))
        strings = pc.if_else(
            pa.array(nan | pos | neg), pa.array(special, type=pa.large_string()), strings
        )
    return strings


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _masked(strings: pa.Array, null: np.ndarray) -> pa.Array:
    if not null.any():
        return strings
    return pc.if_else(pa.array(null), pa.scalar(None, pa.large_string()), strings)
