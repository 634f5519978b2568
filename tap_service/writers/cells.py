"""Cells as text, a column at a time: for TABLEDATA (XML).

Numbers are formatted by numpy (shortest round-trip repr, float32 included) and the special
values are spelled as the readers expect: ``NaN``, ``+Inf``, ``-Inf``. NULL is the empty cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .columns import Numbers, Texts
from .fields import FLOAT_TYPES, FieldSpec


@dataclass(frozen=True)
class TextStyle:
    """How one text format spells booleans and arrays."""

    true: str
    false: str
    array_open: str
    array_sep: str
    array_close: str
    null_fixed_array_filled: bool  # a NULL fixed-size array as its null elements, not ''


# VOTable TABLEDATA needs every element of a fixed-size array: a NULL one is NaN/null values.
TABLEDATA_STYLE = TextStyle("T", "F", "", " ", "", True)


def number_strings(values: np.ndarray, datatype: str) -> np.ndarray:
    """Each number as text (any shape); NaN/Inf spelled the VOTable way."""
    strings = values.astype(str)
    if datatype in FLOAT_TYPES:
        strings = np.where(np.isnan(values), "NaN", strings)
        strings = np.where(np.isposinf(values), "+Inf", strings)
        strings = np.where(np.isneginf(values), "-Inf", strings)
    return strings


def cells(spec: FieldSpec, column: Numbers | Texts, style: TextStyle) -> list[str]:
    """The text of every cell of ``column`` ('' for NULL; strings are not escaped here)."""
    if isinstance(column, Texts):
        if not column.null.any():
            return column.values
        return ["" if null else v for v, null in zip(column.values, column.null, strict=True)]
    if spec.datatype == "boolean":
        values = column.values
        strings = np.where(values == b"T", style.true, np.where(values == b"F", style.false, "?"))
    else:
        strings = number_strings(column.values, spec.datatype)
    if not spec.is_array:
        out = strings.tolist()
        return _blank_nulls(out, column.null) if column.null.any() else out
    if column.lengths is None:
        rows = strings.tolist()
    else:
        flat = strings.tolist()
        ends = np.cumsum(column.lengths).tolist()
        rows = [flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    sep, left, right = style.array_sep, style.array_open, style.array_close
    out = [left + sep.join(r) + right for r in rows]
    if column.lengths is None and style.null_fixed_array_filled:
        return out
    return _blank_nulls(out, column.null) if column.null.any() else out


def _blank_nulls(out: list[str], null: np.ndarray) -> list[str]:
    for i in np.flatnonzero(null).tolist():
        out[i] = ""
    return out
