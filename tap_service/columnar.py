"""Result rows as columns: the translated SELECT streamed by binary COPY, decoded with numpy.

Fetching row tuples builds a Python object per cell, which the writers then turn back into
columns; that was the limit of a large download. The runner instead wraps the SELECT in
``COPY (...) TO STDOUT (FORMAT binary)`` whenever every result column is a number, a boolean,
a string or an array of numbers (the whole of ``SELECT *`` on the published tables but for
timestamps). Fixed-width columns come first in the COPY row, their NULLs a zero in SQL and a
bit in one mask column per 62 columns; strings and arrays follow, as PostgreSQL sends them.
A batch of all-fixed-width rows decodes with one ``frombuffer`` (``sql.binary_copy``), others
with numpy gathers (``sql.varlen_copy``), straight into the writers' column arrays; strings stay
UTF-8 bytes with offsets. The data comes from libpq in blocks of every row it holds
(``copy_blocks``), not a row per call. Any other result (timestamps, numeric, geometry) keeps
the row-tuple path."""

from __future__ import annotations

import re
import select
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import psycopg
from psycopg.errors import error_from_result
from psycopg.pq import ExecStatus

from sql import binary_copy, varlen_copy
from sql.binary_copy import CopyColumn
from sql.errors import XphaError
from sql.varlen_copy import Varlen
from tap_service.writers.columns import (
    NULL_VALUES,
    NUMPY_TYPES,
    ColumnBatch,
    Numbers,
    Texts,
    fixed_arrays,
)
from tap_service.writers.fields import TEXT_TYPES, FieldSpec

COPY_TYPES = {16: "bool", 21: "int2", 23: "int4", 20: "int8", 700: "float4", 701: "float8"}
TEXT_OIDS = {25, 1043, 1042, 19}  # text, varchar, bpchar, name
ARRAY_OIDS = {
    1000: "bool",
    1005: "int2",
    1007: "int4",
    1016: "int8",
    1021: "float4",
    1022: "float8",
}
MASK_BITS = 62  # NULL flags per int8 mask column (bit 63 is the sign)


def describe(conn: psycopg.Connection, sql: str) -> list[tuple[str, int]] | None:
    """The result's (name, type OID) pairs, parsed but neither planned nor run.

    None when the server refuses the statement: the row-tuple path then runs it and reports
    the error the usual way. Runs outside the query's transaction, which it cannot abort.
    """
    pgconn = conn.pgconn
    result = pgconn.prepare(b"", sql.encode(conn.info.encoding))
    if result.status != ExecStatus.COMMAND_OK:
        return None
    result = pgconn.describe_prepared(b"")
    if result.status != ExecStatus.COMMAND_OK:
        return None
    return [
        ((result.fname(i) or b"").decode(conn.info.encoding), result.ftype(i))
        for i in range(result.nfields)
    ]


def copy_blocks(conn: psycopg.Connection) -> Generator[bytes, None, None]:
    """The data of the COPY ... TO STDOUT running on ``conn`` (inside its ``cursor.copy()``
    block, which holds the connection's lock), every row libpq holds at a time in one block.

    psycopg's ``Copy`` hands out one row per call through its wait machinery, ~0.7 us a row:
    most of the server's CPU for a 5,700-row cone. Here a row costs one libpq call, and the
    socket is polled only when libpq holds no whole row. At the end the COPY's final result is
    read before the last block is handed out (so the connection is idle even if the reader
    stops there), and an error the server sent mid-stream is raised after that block, as
    psycopg would raise it.
    """
    pgconn = conn.pgconn
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN)
    while True:
        rows = []
        while (got := pgconn.get_copy_data(1))[0] > 0:
            rows.append(got[1])
        if got[0] < 0:  # the server ended the COPY
            error = _copy_end(conn, poller)
            if rows:
                yield b"".join(rows)
            if error is not None:
                raise error
            return
        if rows:
            yield b"".join(rows)
        poller.poll()
        pgconn.consume_input()


def _copy_end(conn: psycopg.Connection, poller: select.poll) -> psycopg.Error | None:
    """Read the results that close a COPY; the error among them, if any."""
    pgconn = conn.pgconn
    while pgconn.is_busy():
        poller.poll()
        pgconn.consume_input()
    error = None
    while (result := pgconn.get_result()) is not None:
        if result.status != ExecStatus.COMMAND_OK and error is None:
            error = error_from_result(result, encoding=conn.info.encoding)
    return error


# Quoted identifiers and strings (kept as they are), or a number (replaced by its type class)
_LITERAL = re.compile(
    r"""("(?:[^"]|"")*"|'(?:[^']|'')*'|(?<![\w$.])(?:\d+\.?\d*|\.\d+)"""
    r"""(?:[eE][-+]?\d+)?(?![\w.]))"""
)
INT4_MAX, INT8_MAX = 2**31 - 1, 2**63 - 1


@lru_cache(maxsize=1024)
def shape(sql: str) -> str:
    """``sql`` with each number replaced by the type PostgreSQL gives it (int4, int8 or
    numeric): queries of one shape have one result description, whatever their numbers.
    Kept for the SQL of kept translations (the pass over a cone's SQL takes ~60 us)."""

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text[0] in "\"'":
            return text
        if not text.isdigit():
            return "<numeric>"
        value = int(text)
        return "<int4>" if value <= INT4_MAX else "<int8>" if value <= INT8_MAX else "<numeric>"

    return _LITERAL.sub(token, sql)


