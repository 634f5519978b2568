"""ADQL in, PostgreSQL out: parse, check the allow-list, resolve names, rewrite, generate.

The SQL is generated from the checked tree with every identifier quoted, so nothing of the
client's text reaches PostgreSQL except through a node the allow-list admitted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from tap_service.adql import geometry
from tap_service.adql.dialect import parse
from tap_service.adql.errors import AdqlError
from tap_service.adql.functions import adql_semantics
from tap_service.adql.safety import check_tree
from tap_service.adql.scope import Resolver, output_name
from tap_service.catalog import Catalog, ColumnInfo

QUERY_NODES = (exp.Select, exp.Union, exp.Intersect, exp.Except)
POSTGRES = Dialect.get_or_raise("postgres")


@dataclass(frozen=True)
class OutputColumn:
    """One result column: its name and, for a plain column or a geometry, its metadata."""

    name: str
    source: ColumnInfo | None


@dataclass(frozen=True)
class Translation:
    """The SQL to run and the columns it returns, in order."""

    sql: str
    columns: tuple[OutputColumn, ...]  # shared by every request that repeats the query


@dataclass(frozen=True)
class Draft:
    """A translation whose cones (``geometry.fine_cones``) are still placeholders in its SQL,
    with where each stands: ``finish`` writes their covers in; a kept shape
    (``tap_service.adql.cone_shape``) writes in another centre's."""

    sql: str
    columns: tuple[OutputColumn, ...]
    cones: tuple[tuple[geometry.SpelledCone, geometry.Cone], ...]

    def finish(self) -> Translation:
        sql = self.sql
        for spelled, cone in self.cones:
            sql = spelled.spell(sql, cone.ra, cone.dec, cone.radius)
        return Translation(sql=sql, columns=self.columns)


def translate(
    adql: str,
    catalog: Catalog,
    *,
    row_limit: int | None = None,
    uploads: Mapping[str, str] | None = None,
    published_schema: str | None = None,
) -> Translation:
    """Translate one ADQL query; raises AdqlError (or AdqlSecurityError) naming the spot.

    Tables are read from TAP_SCHEMA and ``published_schema`` (default: the catalogue's).
    """
    return draft(
        adql, catalog, row_limit=row_limit, uploads=uploads, published_schema=published_schema
    ).finish()


def draft(
    adql: str,
    catalog: Catalog,
    *,
    row_limit: int | None = None,
    uploads: Mapping[str, str] | None = None,
    published_schema: str | None = None,
) -> Draft:
    """``translate`` up to the cones' covers (see :class:`Draft`)."""
    try:
        return _draft(adql, catalog, row_limit, uploads or {}, published_schema)
    except AdqlError as error:
        raise _located(error, adql) from None
    except RecursionError:
        raise AdqlError("the query is nested too deeply") from None


def _generate(node: exp.Expr) -> str:
    return POSTGRES.generate(
        node, copy=False, identify=True, comments=False, normalize_functions="lower"
    )


def _draft(
    adql: str,
    catalog: Catalog,
    row_limit: int | None,
    uploads: Mapping[str, str],
    published_schema: str | None,
) -> Draft:
    tree = parse(adql)
    check_tree(tree)
    schema = published_schema or catalog.published_schema
    resolver = Resolver(catalog, {"tap_schema", *([schema.lower()] if schema else [])}, uploads)
    resolver.query(tree, {}, None)
    infos = resolver.column_info
    tree = _rewrite(tree, lambda node: geometry.morph_predicate(node, infos), pre=True)
    outputs = _outputs(tree, infos)

    def to_postgres(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Identifier):
            return _normalised(node)
        if isinstance(node, exp.HexString):  # ADQL 2.1 hexadecimal literal
            return exp.Literal.number(int(node.this, 16))
        if isinstance(node, exp.Literal) and node.is_string and "\\" in node.this:
            return _without_backslashes(node.this)
        return adql_semantics(geometry.geometry_value(node) or node, infos)

    tree = _rewrite(tree, to_postgres)
    geometry.check_no_loose_geometry(tree)
    cones = geometry.fine_cones(tree)
    _apply_limit(tree, row_limit)
    sql = _generate(tree)
    spelled = tuple((geometry.spelled(cone, _generate), cone) for cone in cones)
    return Draft(sql=sql, columns=tuple(outputs), cones=spelled)


