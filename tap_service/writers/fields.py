"""Result FIELDs: what each output column is in VOTable terms, derived from the query's cursor.

The database says what type a value has (its PostgreSQL type OID); the catalogue says what
the column means (unit, UCD, description, declared arraysize). ``field_specs`` joins the two,
so a plain column reference keeps its TAP_SCHEMA metadata and a computed expression still gets
a correct datatype.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

INTEGER_TYPES = ("short", "int", "long", "unsignedByte")
FLOAT_TYPES = ("float", "double")
TEXT_TYPES = ("char", "unicodeChar")
GEOMETRY_XTYPES = {"point": "2", "circle": "3", "polygon": "*"}


@dataclass(frozen=True)
class FieldSpec:
    """One result column as a VOTable FIELD (and a FITS/CSV column)."""

    name: str
    datatype: str
    arraysize: str | None = None
    unit: str | None = None
    ucd: str | None = None
    description: str | None = None
    xtype: str | None = None
    utype: str | None = None

    @property
    def is_array(self) -> bool:
        """True for numeric/boolean arrays (a char arraysize only makes the column a string)."""
        return self.arraysize is not None and self.datatype not in TEXT_TYPES

    @property
    def fixed_count(self) -> int | None:
        """Element count of a fixed arraysize ("55", "2x3"), None when variable ("*", "10*")."""
        return fixed_count(self.arraysize)


def fixed_count(arraysize: str | None) -> int | None:
    """The number of elements a fixed arraysize holds; None for variable or absent sizes."""
    if arraysize is None or arraysize.endswith("*"):
        return None
    count = 1
    for dim in arraysize.split("x"):
        count *= int(dim)
    return count


class _Source(Protocol):  # read-only, as the catalogue's frozen ColumnInfo
    @property
    def name(self) -> str: ...

    @property
    def datatype(self) -> str: ...

    @property
    def arraysize(self) -> str | None: ...

    @property
    def unit(self) -> str | None: ...

    @property
    def ucd(self) -> str | None: ...

    @property
    def description(self) -> str | None: ...

    @property
    def xtype(self) -> str | None: ...

    @property
    def utype(self) -> str | None: ...


class _OutputColumn(Protocol):  # read-only, as the translator's frozen OutputColumn
    @property
    def name(self) -> str: ...

    @property
    def source(self) -> _Source | None: ...


# PostgreSQL built-in type OIDs -> (VOTable datatype, xtype); arrays map to their element type.
_SCALAR_OIDS: dict[int, tuple[str, str | None]] = {
    16: ("boolean", None),
    21: ("short", None),
    23: ("int", None),
    20: ("long", None),
    26: ("long", None),  # oid
    700: ("float", None),
    701: ("double", None),
    1700: ("double", None),  # numeric
    18: ("char", None),  # "char"
    19: ("char", None),  # name
    25: ("unicodeChar", None),  # text
    1042: ("unicodeChar", None),  # bpchar
    1043: ("unicodeChar", None),  # varchar
    1114: ("char", "timestamp"),
    1184: ("char", "timestamp"),
    1082: ("char", "timestamp"),  # date: DALI timestamps may omit the time
    1083: ("char", None),  # time
    1186: ("char", None),  # interval
    2950: ("char", None),  # uuid
}
_ARRAY_OIDS: dict[int, int] = {
    1000: 16,
    1005: 21,
    1007: 23,
    1016: 20,
    1021: 700,
    1022: 701,
    1231: 1700,
    1002: 18,
    1003: 19,
    1009: 25,
    1014: 1042,
    1015: 1043,
    1115: 1114,
    1185: 1184,
    1182: 1082,
}
_NAME_OK = re.compile(r"[^A-Za-z0-9_]")


def field_specs(
    cursor_description: Sequence[Any], output_columns: Sequence[_OutputColumn] | None = None
) -> list[FieldSpec]:
    """FIELDs for a cursor's columns, enriched by the translator's output columns if given.

    ``cursor_description`` is psycopg's ``cursor.description`` (objects with ``name`` and
    ``type_code``, or DB-API tuples). Types the map does not know (pgSphere, json, ...) are
    written as text, unless the catalogue declares a geometry xtype: those are double arrays.
    """
    description = list(cursor_description)
    outputs = _aligned(list(output_columns or []), len(description))
    specs = []
    for column, output in zip(description, outputs, strict=True):
        name, oid = _name_and_oid(column)
        source = output.source if output is not None else None
        if output is not None and output.name:
            name = output.name
        specs.append(_spec(name, oid, source))
    return unique_names(specs)


def _aligned(outputs: list[_OutputColumn], n: int) -> list[_OutputColumn | None]:
    """One output column (or None: use the cursor's name, no metadata) per cursor column.

    A ``*`` item (an upload of unknown shape) stands for however many columns the database
    expanded it to; with more than one such item the mapping is ambiguous and is dropped.
    """
    stars = [i for i, o in enumerate(outputs) if o.name == "*"]
    if not stars and len(outputs) == n:
        return list(outputs)
    if len(stars) == 1 and len(outputs) - 1 <= n:
        i = stars[0]
        return [*outputs[:i], *[None] * (n - len(outputs) + 1), *outputs[i + 1 :]]
    return [None] * n


def _name_and_oid(column: Any) -> tuple[str, int]:
    if hasattr(column, "type_code"):
        return column.name, int(column.type_code)
    return column[0], int(column[1])


def _spec(name: str, oid: int, source: _Source | None) -> FieldSpec:
    element_oid = _ARRAY_OIDS.get(oid)
    datatype, xtype = _SCALAR_OIDS.get(element_oid or oid, ("unicodeChar", None))
    arraysize: str | None = None
    if datatype in TEXT_TYPES:
        arraysize = "*"
        if source is not None and source.datatype in TEXT_TYPES:
            datatype = source.datatype  # TAP_SCHEMA promised ASCII ("char") or not
        if element_oid is not None:
            datatype, xtype = "unicodeChar", None  # text[]: one string "[a, b]" per row
    elif element_oid is not None:
        declared = source.arraysize if source is not None else None
        arraysize = declared if declared and _valid_arraysize(declared) else "*"
    if source is not None and _declared_type_fits(datatype, source.datatype):
        datatype = source.datatype  # results agree with TAP_SCHEMA (taplint compares them)
    geometry = source.xtype if source is not None and source.xtype in GEOMETRY_XTYPES else None
    if geometry and (element_oid is not None or datatype == "unicodeChar"):
        datatype, xtype, arraysize = "double", geometry, GEOMETRY_XTYPES[geometry]
    if source is None:
        return FieldSpec(name=name, datatype=datatype, arraysize=arraysize, xtype=xtype)
    return FieldSpec(
        name=name,
        datatype=datatype,
        arraysize=arraysize,
        unit=source.unit,
        ucd=source.ucd,
        description=source.description,
        xtype=xtype or (source.xtype if source.xtype not in (None, "timestamp") else None),
        utype=source.utype,
    )


def _declared_type_fits(actual: str, declared: str) -> bool:
    """Whether values of the ``actual`` type convert to the ``declared`` one without guessing.

    An integer too large for a narrower declared type fails loudly in the writer (an ERROR
    trailer naming the column); nothing is silently rounded or truncated.
    """
    if declared in FLOAT_TYPES:
        return actual in INTEGER_TYPES or actual in FLOAT_TYPES
    if declared in INTEGER_TYPES:
        return actual in INTEGER_TYPES
    return False


def _valid_arraysize(arraysize: str) -> bool:
    return re.fullmatch(r"(\d+x)*(\d+\*?|\*)", arraysize) is not None


def unique_names(specs: list[FieldSpec]) -> list[FieldSpec]:
    """Names VOTable/FITS/CSV readers accept, made unique (``ra``, ``ra_2``, ...)."""
    seen: set[str] = set()
    result = []
    for spec in specs:
        base = _NAME_OK.sub("_", spec.name or "col") or "col"
        if base[0].isdigit():
            base = f"col_{base}"
        name, n = base, 1
        while name.lower() in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        result.append(spec if name == spec.name else _renamed(spec, name))
    return result


def _renamed(spec: FieldSpec, name: str) -> FieldSpec:
    return FieldSpec(
        name,
        spec.datatype,
        spec.arraysize,
        spec.unit,
        spec.ucd,
        spec.description,
        spec.xtype,
        spec.utype,
    )
