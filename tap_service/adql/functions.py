"""ADQL function semantics on PostgreSQL: where the names match but the meanings do not.

``LOG`` is the natural logarithm (sqlglot already parses it to ``LN``), ``LOG10`` is
PostgreSQL's one-argument ``log``, ``ROUND``/``TRUNCATE`` with digits and ``MOD`` of
floating-point values need numeric casts, ``RAND`` is ``random()``, and a boolean column
compared with 0/1 (how TAP clients write booleans) is compared with FALSE/TRUE.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from tap_service.catalog import ColumnInfo

INTEGER_TYPES = frozenset({"short", "int", "long", "unsignedByte"})
INTEGER_CASTS = frozenset(
    {exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT}
)


def is_integer(node: exp.Expr, infos: Mapping[int, ColumnInfo]) -> bool:
    """Whether ``node`` is certainly integer-valued (literals, integer columns, COUNT, ...)."""
    if isinstance(node, exp.Literal):
        return not node.is_string and node.this.isdigit()
    if isinstance(node, exp.Column):
        info = infos.get(id(node))
        return info is not None and info.datatype in INTEGER_TYPES and not info.arraysize
    if isinstance(node, exp.Cast):
        return node.to.this in INTEGER_CASTS
    if isinstance(node, (exp.Paren, exp.Neg, exp.Abs)):
        return is_integer(node.this, infos)
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Mod)):
        return is_integer(node.this, infos) and is_integer(node.expression, infos)
    return isinstance(node, exp.Count)


def _numeric(node: exp.Expr) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build("DECIMAL"))


def _double(node: exp.Expr) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build("DOUBLE"))


def _call(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _is_bool_column(node: exp.Expr, infos: Mapping[int, ColumnInfo]) -> bool:
    info = infos.get(id(node)) if isinstance(node, exp.Column) else None
    return info is not None and info.datatype == "boolean" and not info.arraysize


def _as_boolean(node: exp.Expr) -> exp.Expr:
    """The integer literal 0/1 as FALSE/TRUE; anything else unchanged."""
    if isinstance(node, exp.Literal) and not node.is_string and node.this in ("0", "1"):
        return exp.Boolean(this=node.this == "1")
    return node


def adql_semantics(node: exp.Expr, infos: Mapping[int, ColumnInfo]) -> exp.Expr:
    """The PostgreSQL form of one node with ADQL's meaning (children already rewritten)."""
    if isinstance(node, exp.Log):
        base, value = node.this, node.expression
        if value is None:  # LOG(x) read as a base-10 log by some dialect settings
            return exp.Ln(this=base)
        if isinstance(base, exp.Literal) and base.this == "10":
            return _call("LOG", value)
        return exp.Div(
            this=exp.Paren(this=exp.Ln(this=value)), expression=exp.Paren(this=exp.Ln(this=base))
        )
    if isinstance(node, (exp.Round, exp.Trunc)):
        name = "ROUND" if isinstance(node, exp.Round) else "TRUNC"
        digits = node.args.get("decimals")
        if digits is None:
            return _call(name, node.this)
        if is_integer(node.this, infos):
            return _call(name, node.this, digits)
        return _double(_call(name, _numeric(node.this), _numeric_digits(digits)))
    if isinstance(node, exp.Mod):
        left, right = node.this, node.expression
        if is_integer(left, infos) and is_integer(right, infos):
            return _call("MOD", left, right)
        return _double(_call("MOD", _numeric(left), _numeric(right)))
    if isinstance(node, exp.Rand):
        return _call("RANDOM")
    if isinstance(node, (exp.EQ, exp.NEQ)):
        if _is_bool_column(node.this, infos):
            node.set("expression", _as_boolean(node.expression))
        elif _is_bool_column(node.expression, infos):
            node.set("this", _as_boolean(node.this))
    return node


def _numeric_digits(digits: exp.Expr) -> exp.Expr:
    """PostgreSQL's round(numeric, int) wants an integer number of digits."""
    return (
        digits
        if isinstance(digits, exp.Literal)
        else exp.Cast(this=digits, to=exp.DataType.build("INT"))
    )
