"""The allow-list over the parsed tree: node types, their options, functions and casts.

Anything not listed here is refused with :class:`AdqlSecurityError` before a name is resolved
or a line of SQL is written. Schemas and tables are allow-listed where names are resolved
(:mod:`tap_service.adql.scope`): only published tables, TAP_SCHEMA and this request's uploads.
"""

from __future__ import annotations

import re

from sqlglot import exp

from tap_service.adql.errors import AdqlError, AdqlSecurityError, at_node

QUERY_ARGS = frozenset(
    {
        "with_",
        "expressions",
        "distinct",
        "from_",
        "joins",
        "where",
        "group",
        "having",
        "order",
        "limit",
        "offset",
        "this",
        "expression",
        "alias",
    }
)
# Options allowed on the nodes that have many; every other node may use all of its own args.
ALLOWED_ARGS: dict[type[exp.Expr], frozenset[str]] = {
    exp.Select: QUERY_ARGS,
    exp.Union: QUERY_ARGS,
    exp.Intersect: QUERY_ARGS,
    exp.Except: QUERY_ARGS,
    exp.Subquery: frozenset({"this", "alias", "order", "limit", "offset"}),
    exp.Join: frozenset({"this", "on", "side", "kind", "using", "method"}),
    exp.Table: frozenset({"this", "alias", "db", "catalog"}),
    exp.Column: frozenset({"this", "table", "db"}),
    exp.Ordered: frozenset({"this", "desc", "nulls_first"}),
    exp.Cast: frozenset({"this", "to"}),
    exp.Distinct: frozenset({"expressions"}),
    exp.Like: frozenset({"this", "expression", "negate"}),
    exp.ILike: frozenset({"this", "expression", "negate"}),
    exp.In: frozenset({"this", "expressions", "query"}),
    exp.Count: frozenset({"this", "expressions", "big_int"}),
    exp.CTE: frozenset({"this", "alias"}),
    exp.With: frozenset({"expressions"}),
    exp.TableAlias: frozenset({"this"}),
}
ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        # query structure
        exp.Select,
        exp.Union,
        exp.Intersect,
        exp.Except,
        exp.Subquery,
        exp.With,
        exp.CTE,
        exp.From,
        exp.Join,
        exp.Table,
        exp.TableAlias,
        exp.Identifier,
        exp.Column,
        exp.Star,
        exp.Alias,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Distinct,
        # values and operators
        exp.Literal,
        exp.HexString,
        exp.Boolean,
        exp.Null,
        exp.Paren,
        exp.Neg,
        exp.Not,
        exp.And,
        exp.Or,
        exp.EQ,
        exp.NEQ,
        exp.LT,
        exp.LTE,
        exp.GT,
        exp.GTE,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.Mod,
        exp.DPipe,
        exp.Like,
        exp.ILike,
        exp.In,
        exp.Between,
        exp.Is,
        exp.Exists,
        exp.Case,
        exp.If,
        exp.Cast,
        exp.DataType,
        exp.DataTypeParam,
        # ADQL functions (sqlglot's classes for them)
        exp.Coalesce,
        exp.Count,
        exp.Sum,
        exp.Avg,
        exp.Min,
        exp.Max,
        exp.Abs,
        exp.Ceil,
        exp.Floor,
        exp.Degrees,
        exp.Radians,
        exp.Exp,
        exp.Ln,
        exp.Log,
        exp.Pi,
        exp.Pow,
        exp.Rand,
        exp.Round,
        exp.Sqrt,
        exp.Trunc,
        exp.Sin,
        exp.Cos,
        exp.Tan,
        exp.Asin,
        exp.Acos,
        exp.Atan,
        exp.Atan2,
        exp.Cot,
        exp.Lower,
        exp.Upper,
        exp.Contains,
        exp.Anonymous,
    }
)
# ADQL functions sqlglot does not know by class: the geometry ones.
GEOMETRY_FUNCTIONS = frozenset(
    {
        "POINT",
        "CIRCLE",
        "BOX",
        "POLYGON",
        "DISTANCE",
        "AREA",
        "COORD1",
        "COORD2",
        "COORDSYS",
        "CENTROID",
        "INTERSECTS",
        "CONTAINS",
    }
)
ALLOWED_CASTS = frozenset(
    {
        exp.DataType.Type.SMALLINT,
        exp.DataType.Type.INT,
        exp.DataType.Type.BIGINT,
        exp.DataType.Type.FLOAT,
        exp.DataType.Type.DOUBLE,
        exp.DataType.Type.CHAR,
        exp.DataType.Type.VARCHAR,
        exp.DataType.Type.TIMESTAMP,
    }
)
HEX = re.compile(r"^[0-9A-Fa-f]{1,16}$")
NUMBER = re.compile(r"^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
QUERY_NODES = (exp.Select, exp.Union, exp.Intersect, exp.Except)


def refuse(message: str, node: exp.Expr) -> AdqlSecurityError:
    """An AdqlSecurityError placed at ``node``."""
    line, column, token = at_node(node)
    return AdqlSecurityError(message, line, column, token)


def check_tree(tree: exp.Expr) -> None:
    """Raise unless every node of ``tree`` is on the allow-list."""
    if not isinstance(tree, QUERY_NODES):
        raise refuse("only SELECT queries are allowed", tree)
    for node in tree.walk():
        kind = type(node)
        if kind not in ALLOWED_NODES:
            if isinstance(node, exp.Func):
                name = node.name if isinstance(node, exp.Anonymous) else node.key.upper()
                raise AdqlSecurityError(f"unknown or refused function '{name}'", 0, 0, name)
            raise refuse(f"{kind.__name__.upper()} is not allowed in ADQL queries", node)
        allowed_args = ALLOWED_ARGS.get(kind)
        if allowed_args is not None:
            extra = [
                k
                for k, v in node.args.items()
                if v not in (None, False, []) and k not in allowed_args
            ]
            if extra:
                raise refuse(f"{kind.__name__.upper()} with {extra[0]} is not ADQL", node)
        _check_node(node)


#: Longest numeric literal: far beyond any double or numeric a column holds, far below
#: Python's 4,300-digit limit on converting text to int (which would end in a 500).
MAX_DIGITS = 400
MAX_HEX_DIGITS = 32


def _check_node(node: exp.Expr) -> None:
    if isinstance(node, exp.Anonymous):
        name = node.name.upper()
        if name == "REGION":
            raise AdqlSecurityError(
                "REGION is not supported; use POINT, CIRCLE, BOX or POLYGON", 0, 0, node.name
            )
        if name not in GEOMETRY_FUNCTIONS:
            raise AdqlSecurityError(f"unknown or refused function '{node.name}'", 0, 0, node.name)
    elif isinstance(node, exp.Literal) and not node.is_string and len(node.this) > MAX_DIGITS:
        raise refuse(
            f"a number of {len(node.this)} characters is longer than any column "
            f"holds (at most {MAX_DIGITS})",
            node,
        )
    elif isinstance(node, exp.Literal) and not node.is_string and not NUMBER.match(node.this):
        raise refuse(f"malformed number '{node.this}'", node)
    elif isinstance(node, exp.HexString) and len(node.this) > MAX_HEX_DIGITS:
        raise refuse(
            f"a hexadecimal number of {len(node.this)} digits is longer than "
            f"a 64-bit integer (at most {MAX_HEX_DIGITS})",
            node,
        )
    elif isinstance(node, exp.HexString) and not HEX.match(node.this):
        raise refuse(f"malformed hexadecimal number '0x{node.this}'", node)
    elif isinstance(node, exp.DataType):
        if node.this not in ALLOWED_CASTS:
            raise refuse(f"CAST to {node.sql()} is not allowed in ADQL", node)
    elif isinstance(node, exp.Join):
        method = (node.args.get("method") or "").upper()
        kind = (node.args.get("kind") or "").upper()
        if method not in ("", "NATURAL") or kind not in ("", "INNER", "OUTER", "CROSS"):
            raise refuse(f"{method or kind} JOIN is not ADQL", node)
    elif isinstance(node, (exp.Limit, exp.Offset)):
        value = node.expression
        if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
            word = "TOP" if isinstance(node, exp.Limit) else "OFFSET"
            raise refuse(f"{word} takes a whole number", node)
    elif isinstance(node, exp.Select) and not node.expressions:
        # e.g. "SELECT-- TOP 2 ra ...": a comment swallowed the select list
        raise AdqlError("SELECT needs a select list (a column, an expression or *)", 0, 0, "SELECT")
    elif isinstance(node, exp.Table) and node.args.get("catalog"):
        raise refuse("table names have at most two parts (schema.table)", node)
    elif isinstance(node, exp.Column) and not isinstance(node.this, (exp.Identifier, exp.Star)):
        raise refuse("malformed column reference", node)
