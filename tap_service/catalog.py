"""What the service publishes: TAP_SCHEMA's schemas, tables, columns and keys, read once per
catalogue load (``TapEngine.catalog()`` caches it).

It is the one model of TAP_SCHEMA in the service. The ADQL translator resolves every name
against it (never against the live database), so a table that TAP_SCHEMA does not describe
cannot be reached; the result writers take units, UCDs and descriptions from its
``ColumnInfo`` objects; VOSI ``/tables`` and the landing page list it, so ``/tables`` and
queries on TAP_SCHEMA (TOPCAT's two metadata paths) tell the same facts.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg


@dataclass(frozen=True)
class ColumnInfo:
    """One TAP_SCHEMA.columns row (VOTable datatype names; arraysize a string or None).

    ``name`` is the column's real name; ``published_name`` is how TAP_SCHEMA writes it
    (``'"size"'`` for a reserved word), when that differs.
    """

    name: str
    datatype: str = "char"
    arraysize: str | None = None
    unit: str | None = None
    ucd: str | None = None
    description: str | None = None
    xtype: str | None = None
    utype: str | None = None
    indexed: bool = False
    principal: bool = False
    std: bool = False
    published_name: str | None = None

    @property
    def tap_name(self) -> str:
        """The name as TAP_SCHEMA.columns.column_name holds it."""
        return self.published_name or self.name


@dataclass(frozen=True)
class ForeignKeyInfo:
    """One TAP_SCHEMA.keys row with its key_columns: (from column, target column) pairs."""

    target_table: str
    columns: tuple[tuple[str, str], ...]
    description: str | None = None
    utype: str | None = None


@dataclass
class TableInfo:
    """One TAP_SCHEMA.tables row with its columns, keyed by lower-case column name, and the
    foreign keys that start from it."""

    schema: str
    name: str
    description: str | None = None
    columns: dict[str, ColumnInfo] = field(default_factory=dict)
    table_type: str = "table"
    utype: str | None = None
    published_name: str | None = None  # TAP_SCHEMA.tables.table_name ("xpha.emitters")
    nrows: int | None = None  # counted when the data change (sql.published_statistics)
    foreign_keys: list[ForeignKeyInfo] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        """``schema.table`` in lower case: the key of this table in a :class:`Catalog`."""
        return f"{self.schema}.{self.name}".lower()

    @property
    def tap_name(self) -> str:
        """The name as TAP_SCHEMA.tables.table_name holds it (what VOSI lists)."""
        return self.published_name or f"{self.schema}.{self.name}"

    def column(self, name: str) -> ColumnInfo | None:
        """The column called ``name`` (case-insensitive), or None."""
        return self.columns.get(name.lower())


@dataclass(frozen=True)
class SchemaInfo:
    """One TAP_SCHEMA.schemas row."""

    name: str
    description: str | None = None
    utype: str | None = None


@dataclass
class Catalog:
    """Every published table, keyed by lower-case ``schema.table`` (in TAP_SCHEMA's listing
    order: ``table_index``, then name), the described schemas in their order, and the one
    data schema ADQL may read besides TAP_SCHEMA (``XPHA_PUBLISHED_SCHEMA``; None: only
    TAP_SCHEMA, whatever else the catalogue describes)."""

    tables: dict[str, TableInfo] = field(default_factory=dict)
    described_schemas: tuple[SchemaInfo, ...] = ()
    published_schema: str | None = None

    @classmethod
    def of(cls, tables: Iterable[TableInfo], published_schema: str | None = None) -> Catalog:
        """A catalogue holding ``tables``."""
        return cls({t.qualified: t for t in tables}, published_schema=published_schema)

    def table(self, qualified: str) -> TableInfo | None:
        """The table called ``schema.table`` (case-insensitive), or None."""
        return self.tables.get(qualified.lower())

    def schemas(self) -> set[str]:
        """The lower-case names of the schemas that hold published tables."""
        return {t.schema.lower() for t in self.tables.values()}

    def with_tables(self, tables: Iterable[TableInfo]) -> Catalog:
        """This catalogue plus ``tables`` (a request's uploads), itself unchanged; itself when
        there are none (what is kept per catalogue, as translations are, stays valid)."""
        extra = {t.qualified: t for t in tables}
        return dataclasses.replace(self, tables={**self.tables, **extra}) if extra else self

    def tableset(self) -> list[tuple[SchemaInfo, list[TableInfo]]]:
        """The described schemas with their tables, as VOSI and the landing page list them."""
        return [
            (schema, [t for t in self.tables.values() if t.schema == schema.name.lower()])
            for schema in self.described_schemas
        ]

    def published_table(self, tap_name: str) -> TableInfo | None:
        """The table TAP_SCHEMA.tables calls ``tap_name`` (case-insensitive), in a described
        schema, or None."""
        for _, tables in self.tableset():
            for table in tables:
                if table.tap_name.lower() == tap_name.lower():
                    return table
        return None


SCHEMAS_QUERY = """
SELECT schema_name, description, utype
FROM tap_schema.schemas
ORDER BY schema_index NULLS LAST, schema_name
"""

TABLES_QUERY = """
SELECT schema_name, table_name, table_type, description, utype, nrows
FROM tap_schema.tables
ORDER BY table_index NULLS LAST, table_name
"""

COLUMNS_QUERY = """
SELECT table_name, column_name, datatype, arraysize, unit, ucd, description, xtype, utype,
       indexed, principal, std
FROM tap_schema.columns
ORDER BY table_name, column_index NULLS LAST, column_name
"""

KEYS_QUERY = """
SELECT k.key_id, k.from_table, k.target_table, k.description, k.utype,
       c.from_column, c.target_column
FROM tap_schema.keys k JOIN tap_schema.key_columns c ON c.key_id = k.key_id
ORDER BY k.key_id, c.from_column
"""


def _flag(value: object) -> bool:
    """TAP_SCHEMA stores flags as integers 0/1 (TAP 1.1); accept booleans too."""
    return bool(value) if value is not None else False


def _table_key(schema: str, table_name: str) -> str:
    """TAP_SCHEMA.tables.table_name is usually qualified ("xpha.emitters"); key it so."""
    name = table_name.lower()
    return name if "." in name else f"{schema.lower()}.{name}"


def load_catalog(conn: psycopg.Connection, published_schema: str | None) -> Catalog:
    """Read TAP_SCHEMA (schemas, tables, columns, keys) into a :class:`Catalog` whose data
    schema is ``published_schema``."""
    schemas = tuple(
        SchemaInfo(name, description or None, utype or None)
        for name, description, utype in conn.execute(SCHEMAS_QUERY)
    )
    tables: dict[str, TableInfo] = {}
    for schema, table_name, table_type, description, utype, nrows in conn.execute(TABLES_QUERY):
        key = _table_key(schema, table_name)
        tables[key] = TableInfo(
            schema=schema.lower(),
            name=key.split(".", 1)[1],
            description=description or None,
            table_type=table_type or "table",
            utype=utype or None,
            published_name=table_name,
            nrows=nrows,
        )
    for row in conn.execute(COLUMNS_QUERY):
        table_name, column_name, datatype, arraysize, unit, ucd, description, xtype, utype = row[:9]
        indexed, principal, std = row[9:]
        table = _find_table(tables, table_name)
        if table is None:
            continue
        name = undelimited(column_name)
        table.columns[name.lower()] = ColumnInfo(
            name=name,
            datatype=datatype,
            arraysize=None if arraysize is None else str(arraysize),
            unit=unit or None,
            ucd=ucd or None,
            description=description or None,
            xtype=xtype or None,
            utype=utype or None,
            indexed=_flag(indexed),
            principal=_flag(principal),
            std=_flag(std),
            published_name=column_name if column_name != name else None,
        )
    _attach_keys(conn, tables)
    return Catalog(tables, schemas, published_schema)


def _attach_keys(conn: psycopg.Connection, tables: dict[str, TableInfo]) -> None:
    """TAP_SCHEMA.keys and key_columns, onto the tables they start from."""
    keys: dict[str, tuple[TableInfo, str, str | None, str | None, list[tuple[str, str]]]] = {}
    for key_id, from_table, target, description, utype, from_col, target_col in conn.execute(
        KEYS_QUERY
    ):
        table = _find_table(tables, from_table)
        if table is None:
            continue
        if key_id not in keys:
            keys[key_id] = (table, target, description or None, utype or None, [])
        keys[key_id][4].append((from_col, target_col))
    for table, target, description, utype, pairs in keys.values():
        table.foreign_keys.append(ForeignKeyInfo(target, tuple(pairs), description, utype))


def undelimited(name: str) -> str:
    """TAP_SCHEMA writes reserved words as delimited identifiers ('"size"'): the real name."""
    if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name


def _find_table(tables: dict[str, TableInfo], table_name: str) -> TableInfo | None:
    """The table a TAP_SCHEMA row names: by qualified name, or by bare name if unique."""
    found = tables.get(table_name.lower())
    if found is not None:
        return found
    matches = [t for t in tables.values() if t.name.lower() == table_name.lower()]
    return matches[0] if len(matches) == 1 else None


class CatalogCache:
    """The catalogue as last read, read again (by ``read``) once it is ``ttl_s`` old; safe to
    share between threads. ``on_reload`` runs after each read (caches that depend on it)."""

    def __init__(
        self,
        read: Callable[[], Catalog],
        ttl_s: float,
        on_reload: Callable[[], None] = lambda: None,
    ) -> None:
        self._read = read
        self.ttl_s = ttl_s
        self._on_reload = on_reload
        self._catalog: Catalog | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> Catalog:
        """The catalogue, read now if it never was or is stale."""
        with self._lock:
            if self._catalog is None or time.monotonic() - self._read_at > self.ttl_s:
                self._catalog = self._read()
                self._on_reload()
                self._read_at = time.monotonic()
            return self._catalog
