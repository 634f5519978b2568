"""Positions on the sky in SQLAlchemy: Q3C predicates that use the index, pgSphere shapes.

Each helper compiles to the SQL a person would write by hand for the index to answer:

* ``cone(ra, dec, ra0, dec0, r)`` -> ``q3c_join(ra0, dec0, ra, dec, r)``: the constants first,
  so the table's pair is the second one, whose ``q3c_ang2ipix`` index Q3C probes;
* ``crossmatch(a_ra, a_dec, b_ra, b_dec, r)`` -> ``q3c_join(...)`` with the indexed table's
  pair (``b``) second, one index probe per row of ``a``;
* ``polygon(ra, dec, vertices)`` -> ``q3c_poly_query(ra, dec, ARRAY[...])``;
* ``distance(...)`` -> ``q3c_dist`` in degrees.

``positions(ra, dec)`` turns an in-memory list into a relation (``unnest`` of three array
parameters: three binds whatever its length) to crossmatch against a published table.
pgSphere covers what Q3C has no index for (shapes as values, overlaps): ``spoint``,
``scircle``, ``spoly``, ``contains`` and ``sphere_distance``, angles in degrees as in ADQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, Text, bindparam, cast, column, func
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeDecorator, UserDefinedType

Angle = ColumnElement[Any] | float  # a column or expression in degrees, or a number


class Degrees(TypeDecorator):
    """An angle in degrees: double precision that knows its unit (read by ``units_of``)."""

    impl = DOUBLE_PRECISION
    cache_ok = True
    unit = "deg"


# Named as the SQL functions they stand for (GenericFunction renders the class name).
class q3c_join(GenericFunction[bool]):
    type = Boolean()
    package = "q3c"
    inherit_cache = True


class q3c_dist(GenericFunction[float]):
    type = Degrees()
    package = "q3c"
    inherit_cache = True


class q3c_poly_query(GenericFunction[bool]):
    type = Boolean()
    package = "q3c"
    inherit_cache = True


def _degrees(value: Angle) -> ColumnElement[Any]:
    if isinstance(value, ColumnElement):
        return value
    return bindparam(None, float(value), type_=DOUBLE_PRECISION)


def cone(ra: Angle, dec: Angle, ra0: Angle, dec0: Angle, radius: Angle) -> ColumnElement[bool]:
    """True within ``radius`` degrees of (``ra0``, ``dec0``); Q3C-indexed on (``ra``, ``dec``)."""
    return q3c_join(_degrees(ra0), _degrees(dec0), _degrees(ra), _degrees(dec), _degrees(radius))


def crossmatch(
    ra: Angle, dec: Angle, indexed_ra: Angle, indexed_dec: Angle, radius: Angle
) -> ColumnElement[bool]:
    """A join condition: within ``radius`` degrees; the index of the second pair is used."""
    return q3c_join(
        _degrees(ra), _degrees(dec), _degrees(indexed_ra), _degrees(indexed_dec), _degrees(radius)
    )


def distance(ra1: Angle, dec1: Angle, ra2: Angle, dec2: Angle) -> ColumnElement[float]:
    """Angular distance in degrees (label it to select it: ``.label("sep")``)."""
    return q3c_dist(_degrees(ra1), _degrees(dec1), _degrees(ra2), _degrees(dec2))


def _vertices(vertices: Iterable[Sequence[float]]) -> list[float]:
    flat = [float(x) for vertex in vertices for x in vertex]
    if len(flat) < 6 or len(flat) % 2:
        raise ValueError("a polygon needs at least three (ra, dec) vertices in degrees")
    return flat


def polygon(ra: Angle, dec: Angle, vertices: Iterable[Sequence[float]]) -> ColumnElement[bool]:
    """True inside the polygon of (ra, dec) ``vertices`` (degrees); Q3C-indexed."""
    array = bindparam(None, _vertices(vertices), type_=ARRAY(DOUBLE_PRECISION))
    return q3c_poly_query(_degrees(ra), _degrees(dec), array)


def positions(
    ra: Iterable[float],
    dec: Iterable[float],
    ids: Iterable[int] | None = None,
    name: str = "positions",
) -> TableValuedAlias:
    """An in-memory list of positions as a relation ``name(id, ra, dec)``; ``id`` defaults to
    the row number, so results map back to the list."""
    ras, decs = [float(x) for x in ra], [float(x) for x in dec]
    row_ids = list(range(len(ras))) if ids is None else [int(i) for i in ids]
    if not len(ras) == len(decs) == len(row_ids):
        raise ValueError(f"positions: {len(ras)} ra, {len(decs)} dec and {len(row_ids)} ids")
    arrays = (
        bindparam(None, row_ids, type_=ARRAY(BigInteger)),
        bindparam(None, ras, type_=ARRAY(DOUBLE_PRECISION)),
        bindparam(None, decs, type_=ARRAY(DOUBLE_PRECISION)),
    )
    return (
        func.unnest(*arrays)
        .table_valued(
            column("id", BigInteger),
            column("ra", DOUBLE_PRECISION),
            column("dec", DOUBLE_PRECISION),
            name=name,
        )
        .render_derived(with_types=False)
    )


# --- pgSphere --------------------------------------------------------------------------------
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class _Sphere(UserDefinedType):
    """A pgSphere value; read back as numbers in degrees (pgSphere prints radians)."""

    cache_ok = True
    name = ""

    def get_col_spec(self, **kw: Any) -> str:
        return self.name

    def result_processor(self, dialect: Any, coltype: Any):
        def degrees(value: str | None) -> tuple[float, ...] | None:
            if value is None:
                return None
            import math

            return tuple(math.degrees(float(x)) for x in _NUMBER.findall(value))

        return degrees


class SPoint(_Sphere):
    cache_ok = True
    name = "spoint"


class SCircle(_Sphere):
    cache_ok = True
    name = "scircle"


class SPoly(_Sphere):
    cache_ok = True
    name = "spoly"


def spoint(ra: Angle, dec: Angle) -> ColumnElement[Any]:
    """A pgSphere point from (ra, dec) in degrees."""
    return func.spoint(func.radians(_degrees(ra)), func.radians(_degrees(dec)), type_=SPoint())


def scircle(ra: Angle, dec: Angle, radius: Angle) -> ColumnElement[Any]:
    """A pgSphere circle: centre and radius in degrees."""
    return func.scircle(spoint(ra, dec), func.radians(_degrees(radius)), type_=SCircle())


def spoly(vertices: Iterable[Sequence[float]]) -> ColumnElement[Any]:
    """A pgSphere polygon from (ra, dec) vertices in degrees."""
    flat = _vertices(vertices)
    text = "{" + ",".join(f"({flat[i]!r}d,{flat[i + 1]!r}d)" for i in range(0, len(flat), 2)) + "}"
    return cast(bindparam(None, text, type_=Text), SPoly())


def contains(region: ColumnElement[Any], point: ColumnElement[Any]) -> ColumnElement[bool]:
    """True where ``point`` lies in ``region`` (pgSphere ``<@``; no index on our tables)."""
    return point.op("<@", is_comparison=True)(region)


def sphere_distance(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[float]:
    """Distance between two pgSphere points, in degrees."""
    return func.degrees(a.op("<->", return_type=DOUBLE_PRECISION)(b), type_=Degrees())
