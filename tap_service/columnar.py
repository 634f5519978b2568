"""Result rows as columns: the translated SELECT streamed by binary COPY, decoded with numpy.

Fetching row tuples builds a Python object per cell, which the writers then turn back into
columns; that was the limit of a large download. When every result column is a fixed-width
scalar (boolean, integer, float: most catalogue downloads), the runner instead wraps the
SELECT in ``COPY (...) TO STDOUT (FORMAT binary)``. NULLs become a zero in SQL and a bit in
one mask column per 62 columns, so every row has the same width and a batch decodes with one
``frombuffer`` (``sql.binary_copy``) straight into the writers' column arrays. Any other
result (text, arrays, geometry, numeric) keeps the row-tuple path.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

import numpy as np
import psycopg
from psycopg.pq import ExecStatus

from sql.binary_copy import Column
from sql.errors import XphaError
from tap_service.writers.columns import NULL_VALUES, NUMPY_TYPES, ColumnBatch, Numbers, Texts
from tap_service.writers.fields import FieldSpec

COPY_TYPES = {16: "bool", 21: "int2", 23: "int4", 20: "int8", 700: "float4", 701: "float8"}
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
    return [((result.fname(i) or b"").decode(conn.info.encoding), result.ftype(i))
            for i in range(result.nfields)]


# Quoted identifiers and strings (kept as they are), or a number (replaced by its type class)
_LITERAL = re.compile(r"""("(?:[^"]|"")*"|'(?:[^']|'')*'|(?<![\w$.])(?:\d+\.?\d*|\.\d+)"""
                      r"""(?:[eE][-+]?\d+)?(?![\w.]))""")
INT4_MAX, INT8_MAX = 2**31 - 1, 2**63 - 1


def shape(sql: str) -> str:
    """``sql`` with each number replaced by the type PostgreSQL gives it (int4, int8 or
    numeric): queries of one shape have one result description, whatever their numbers."""

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text[0] in "\"'":
            return text
        if not text.isdigit():
            return "<numeric>"
        value = int(text)
        return "<int4>" if value <= INT4_MAX else "<int8>" if value <= INT8_MAX else "<numeric>"

    return _LITERAL.sub(token, sql)


class Descriptions:
    """Result descriptions by query shape: a cone search is described once, not per request.

    Cleared with the catalogue (views may have changed); bounded by starting afresh when full.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._known: dict[str, list[tuple[str, int]]] = {}
        self._lock = threading.Lock()

    def get(self, conn: psycopg.Connection, sql: str) -> list[tuple[str, int]] | None:
        key = shape(sql)
        with self._lock:
            known = self._known.get(key)
        if known is not None:
            return known
        description = describe(conn, sql)
        if description is not None:
            with self._lock:
                if len(self._known) >= self._size:
                    self._known.clear()
                self._known[key] = description
        return description

    def clear(self) -> None:
        with self._lock:
            self._known.clear()


def copy_columns(description: Sequence[tuple[str, int]], fields: Sequence[FieldSpec]
                 ) -> list[Column] | None:
    """The binary COPY row layout for this result, or None when it is not all fixed-width."""
    found = [COPY_TYPES.get(oid) for _, oid in description]
    types = [t for t in found if t is not None]
    if not types or len(types) < len(found):
        return None
    if any(s.is_array or s.datatype not in NUMPY_TYPES or s.xtype for s in fields):
        return None
    masks = [Column(f"nulls{g}", "int8") for g in range(0, len(types), MASK_BITS)]
    return masks + [Column(f"c{i}", t) for i, t in enumerate(types)]


def copy_statement(sql: str, n_columns: int) -> str:
    """``COPY`` of ``sql`` with fixed-width rows: NULL flag masks, then each value or 0."""
    return f"COPY ({copy_select(sql, n_columns)}) TO STDOUT (FORMAT binary)"


def copy_select(sql: str, n_columns: int) -> str:
    """The SELECT that :func:`copy_statement` copies (what EXPLAIN can be asked about)."""
    names = [f"c{i}" for i in range(n_columns)]
    masks = [
        " | ".join(f"CASE WHEN {names[i]} IS NULL THEN {1 << (i - start)}::int8 ELSE 0::int8 END"
                   for i in range(start, min(start + MASK_BITS, n_columns)))
        for start in range(0, n_columns, MASK_BITS)
    ]
    values = [f"coalesce({name}, '0')" for name in names]
    return (f"SELECT {', '.join(masks + values)} FROM ({sql}) AS tap_result"
            f"({', '.join(names)})")


def column_batch(fields: Sequence[FieldSpec], arrays: dict[str, np.ndarray]) -> ColumnBatch:
    """Decoded COPY arrays as the writers' columns, typed as each FIELD declares."""
    columns: list[Numbers | Texts] = []
    for i, spec in enumerate(fields):
        mask = arrays[f"nulls{i // MASK_BITS}"]
        null = (mask >> (i % MASK_BITS)) & 1 == 1
        columns.append(_numbers(spec, arrays[f"c{i}"], null))
    return ColumnBatch(columns, len(arrays["nulls0"]))


def _numbers(spec: FieldSpec, values: np.ndarray, null: np.ndarray) -> Numbers:
    if spec.datatype == "boolean":
        return Numbers(null, np.where(null, b"?", np.where(values, b"T", b"F")).astype("S1"))
    dtype = NUMPY_TYPES[spec.datatype].newbyteorder("=")
    if dtype.kind in "iu" and values.dtype != dtype and len(values):
        info = np.iinfo(dtype)
        wrong = np.flatnonzero(((values < info.min) | (values > info.max)) & ~null)
        if wrong.size:  # a wider integer than TAP_SCHEMA declares: fail loudly, never wrap
            raise XphaError(f"result column {spec.name!r} ({spec.datatype}): "
                            f"{values[wrong[0]]} is out of range")
    out = values.astype(dtype, copy=False)
    if null.any():
        out = out.copy() if out is values else out
        out[null] = NULL_VALUES[spec.datatype]
    return Numbers(null, out)
