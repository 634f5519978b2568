"""Gaia archive file formats, written fast and byte-reproducibly.

Tables are described once (name, FITS type, description, UCD) and written as the archive does:
FITS binary tables with variable-length array columns (so a missing band or missing
correlations is a zero-length array), CSV with arrays as "(v, v, ...)", and ECSV with arrays as
JSON lists. The FITS writer packs the main table and heap with numpy (no per-row Python),
which is what lets the simulator stream millions of sources; no timestamps are written, so the
same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMATS = ("fits", "csv", "ecsv")
# FITS letter -> (numpy big-endian dtype, ECSV datatype, null value for integers)
FITS_TYPES = {
    "K": (">i8", "int64", None),
    "J": (">i4", "int32", -2147483648),
    "I": (">i2", "int16", -32768),
    "E": (">f4", "float32", None),
    "D": (">f8", "float64", None),
    "L": ("u1", "bool", None),
}


@dataclass(frozen=True)
class ArchiveColumn:
    """One archive column: scalar (letter) or variable-length array ('PD', 'PE')."""

    name: str
    letter: str  # K, J, I, E, D, L, or PD / PE for variable-length arrays
    description: str = ""
    ucd: str = ""
    unit: str = ""
    max_length: int = 0  # arrays: the longest array (FITS TFORM 'PD(55)')

    @property
    def is_array(self) -> bool:
        return self.letter.startswith("P")

    @property
    def element(self) -> str:
        return self.letter[-1]


def _text(value: object) -> str:
    return "" if value is None else str(value)


class TableData:
    """Column values for one chunk: scalars as 1-d arrays (NaN = null), arrays as 2-d float
    arrays plus a per-row presence mask, or as a few distinct arrays plus a per-row index
    (-1 = absent) for columns whose rows repeat (correlation matrices shared by copies of a
    parent): those are stored once in a FITS heap and formatted once for text."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: dict[str, np.ndarray] = {}
        self.present: dict[str, np.ndarray] = {}
        self.shared: dict[str, np.ndarray] = {}  # name -> per-row index into values

    def set(self, name: str, values: np.ndarray, present: np.ndarray | None = None) -> None:
        self.values[name] = np.asarray(values)
        if present is not None:
            self.present[name] = np.asarray(present, dtype=bool)

    def set_shared(self, name: str, distinct: np.ndarray, index: np.ndarray) -> None:
        self.values[name] = np.atleast_2d(np.asarray(distinct))
        self.shared[name] = np.asarray(index, dtype=np.int64)