@dataclass(frozen=True)
class CopyLayout:
    """How a result is COPYed: which columns are fixed-width (NULL flagged in a mask, sent as a
    value or 0) and which variable-width (text, arrays: NULL sent as NULL), and the COPY row
    those make: masks, fixed-width values, then variable-width values, each in result order."""

    fixed: tuple[int, ...]  # result column indexes
    variable: tuple[int, ...]
    columns: tuple[CopyColumn, ...]  # of the COPY row

    def select(self, sql: str) -> str:
        """The SELECT the COPY runs (what EXPLAIN can be asked about)."""
        names = [f"c{i}" for i in range(len(self.fixed) + len(self.variable))]
        fixed = [names[i] for i in self.fixed]
        masks = [
            " | ".join(
                f"CASE WHEN {fixed[j]} IS NULL THEN {1 << (j - start)}::int8 ELSE 0::int8 END"
                for j in range(start, min(start + MASK_BITS, len(fixed)))
            )
            for start in range(0, len(fixed), MASK_BITS)
        ]
        values = [f"coalesce({name}, '0')" for name in fixed]
        values += [names[i] for i in self.variable]
        return f"SELECT {', '.join(masks + values)} FROM ({sql}) AS tap_result({', '.join(names)})"

    def statement(self, sql: str) -> str:
        return f"COPY ({self.select(sql)}) TO STDOUT (FORMAT binary)"

    def stream(
        self, chunks: Iterable[bytes | bytearray | memoryview], batch_rows: int
    ) -> Generator[dict, None, None]:
        """The COPY's output decoded, batch by batch."""
        if self.variable:
            return varlen_copy.stream(chunks, list(self.columns), batch_rows)
        return binary_copy.stream(chunks, list(self.columns), batch_rows)

    def batch(self, fields: Sequence[FieldSpec], arrays: dict) -> ColumnBatch:
        """Decoded COPY arrays as the writers' columns, typed as each FIELD declares."""
        columns: list[Numbers | Texts | None] = [None] * len(fields)
        rows = 0
        for j, i in enumerate(self.fixed):
            mask = arrays[f"nulls{j // MASK_BITS}"]
            null = (mask >> (j % MASK_BITS)) & 1 == 1
            columns[i] = _numbers(fields[i], arrays[f"c{i}"], null)
            rows = len(null)
        for i in self.variable:
            value: Varlen = arrays[f"c{i}"]
            columns[i] = _variable(fields[i], value)
            rows = len(value.null)
        return ColumnBatch(columns, rows)  # type: ignore[arg-type]  # fixed + variable fill every slot


def copy_layout(
    description: Sequence[tuple[str, int]], fields: Sequence[FieldSpec]
) -> CopyLayout | None:
    """The COPY layout of this result, or None when a column has no binary decoding here
    (timestamps, numeric, geometry, ...: the row-tuple path handles every type)."""
    fixed: list[int] = []
    variable: list[int] = []
    values: list[CopyColumn] = []
    for i, ((_, oid), spec) in enumerate(zip(description, fields, strict=True)):
        if spec.xtype:
            return None
        if oid in COPY_TYPES and not spec.is_array and spec.datatype in NUMPY_TYPES:
            fixed.append(i)
            values.append(CopyColumn(f"c{i}", COPY_TYPES[oid]))
        elif (oid in TEXT_OIDS and spec.datatype in TEXT_TYPES) or (
            oid in ARRAY_OIDS and spec.is_array and spec.datatype in NUMPY_TYPES
        ):
            variable.append(i)
        else:
            return None
    if not fixed and not variable:
        return None
    masks = [CopyColumn(f"nulls{g}", "int8") for g in range(0, len(fixed), MASK_BITS)]
    tail = [
        CopyColumn(f"c{i}", varlen_copy.TEXT)
        if description[i][1] in TEXT_OIDS
        else CopyColumn(f"c{i}", ARRAY_OIDS[description[i][1]], varlen_copy.VARIABLE)
        for i in variable
    ]
    return CopyLayout(tuple(fixed), tuple(variable), tuple(masks + values + tail))


def _variable(spec: FieldSpec, value: Varlen) -> Numbers | Texts:
    if spec.datatype in TEXT_TYPES:
        return Texts(value.null, utf8=value.values, offsets=value.offsets)
    lengths = np.diff(value.offsets)
    elements = value.values
    if spec.datatype == "boolean":
        elements = np.where(elements, b"T", b"F").astype("S1")
    else:
        elements = _narrowed(spec, elements, np.zeros(len(elements), dtype=bool))
    return fixed_arrays(spec, value.null, elements, lengths)


def _numbers(spec: FieldSpec, values: np.ndarray, null: np.ndarray) -> Numbers:
    if spec.datatype == "boolean":
        return Numbers(null, np.where(null, b"?", np.where(values, b"T", b"F")).astype("S1"))
    out = _narrowed(spec, values, null)
    if null.any():
        out = out.copy() if out is values else out
        out[null] = NULL_VALUES[spec.datatype]
    return Numbers(null, out)


def _narrowed(spec: FieldSpec, values: np.ndarray, null: np.ndarray) -> np.ndarray:
    """``values`` as the FIELD's type; an integer out of its range fails loudly, never wraps."""
    dtype = NUMPY_TYPES[spec.datatype].newbyteorder("=")
    if dtype.kind in "iu" and values.dtype != dtype and len(values):
        info = np.iinfo(dtype)
        wrong = np.flatnonzero(((values < info.min) | (values > info.max)) & ~null)
        if wrong.size:  # a wider integer than TAP_SCHEMA declares: fail loudly, never wrap
            raise XphaError(
                f"result column {spec.name!r} ({spec.datatype}): {values[wrong[0]]} is out of range"
            )
    return values.astype(dtype, copy=False)
