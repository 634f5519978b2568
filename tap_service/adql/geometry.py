"""ADQL geometry on PostgreSQL: Q3C where an index can answer, pgSphere for the rest.

Predicates are morphed first, while their shape is still visible:

* ``1 = CONTAINS(POINT(a, b), CIRCLE(c, d, r))`` (or INTERSECTS) and ``DISTANCE(P, Q) < r``
  become ``q3c_join(c, d, a, b, r)``: constants first, or, joining two tables, the indexed
  pair second (Q3C uses the index of the second pair). A cone with a numeric centre and
  radius around a pair of columns is spelled instead as the Q3C pixel ranges of its fine
  cover (``sql.q3c_cover``) plus Q3C's own distance test: ~2x the cone's rows read, not ~8x.
* ``1 = CONTAINS(POINT(a, b), POLYGON(...))`` becomes ``q3c_poly_query(a, b, ARRAY[...])``.

Whatever is left is pgSphere (angles in radians): POINT -> spoint, CIRCLE -> scircle,
BOX -> sbox, POLYGON -> spoly, CONTAINS -> ``<@``, INTERSECTS -> ``&&``, DISTANCE -> ``<->``.
A geometry in the select list is returned in DALI form: a double array with xtype
point/circle/polygon.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlglot import exp

from sql.q3c_cover import cone_cover, cone_predicate
from tap_service.adql.errors import AdqlError, at_node
from tap_service.catalog import ColumnInfo

Coordinates = tuple[exp.Expr, exp.Expr]


def _name(node: exp.Expr) -> str:
    if isinstance(node, exp.Contains):
        return "CONTAINS"
    return node.name.upper() if isinstance(node, exp.Anonymous) else ""


def _error(message: str, node: exp.Expr) -> AdqlError:
    return AdqlError(message, *at_node(node))


def _args(node: exp.Expr) -> list[exp.Expr]:
    """Arguments of a geometry constructor without the (deprecated) coordinate system."""
    if isinstance(node, exp.Contains):
        return [node.this, node.expression]
    args = list(node.expressions)
    if args and isinstance(args[0], exp.Literal) and args[0].is_string:
        args = args[1:]
    return args


def _only_arg(node: exp.Expr) -> exp.Expr:
    args = _args(node)
    if len(args) != 1:
        raise _error(f"{_name(node)} takes one geometry", node)
    return args[0]


def point(node: exp.Expr) -> Coordinates | None:
    """(ra, dec) of a POINT(...) constructor, else None."""
    if _name(node) != "POINT":
        return None
    args = _args(node)
    if len(args) != 2:
        raise _error("POINT takes two coordinates (ra, dec) in degrees", node)
    return args[0], args[1]


def circle(node: exp.Expr) -> tuple[exp.Expr, exp.Expr, exp.Expr] | None:
    """(ra, dec, radius) of a CIRCLE(...) constructor, else None."""
    if _name(node) != "CIRCLE":
        return None
    args = _args(node)
    if len(args) == 2 and (centre := point(args[0])) is not None:
        return centre[0], centre[1], args[1]
    if len(args) != 3:
        raise _error("CIRCLE takes a centre (ra, dec or a POINT) and a radius in degrees", node)
    return args[0], args[1], args[2]


def polygon(node: exp.Expr) -> list[exp.Expr] | None:
    """The flat vertex list (ra1, dec1, ra2, dec2, ...) of a POLYGON(...), else None."""
    if _name(node) != "POLYGON":
        return None
    flat: list[exp.Expr] = []
    for arg in _args(node):
        vertex = point(arg)
        flat += list(vertex) if vertex else [arg]
    if len(flat) < 6 or len(flat) % 2:
        raise _error("POLYGON takes at least three vertices (ra, dec pairs)", node)
    return flat


def is_constant(node: exp.Expr) -> bool:
    return node.find(exp.Column) is None


def _indexed(pair: Coordinates, infos: Mapping[int, ColumnInfo]) -> bool:
    return all(
        isinstance(c, exp.Column) and getattr(infos.get(id(c)), "indexed", False) for c in pair
    )


def _call(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def q3c_join(
    p: Coordinates, q: Coordinates, radius: exp.Expr, infos: Mapping[int, ColumnInfo]
) -> exp.Expr:
    """q3c_join with constants first, else with the indexed pair second (``fine_cones``
    later spells a numeric cone as its fine cover)."""
    if (is_constant(q[0]) and is_constant(q[1])) or (_indexed(p, infos) and not _indexed(q, infos)):
        p, q = q, p
    return _call("q3c_join", p[0], p[1], q[0], q[1], radius)


@dataclass(frozen=True)
class Cone:
    """A cone with a numeric centre and radius around a pair of columns, held in the tree by a
    placeholder call (``placeholder(ra_column, dec_column)``) until the tree is SQL."""

    placeholder: str
    columns: Coordinates
    ra: float
    dec: float
    radius: float


# Placeholder names are new in each process: no client can spell one in a query.
PLACEHOLDER = f"xpha_cone_{secrets.token_hex(8)}_"


def fine_cones(tree: exp.Expr) -> list[Cone]:
    """Replace every ``q3c_join(numbers, column, column, number)`` of the finished tree that
    the fine cover serves by a placeholder, and return those cones: ``spelled(cone, ...).spell`` writes
    each one's cover (``sql.q3c_cover.cone_predicate``) into the generated SQL. Done last, on
    columns already in their PostgreSQL form; spelled as text, a cover's dozens of nodes are
    never built, rewritten or generated."""
    cones: list[Cone] = []
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name != "q3c_join":
            continue
        ra, dec, column_ra, column_dec, radius = node.expressions
        centre_ra, centre_dec, r = (number_value(n) for n in (ra, dec, radius))
        if centre_ra is None or centre_dec is None or r is None:
            continue
        if not all(isinstance(c, exp.Column) for c in (column_ra, column_dec)):
            continue
        try:
            cone_cover(centre_ra, centre_dec, r)
        except ValueError:
            continue
        cone = Cone(f"{PLACEHOLDER}{len(cones)}", (column_ra, column_dec), centre_ra, centre_dec, r)
        node.replace(_call(cone.placeholder, column_ra, column_dec))
        cones.append(cone)
    return cones


@dataclass(frozen=True)
class SpelledCone:
    """A cone's placeholder call and its columns as they read in the generated SQL."""

    call: str
    ra_sql: str
    dec_sql: str

    def spell(self, sql: str, ra: float, dec: float, radius: float) -> str:
        """``sql`` with the placeholder replaced by the cone's cover and distance test."""
        if sql.count(self.call) != 1:  # never: the name is new in each process
            raise RuntimeError(f"a cone placeholder is not in the SQL once: {self.call}")
        return sql.replace(self.call, cone_predicate(self.ra_sql, self.dec_sql, ra, dec, radius))