def write_table(path: Path, columns: Sequence[ArchiveColumn], data: TableData, fmt: str) -> Path:
    """Write one chunk in 'fits', 'csv' or 'ecsv'."""
    if fmt == "fits":
        _write_fits(path, columns, data)
    elif fmt in ("csv", "ecsv"):
        _write_text(path, columns, data, ecsv=fmt == "ecsv")
    else:
        from sql.errors import XphaError

        raise XphaError(f"unknown output format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return path


# --- FITS ----------------------------------------------------------------------------------
def _fits_header(columns: Sequence[ArchiveColumn], data: TableData, row_bytes: int, heap: int):
    from astropy.io import fits

    header = fits.Header()
    header["XTENSION"] = ("BINTABLE", "binary table extension")
    header["BITPIX"] = (8, "8-bit bytes")
    header["NAXIS"] = (2, "2-dimensional table")
    header["NAXIS1"] = (row_bytes, "width of table in bytes")
    header["NAXIS2"] = (data.n, "number of rows in table")
    header["PCOUNT"] = (heap, "heap size (no gap)")
    header["GCOUNT"] = (1, "one data group")
    header["TFIELDS"] = (len(columns), "number of columns")
    for i, column in enumerate(columns, start=1):
        header[f"TTYPE{i}"] = (column.name, f"label for column {i}")
        form = f"{column.letter}({column.max_length})" if column.is_array else column.letter
        header[f"TFORM{i}"] = (form, f"format for column {i}")
        null = FITS_TYPES[column.letter][2] if not column.is_array else None
        if null is not None:
            header[f"TNULL{i}"] = null
        if column.unit:
            header[f"TUNIT{i}"] = column.unit
        if column.description:
            header[f"TCOMM{i}"] = column.description
        if column.ucd:
            header[f"TUCD{i}"] = column.ucd
    return header


def _pad(size: int) -> bytes:
    return b"\0" * (-size % 2880)


def _write_fits(path: Path, columns: Sequence[ArchiveColumn], data: TableData) -> None:
    from astropy.io import fits

    n = data.n
    fields: list[tuple[str, str] | tuple[str, str, tuple[int]]] = []
    for column in columns:
        if column.is_array:
            fields.append((column.name, ">i4", (2,)))
        else:
            fields.append((column.name, FITS_TYPES[column.letter][0]))
    table = np.zeros(n, dtype=np.dtype(fields))
    heap_parts: list[bytes] = []
    heap_size = 0
    for column in columns:
        values = data.values[column.name]
        if not column.is_array:
            null = FITS_TYPES[column.letter][2]
            if null is not None and values.dtype.kind == "f":
                values = np.where(np.isfinite(values), values, null)
            if column.letter == "L":
                values = np.where(values, ord("T"), ord("F"))
            table[column.name] = values
            continue
        dtype = FITS_TYPES[column.element][0]
        length = values.shape[1]
        item = np.dtype(dtype).itemsize * length
        descriptor = np.zeros((n, 2), dtype=">i4")
        if column.name in data.shared:
            index = data.shared[column.name]
            present = index >= 0
            block = np.ascontiguousarray(values, dtype=dtype)
            descriptor[present, 1] = heap_size + item * index[present]
        else:
            present = data.present.get(column.name, np.ones(n, dtype=bool))
            block = np.ascontiguousarray(values[present], dtype=dtype)
            descriptor[present, 1] = heap_size + item * np.arange(present.sum())
        descriptor[present, 0] = length
        table[column.name] = descriptor
        heap_parts.append(block.tobytes())
        heap_size += block.nbytes
    header = _fits_header(columns, data, table.dtype.itemsize, heap_size)
    primary = fits.PrimaryHDU().header
    primary["EXTEND"] = True
    with open(path, "wb") as out:
        text = primary.tostring().encode("ascii")
        out.write(text + _pad(len(text)))
        text = header.tostring().encode("ascii")
        out.write(text + _pad(len(text)))
        body = table.tobytes()
        out.write(body)
        for part in heap_parts:
            out.write(part)
        out.write(_pad(len(body) + heap_size))


# --- CSV / ECSV ----------------------------------------------------------------------------
def _scalar_strings(column: ArchiveColumn, values: np.ndarray) -> list[str]:
    if column.letter == "L":
        return ["True" if v else "False" for v in values.tolist()]
    if column.letter in "KJI" and values.dtype.kind != "f":
        return [str(v) for v in values.tolist()]
    if column.letter in "KJI":
        return ["" if v != v else str(int(v)) for v in values.tolist()]
    if column.letter == "E":
        values = values.astype(np.float32)
        return ["" if v != v else repr(v) for v in values.tolist()]
    return ["" if v != v else repr(v) for v in values.tolist()]


def _array_strings(column: ArchiveColumn, values: np.ndarray, present: np.ndarray, ecsv: bool):
    if column.element == "E":  # float32 in its shortest form ("0.7158656"), as the archive
        rows = values.astype(np.float32).astype(str).tolist()
    else:
        rows = [[repr(v) for v in row] for row in values.astype(np.float64).tolist()]
    separator, left, right = (",", '"[', ']"') if ecsv else (", ", '"(', ')"')
    empty = '"[]"' if ecsv else ""
    return [
        left + separator.join(row) + right if ok else empty
        for row, ok in zip(rows, present.tolist(), strict=True)
    ]


def _shared_strings(column: ArchiveColumn, distinct: np.ndarray, index: np.ndarray, ecsv: bool):
    texts = _array_strings(column, distinct, np.ones(len(distinct), dtype=bool), ecsv)
    texts.append('"[]"' if ecsv else "")  # index -1: absent
    return [texts[i] for i in index.tolist()]


def _ecsv_header(columns: Sequence[ArchiveColumn]) -> str:
    lines = ["# %ECSV 1.0", "# ---", "# delimiter: ','", "# datatype:"]
    for column in columns:
        lines.append("# -")
        lines.append(f"#   name: {column.name}")
        if column.is_array:
            element = FITS_TYPES[column.element][1]
            lines.append("#   datatype: string")
            lines.append(f"#   subtype: '{element}[null]'")
        else:
            lines.append(f"#   datatype: {FITS_TYPES[column.letter][1]}")
        if column.unit:
            lines.append(f"#   unit: {column.unit}")
        if column.description:
            lines.append(f"#   description: {column.description}")
        if column.ucd:
            lines.append("#   meta:")
            lines.append(f"#     ucd: {column.ucd}")
    lines.append("# schema: astropy-2.0")
    return "\n".join(lines) + "\n"


def _write_text(path: Path, columns: Sequence[ArchiveColumn], data: TableData, ecsv: bool) -> None:
    cells = []
    for column in columns:
        values = data.values[column.name]
        if column.name in data.shared:
            cells.append(_shared_strings(column, values, data.shared[column.name], ecsv))
        elif column.is_array:
            present = data.present.get(column.name, np.ones(data.n, dtype=bool))
            cells.append(_array_strings(column, values, present, ecsv))
        else:
            cells.append(_scalar_strings(column, values))
    with open(path, "w", encoding="ascii", newline="\n") as out:
        if ecsv:
            out.write(_ecsv_header(columns))
        out.write(",".join(column.name for column in columns) + "\n")
        out.writelines(",".join(row) + "\n" for row in zip(*cells, strict=True))