def _rewrite(
    root: exp.Expr, change: Callable[[exp.Expr], exp.Expr | None], pre: bool = False
) -> exp.Expr:
    """Apply ``change`` to every node, children first (or parents first, not descending into
    what was replaced, if ``pre``); None keeps a node. Iterative: long OR chains are deep."""
    order: list[exp.Expr] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if pre:
            replaced = change(node)
            if replaced is not None and replaced is not node:
                if node is root:
                    return replaced
                node.replace(replaced)
                continue
        else:
            order.append(node)
        stack.extend(node.iter_expressions())
    for node in reversed(order):
        replaced = change(node)
        if replaced is not None and replaced is not node:
            if node is root:
                root = replaced
            else:
                node.replace(replaced)
    return root


def _first_select(tree: exp.Expr) -> exp.Select:
    while not isinstance(tree, exp.Select):
        tree = tree.this
    return tree


def _outputs(tree: exp.Expr, infos: Mapping[int, ColumnInfo]) -> list[OutputColumn]:
    """Name every item of the outer select list uniquely; geometry items become DALI arrays."""
    select = _first_select(tree)
    items: list[exp.Expr] = []
    columns: list[OutputColumn] = []
    taken: set[str] = set()
    for item in select.expressions:
        if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            items.append(item)  # an upload of unknown shape: PostgreSQL names these columns
            columns.append(OutputColumn(name="*", source=None))
            continue
        value = item.this if isinstance(item, exp.Alias) else item
        name = output_name(item)
        info = infos.get(id(value))
        dali = geometry.dali_value(value)
        if dali is not None:
            value, info = dali
        unique = _unique(name, taken)
        items.append(exp.Alias(this=value, alias=exp.Identifier(this=unique, quoted=True)))
        columns.append(OutputColumn(name=unique, source=info))
    select.set("expressions", items)
    return columns


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate.lower())
    return candidate


def _without_backslashes(text: str) -> exp.Expr:
    """A string with backslashes as 'a' || chr(92) || 'b': the same value whatever the
    server's standard_conforming_strings, so a backslash can never escape a quote."""
    parts: list[exp.Expr] = []
    for i, piece in enumerate(text.split("\\")):
        if i:
            parts.append(exp.Anonymous(this="chr", expressions=[exp.Literal.number(92)]))
        if piece:
            parts.append(exp.Literal.string(piece))
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part)
    return exp.Paren(this=joined)


def _normalised(ident: exp.Identifier) -> exp.Identifier:
    """Unquoted ADQL names are case-insensitive: emit them in PostgreSQL's lower case."""
    if not ident.quoted:
        ident.set("this", ident.this.lower())
        ident.set("quoted", True)
    return ident


def _apply_limit(tree: exp.Expr, row_limit: int | None) -> None:
    """The outer LIMIT is min(TOP, row_limit) (the allow-list made TOP a whole number)."""
    limit = tree.args.get("limit")
    limits = [int(limit.expression.this)] if limit is not None else []
    if row_limit is not None:
        limits.append(row_limit)
    if limits:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(min(limits))))


def _located(error: AdqlError, adql: str) -> AdqlError:
    """Fill in line/column from the query text for errors that know only their token."""
    if error.line or not error.token:
        return error
    pattern = re.compile(
        r"(?<![A-Za-z0-9_])" + re.escape(error.token) + r"(?![A-Za-z0-9_])", re.IGNORECASE
    )
    match = pattern.search(adql)
    if match is None:
        return error
    line = adql.count("\n", 0, match.start()) + 1
    column = match.start() - (adql.rfind("\n", 0, match.start()) + 1) + 1
    return type(error)(error.reason, line, column, error.token)
