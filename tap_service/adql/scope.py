"""Name resolution: every table and column of the query checked against the catalogue.

Each SELECT is a scope whose sources are the tables, uploads, CTEs and derived tables of its
FROM clause. Every table reference is rewritten to the real relation under an explicit alias,
every column to ``alias.column`` with the catalogue's spelling, and ``*`` is expanded into the
columns it stands for, so that the SQL sent to PostgreSQL names nothing the client did not
and the output columns carry their TAP_SCHEMA metadata.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from tap_service.adql.errors import AdqlError, AdqlSecurityError, at_node
from tap_service.catalog import Catalog, ColumnInfo, TableInfo

QUERY_NODES = (exp.Select, exp.Union, exp.Intersect, exp.Except)
UPLOAD_SCHEMA = "tap_upload"


@dataclass
class Source:
    """One relation of a FROM clause, under the alias the SQL will use."""

    alias: str
    columns: list[tuple[str, ColumnInfo | None]] | None  # None: an upload of unknown shape
    schema: str | None = None
    table: str | None = None

    def find(self, ident: exp.Identifier) -> tuple[str, ColumnInfo | None] | None:
        if self.columns is None:
            return None
        for name, info in self.columns:
            if name == ident.this if ident.quoted else name.lower() == ident.this.lower():
                return name, info
        return None


@dataclass
class Scope:
    sources: list[Source] = field(default_factory=list)
    merged: set[str] = field(default_factory=set)  # USING / NATURAL columns (lower case)
    parent: Scope | None = None


def _error(message: str, node: exp.Expr, security: bool = False) -> AdqlError:
    line, column, token = at_node(node)
    return (AdqlSecurityError if security else AdqlError)(message, line, column, token)


def _same(ident: exp.Identifier | None, name: str) -> bool:
    if ident is None:
        return False
    return ident.this == name if ident.quoted else ident.this.lower() == name.lower()


def _key(ident: exp.Identifier) -> str:
    return ident.this if ident.quoted else ident.this.lower()


def _quoted(name: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=True)


class Resolver:
    """Resolves one query against a catalogue, the published schema and the uploads."""

    def __init__(
        self, catalog: Catalog, allowed_schemas: set[str], uploads: Mapping[str, str]
    ) -> None:
        self.catalog = catalog
        self.allowed_schemas = {s.lower() for s in allowed_schemas}
        self.uploads = {name.lower(): relation for name, relation in uploads.items()}
        self.column_info: dict[int, ColumnInfo] = {}  # id(Column node) -> its catalogue entry

    # --- queries --------------------------------------------------------------------------
    def query(
        self, node: exp.Expr, ctes: dict[str, Source], parent: Scope | None
    ) -> list[tuple[str, ColumnInfo | None]] | None:
        """Resolve a SELECT or set operation; returns its output columns (None if unknown)."""
        ctes = self._with(node, ctes, parent)
        if isinstance(node, exp.Select):
            return self._select(node, ctes, parent)
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            left = self.query(node.this, ctes, parent)
            right = self.query(node.expression, ctes, parent)
            if left is not None and right is not None and len(left) != len(right):
                raise _error(
                    f"{node.key.upper()} of queries with {len(left)} and {len(right)} columns",
                    node,
                )
            return left
        if isinstance(node, exp.Subquery):
            return self.query(node.this, ctes, parent)
        raise _error("expected a query", node)

    def _with(self, node: exp.Expr, ctes: dict[str, Source], parent: Scope | None) -> dict:
        with_ = node.args.get("with_")
        if not with_:
            return ctes
        ctes = dict(ctes)
        for cte in with_.expressions:
            columns = self.query(cte.this, ctes, parent)
            name = _key(cte.args["alias"].this)
            ctes[name] = Source(alias=name, columns=columns)
            cte.set("alias", exp.TableAlias(this=_quoted(name)))
        return ctes

    def _select(
        self, select: exp.Select, ctes: dict[str, Source], parent: Scope | None
    ) -> list[tuple[str, ColumnInfo | None]] | None:
        scope = Scope(parent=parent)
        from_ = select.args.get("from_")
        if from_ is not None:
            scope.sources.append(self._source(from_.this, ctes, parent))
        for join in select.args.get("joins") or []:
            source = self._source(join.this, ctes, parent)
            self._join_columns(join, scope, source)
            scope.sources.append(source)
        self._check_aliases(scope, select)
        self._expand_stars(select, scope)
        aliases = {_key(e.args["alias"]) for e in select.expressions if isinstance(e, exp.Alias)}
        for column, clause in self._own_columns(select, ctes, scope):
            may_be_alias = clause in ("order", "group", "having")
            self._column(column, scope, aliases if may_be_alias else set())
        return self._outputs(select, scope)

    def _check_aliases(self, scope: Scope, select: exp.Select) -> None:
        seen: set[str] = set()
        for source in scope.sources:
            if source.alias in seen:
                raise _error(f"table name or alias '{source.alias}' is used twice", select)
            seen.add(source.alias)

    # --- sources --------------------------------------------------------------------------
    def _source(self, node: exp.Expr, ctes: dict[str, Source], parent: Scope | None) -> Source:
        if isinstance(node, exp.Subquery):
            alias = node.args.get("alias")
            if alias is None or alias.this is None:
                raise _error("a subquery in FROM needs an alias (AS name)", node)
            columns = self.query(node.this, ctes, parent)
            name = _key(alias.this)
            node.set("alias", exp.TableAlias(this=_quoted(name)))
            return Source(alias=name, columns=columns)
        if not isinstance(node, exp.Table):
            raise _error("expected a table or a subquery", node)
        return self._table(node, ctes)

    def _table(self, table: exp.Table, ctes: dict[str, Source]) -> Source:
        name_ident: exp.Identifier = table.this
        if not isinstance(name_ident, exp.Identifier):  # FROM POINT(1, 2), FROM f(x)
            raise _error("only tables and subqueries may appear in FROM", table)
        schema_ident: exp.Identifier | None = table.args.get("db")
        alias_node = table.args.get("alias")
        alias = _key(alias_node.this) if alias_node is not None else None
        name = _key(name_ident)
        if schema_ident is None and name in ctes:
            source = ctes[name]
            alias = alias or name
            table.set("alias", exp.TableAlias(this=_quoted(alias)))
            table.set("this", _quoted(name))
            return Source(alias=alias, columns=source.columns, table=name)
        schema = _key(schema_ident).lower() if schema_ident is not None else None
        if schema == UPLOAD_SCHEMA:
            relation = self.uploads.get(name.lower())
            if relation is None:
                raise _error(f"unknown upload table 'TAP_UPLOAD.{name_ident.this}'", name_ident)
            described = self.catalog.table(f"{UPLOAD_SCHEMA}.{name}")
            columns: list[tuple[str, ColumnInfo | None]] | None = (
                [(c.name, c) for c in described.columns.values()] if described else None
            )
            self._point_at(table, relation)
            alias = alias or name.lower()
            table.set("alias", exp.TableAlias(this=_quoted(alias)))
            return Source(alias=alias, columns=columns, schema=UPLOAD_SCHEMA, table=name)
        info = self._catalog_table(schema, name_ident, schema_ident)
        if info.schema.lower() not in self.allowed_schemas:
            raise _error(
                f"schema '{info.schema}' is not published", schema_ident or table, security=True
            )
        table.set("db", _quoted(info.schema))
        table.set("this", _quoted(info.name))
        alias = alias or info.name
        table.set("alias", exp.TableAlias(this=_quoted(alias)))
        return Source(
            alias=alias,
            columns=[(c.name, c) for c in info.columns.values()],
            schema=info.schema,
            table=info.name,
        )

    def _catalog_table(
        self, schema: str | None, name_ident: exp.Identifier, schema_ident: exp.Identifier | None
    ) -> TableInfo:
        """The published table a FROM item names (schema optional when the name is unique)."""
        if schema is not None:
            if schema not in self.allowed_schemas and schema not in self.catalog.schemas():
                raise _error(
                    f"schema '{schema}' is not published", schema_ident or name_ident, security=True
                )
            for info in self.catalog.tables.values():
                if info.schema.lower() == schema and _same(name_ident, info.name):
                    return info
            shown = schema_ident.this if schema_ident is not None else schema
            raise _error(f"unknown table '{shown}.{name_ident.this}'", name_ident)
        matches = [t for t in self.catalog.tables.values() if _same(name_ident, t.name)]
        matches = [t for t in matches if t.schema.lower() in self.allowed_schemas]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise _error(f"table name '{name_ident.this}' is ambiguous; add its schema", name_ident)
        raise _error(f"unknown table '{name_ident.this}'", name_ident)

    @staticmethod
    def _point_at(table: exp.Table, relation: str) -> None:
        parts = relation.split(".")
        table.set("this", _quoted(parts[-1]))
        table.set("db", _quoted(parts[0]) if len(parts) > 1 else None)

    def _join_columns(self, join: exp.Join, scope: Scope, right: Source) -> None:
        using = join.args.get("using")
        if (join.args.get("method") or "").upper() == "NATURAL":
            left_names = {n.lower() for s in scope.sources for n, _ in (s.columns or [])}
            if right.columns is None or any(s.columns is None for s in scope.sources):
                raise _error("NATURAL JOIN needs tables whose columns are known", join)
            scope.merged |= {n.lower() for n, _ in right.columns if n.lower() in left_names}
        elif using:
            for ident in using:
                found_left = any(s.find(ident) or s.columns is None for s in scope.sources)
                if not found_left or not (right.find(ident) or right.columns is None):
                    raise _error(f"USING column '{ident.this}' is not in both tables", ident)
                scope.merged.add(ident.this.lower())
            join.set("using", [_quoted(_key(i)) for i in using])

    # --- columns --------------------------------------------------------------------------
    def _own_columns(
        self, select: exp.Select, ctes: dict[str, Source], scope: Scope
    ) -> Iterator[tuple[exp.Column, str]]:
        """Columns of this SELECT (with the clause they are in); nested queries resolved."""
        for key, value in select.args.items():
            if key in ("from_", "with_") or value is None:
                continue
            if key == "joins":
                values = [j.args.get("on") for j in value]
            else:
                values = value if isinstance(value, list) else [value]
            for child in values:
                if isinstance(child, exp.Expr):
                    yield from self._columns_in(child, key, ctes, scope)

    def _columns_in(
        self, node: exp.Expr, clause: str, ctes: dict[str, Source], scope: Scope
    ) -> Iterator[tuple[exp.Column, str]]:
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, QUERY_NODES):
                self.query(current, ctes, scope)
                continue
            if isinstance(current, exp.Column):
                yield current, clause
                continue
            stack.extend(current.iter_expressions())

    def _column(self, column: exp.Column, scope: Scope, aliases: set[str]) -> None:
        ident = column.this
        if isinstance(ident, exp.Star):
            return
        qualifier = column.args.get("table")
        if qualifier is None and column.args.get("db") is not None:
            raise _error("malformed column reference", column)
        current: Scope | None = scope
        while current is not None:
            if qualifier is not None:
                source = self._qualified_source(column, current)
                if source is not None:
                    return self._bind(column, source)
            else:
                if ident.this.lower() in current.merged and current is scope:
                    known = next((f for s in current.sources if (f := s.find(ident))), None)
                    name, info = known or (_key(ident), None)
                    column.set("this", _quoted(name))
                    if info is not None:
                        self.column_info[id(column)] = info
                    return None
                found = [s for s in current.sources if s.find(ident)]
                if len(found) > 1:
                    raise _error(
                        f"ambiguous column '{ident.this}' (in "
                        f"{' and '.join(s.alias for s in found)})",
                        ident,
                    )
                if found:
                    return self._bind(column, found[0])
                if current is scope and _key(ident) in aliases:
                    column.set("this", _quoted(_key(ident)))
                    return None
                unknown = [s for s in current.sources if s.columns is None]
                if len(unknown) == 1:
                    return self._bind(column, unknown[0])
            current = current.parent
        if qualifier is not None:
            raise _error(f"unknown table '{qualifier.this}' in column reference", qualifier)
        raise _error(f"unknown column '{ident.this}'", ident)

    def _qualified_source(self, column: exp.Column, scope: Scope) -> Source | None:
        qualifier: exp.Identifier = column.args["table"]
        schema: exp.Identifier | None = column.args.get("db")
        for source in scope.sources:
            if schema is not None:
                if (
                    source.schema
                    and _same(schema, source.schema)
                    and source.table
                    and _same(qualifier, source.table)
                ):
                    return source
            elif _same(qualifier, source.alias) or (
                source.table and source.alias == source.table and _same(qualifier, source.table)
            ):
                return source
        return None

    def _bind(self, column: exp.Column, source: Source) -> None:
        ident = column.this
        found = source.find(ident)
        if found is None and source.columns is not None:
            raise _error(f"unknown column '{ident.this}' in '{source.alias}'", ident)
        name, info = found if found else (_key(ident), None)
        new_ident = _quoted(name)
        new_ident.meta.update(ident.meta)
        column.set("this", new_ident)
        column.set("table", _quoted(source.alias))
        column.set("db", None)
        if info is not None:
            self.column_info[id(column)] = info

    # --- stars and outputs ----------------------------------------------------------------
    def _expand_stars(self, select: exp.Select, scope: Scope) -> None:
        expanded: list[exp.Expr] = []
        for item in select.expressions:
            if isinstance(item, exp.Star):
                expanded += self._star(scope.sources, scope, item)
            elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                source = self._qualified_source(item, scope)
                if source is None:
                    raise _error(f"unknown table '{item.args['table'].this}'", item)
                expanded += self._star([source], Scope(), item)
            else:
                expanded.append(item)
        select.set("expressions", expanded)

    def _star(self, sources: list[Source], scope: Scope, star: exp.Expr) -> list[exp.Expr]:
        if not sources:
            raise _error("SELECT * needs a FROM clause", star)
        if any(s.columns is None for s in sources):
            return [exp.Column(this=exp.Star(), table=_quoted(s.alias)) for s in sources]
        items: list[exp.Expr] = []
        emitted: set[str] = set()
        merged: dict[str, tuple[str, ColumnInfo | None]] = {}
        for source in sources:
            for name, info in source.columns or []:
                if name.lower() in scope.merged:
                    merged.setdefault(name.lower(), (name, info))
        for name, info in merged.values():
            column = exp.Column(this=_quoted(name))
            if info is not None:
                self.column_info[id(column)] = info
            items.append(column)
            emitted.add(name.lower())
        for source in sources:
            for name, info in source.columns or []:
                if name.lower() in emitted and name.lower() in scope.merged:
                    continue
                column = exp.Column(this=_quoted(name), table=_quoted(source.alias))
                if info is not None:
                    self.column_info[id(column)] = info
                items.append(column)
        return items

    def _outputs(
        self, select: exp.Select, scope: Scope
    ) -> list[tuple[str, ColumnInfo | None]] | None:
        outputs: list[tuple[str, ColumnInfo | None]] = []
        for item in select.expressions:
            if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                return None
            outputs.append((output_name(item), self.column_info.get(id(item))))
        return outputs


def output_name(item: exp.Expr) -> str:
    """The name PostgreSQL gives a select item (its alias, column or function name)."""
    if isinstance(item, exp.Alias):
        return item.alias
    if isinstance(item, exp.Column):
        return item.name
    if isinstance(item, exp.Cast):
        return output_name(item.this)
    if isinstance(item, exp.Anonymous):
        return item.name.lower()
    if isinstance(item, (exp.Func, exp.Mod)):
        return item.key.lower()
    return "col"