def spelled(cone: Cone, generate: Callable[[exp.Expr], str]) -> SpelledCone:
    """Where ``cone`` stands in SQL made by ``generate`` (which made the whole query)."""
    ra_sql, dec_sql = generate(cone.columns[0]), generate(cone.columns[1])
    return SpelledCone(f"{cone.placeholder}({ra_sql}, {dec_sql})", ra_sql, dec_sql)


def number_value(node: exp.Expr) -> float | None:
    """The value of a numeric literal or of arithmetic on them (``5 / 60.``, ``-24.1``,
    parenthesised) as PostgreSQL computes it (``5 / 60`` is the integer 0), else None."""
    value = _value(node)
    return None if value is None else float(value)


def _value(node: exp.Expr) -> int | float | None:
    if isinstance(node, exp.Paren):
        return _value(node.this)
    if isinstance(node, exp.Neg):
        inner = _value(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.this
        try:
            value = int(text) if text.isdigit() else float(text)
        except ValueError:
            return None
        return value if abs(value) < 2**31 else None  # finite, and no integer overflow
    if type(node) not in (exp.Add, exp.Sub, exp.Mul, exp.Div):
        return None
    left, right = _value(node.this), _value(node.expression)
    if left is None or right is None:
        return None
    if isinstance(node, exp.Add):
        value = left + right
    elif isinstance(node, exp.Sub):
        value = left - right
    elif isinstance(node, exp.Mul):
        value = left * right
    elif right == 0:
        return None
    elif isinstance(left, int) and isinstance(right, int):  # truncated toward zero, as in SQL
        value = abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
    else:
        value = left / right
    return value if abs(value) < 2**31 else None


# --- predicates -----------------------------------------------------------------------
def _truth(node: exp.Expr) -> bool | None:
    """1 -> True, 0 -> False for the integer literal a CONTAINS is compared with."""
    if isinstance(node, exp.Literal) and not node.is_string and node.this in ("0", "1"):
        return node.this == "1"
    return None


def morph_predicate(node: exp.Expr, infos: Mapping[int, ColumnInfo]) -> exp.Expr | None:
    """The Q3C (or boolean pgSphere) form of a geometry predicate, or None if not one."""
    if isinstance(node, (exp.EQ, exp.NEQ)):
        for value, call in ((node.this, node.expression), (node.expression, node.this)):
            truth = _truth(value)
            if truth is None or _name(call) not in ("CONTAINS", "INTERSECTS"):
                continue
            if isinstance(node, exp.NEQ):
                truth = not truth
            predicate = region_predicate(call, infos)
            return predicate if truth else exp.Not(this=exp.Paren(this=predicate))
        return None
    if isinstance(node, (exp.LT, exp.LTE)) and _name(node.this) == "DISTANCE":
        return _distance_predicate(node.this, node.expression, infos)
    if isinstance(node, (exp.GT, exp.GTE)) and _name(node.expression) == "DISTANCE":
        return _distance_predicate(node.expression, node.this, infos)
    return None


def region_predicate(call: exp.Expr, infos: Mapping[int, ColumnInfo]) -> exp.Expr:
    """Boolean form of CONTAINS(a, b) / INTERSECTS(a, b)."""
    args = _args(call)
    if len(args) != 2:
        raise _error(f"{_name(call)} takes two geometries", call)
    first, second = args
    if _name(call) == "INTERSECTS" and point(second) and not point(first):
        first, second = second, first  # INTERSECTS(region, point) is CONTAINS(point, region)
    where = point(first)
    if where is not None:
        around = circle(second)
        if around is not None:
            return q3c_join(where, (around[0], around[1]), around[2], infos)
        vertices = polygon(second)
        if vertices is not None:
            return _call("q3c_poly_query", where[0], where[1], _double_array(vertices))
    operator = (
        exp.ArrayContainedBy if _name(call) == "CONTAINS" or point(first) else exp.ArrayOverlaps
    )
    return exp.Paren(this=operator(this=sphere(first), expression=sphere(second)))


def _distance_predicate(
    call: exp.Expr, radius: exp.Expr, infos: Mapping[int, ColumnInfo]
) -> exp.Expr | None:
    pair = distance_points(call)
    if pair is None:
        return None
    return q3c_join(pair[0], pair[1], radius, infos)


def distance_points(call: exp.Expr) -> tuple[Coordinates, Coordinates] | None:
    """The two (ra, dec) pairs of DISTANCE(POINT, POINT) or DISTANCE(ra1, dec1, ra2, dec2)."""
    args = _args(call)
    if len(args) == 4:
        return (args[0], args[1]), (args[2], args[3])
    if len(args) != 2:
        raise _error("DISTANCE takes two POINTs or four coordinates", call)
    p, q = point(args[0]), point(args[1])
    return (p, q) if p and q else None


# --- values ---------------------------------------------------------------------------
def _radians(node: exp.Expr) -> exp.Expr:
    return exp.Radians(this=node)


def _double_array(values: list[exp.Expr]) -> exp.Expr:
    return exp.Cast(this=exp.Array(expressions=values), to=exp.DataType.build("DOUBLE[]"))


def sphere(node: exp.Expr) -> exp.Expr:
    """The pgSphere value of an ADQL geometry expression (a column passes unchanged)."""
    name = _name(node)
    if (coordinates := point(node)) is not None:
        ra, dec = coordinates
        return _call("spoint", _radians(ra), _radians(dec))
    if (disc := circle(node)) is not None:
        ra, dec, radius = disc
        return _call("scircle", _call("spoint", _radians(ra), _radians(dec)), _radians(radius))
    if name == "BOX":
        args = _args(node)
        if len(args) != 4:
            raise _error("BOX takes a centre (ra, dec), a width and a height in degrees", node)
        ra, dec, width, height = (exp.Paren(this=a) for a in args)
        half_w = exp.Div(this=width, expression=exp.Literal.number(2))
        half_h = exp.Div(this=height, expression=exp.Literal.number(2))
        south_west = _call(
            "spoint",
            _radians(exp.Sub(this=ra, expression=half_w)),
            _radians(exp.Sub(this=dec, expression=half_h)),
        )
        north_east = _call(
            "spoint",
            _radians(exp.Add(this=ra, expression=half_w)),
            _radians(exp.Add(this=dec, expression=half_h)),
        )
        return _call("sbox", south_west, north_east)
    if name == "POLYGON":
        flat = polygon(node) or []
        vertices = [
            exp.Tuple(expressions=[_call("spoint", _radians(flat[i]), _radians(flat[i + 1]))])
            for i in range(0, len(flat), 2)
        ]
        values = exp.Values(
            expressions=vertices,
            alias=exp.TableAlias(
                this=exp.to_identifier("vertices"), columns=[exp.to_identifier("vertex")]
            ),
        )
        query = exp.select(_call("spoly", exp.column("vertex", "vertices"))).from_(values)
        return exp.Subquery(this=query)
    if name == "CENTROID":
        inner = _only_arg(node)
        if _name(inner) not in ("CIRCLE", "POINT") and isinstance(inner, exp.Anonymous):
            raise _error("CENTROID is supported for circles and points", node)
        return _call("center", sphere(inner)) if _name(inner) == "CIRCLE" else sphere(inner)
    if isinstance(node, (exp.Column, exp.Paren)):
        return node
    raise _error("expected a geometry (POINT, CIRCLE, BOX, POLYGON or CENTROID)", node)


def geometry_value(node: exp.Expr) -> exp.Expr | None:
    """Non-geometry-valued geometry functions (DISTANCE, AREA, COORD1/2, COORDSYS, ...)."""
    name = _name(node)
    if name == "DISTANCE":
        pair = distance_points(node)
        if pair is not None:
            (a, b), (c, d) = pair
            return _call("q3c_dist", a, b, c, d)
        first, second = _args(node)
        return exp.Degrees(this=exp.Distance(this=sphere(first), expression=sphere(second)))
    if name in ("CONTAINS", "INTERSECTS"):
        return exp.Cast(this=region_predicate(node, {}), to=exp.DataType.build("INT"))
    if name == "AREA":
        return exp.Degrees(this=exp.Degrees(this=_call("area", sphere(_only_arg(node)))))
    if name in ("COORD1", "COORD2"):
        inner = _only_arg(node)
        coordinates = point(inner)
        if coordinates is not None:
            return coordinates[0] if name == "COORD1" else coordinates[1]
        part = "long" if name == "COORD1" else "lat"
        return exp.Degrees(this=_call(part, sphere(inner)))
    if name == "COORDSYS":
        return exp.Literal.string("ICRS")
    return None


CONSTRUCTORS = frozenset({"POINT", "CIRCLE", "BOX", "POLYGON", "CENTROID"})


def check_no_loose_geometry(tree: exp.Expr) -> None:
    """A geometry left after translation sits where ADQL allows none (arithmetic, ...)."""
    for node in tree.find_all(exp.Anonymous):
        if node.name.upper() in CONSTRUCTORS:
            raise AdqlError(
                f"{node.name.upper()} can only be an argument of a geometry function "
                "or an item of the outer select list",
                0,
                0,
                node.name,
            )


def dali_value(node: exp.Expr) -> tuple[exp.Expr, ColumnInfo] | None:
    """A geometry select item as a DALI array (degrees) with its xtype, else None."""
    name = _name(node)
    if (coordinates := point(node)) is not None:
        return _double_array(list(coordinates)), _dali_info("point", "2")
    if (disc := circle(node)) is not None:
        return _double_array(list(disc)), _dali_info("circle", "3")
    if name == "POLYGON":
        return _double_array(polygon(node) or []), _dali_info("polygon", "*")
    if name == "BOX":
        args = [exp.Paren(this=a) for a in _args(node)]
        if len(args) != 4:
            raise _error("BOX takes a centre (ra, dec), a width and a height in degrees", node)
        ra, dec, width, height = args
        corners: list[exp.Expr] = []
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            dx = exp.Div(this=width, expression=exp.Literal.number(2 * sx))
            dy = exp.Div(this=height, expression=exp.Literal.number(2 * sy))
            corners += [exp.Add(this=ra, expression=dx), exp.Add(this=dec, expression=dy)]
        return _double_array(corners), _dali_info("polygon", "*")
    if name == "CENTROID":
        centre = sphere(node)
        values: list[exp.Expr] = [
            exp.Degrees(this=_call("long", centre)),
            exp.Degrees(this=_call("lat", centre)),
        ]
        return _double_array(values), _dali_info("point", "2")
    return None


def _dali_info(xtype: str, arraysize: str) -> ColumnInfo:
    return ColumnInfo(
        name=xtype,
        datatype="double",
        arraysize=arraysize,
        unit="deg",
        ucd="pos.eq" if xtype == "point" else None,
        xtype=xtype,
    )
