"""What ADQL can see: the tables and columns TAP_SCHEMA publishes, read once per catalogue load.

The ADQL translator resolves every name against this catalogue (never against the live
database), so a table that TAP_SCHEMA does not describe cannot be reached; the result writers
take units, UCDs and descriptions from the same ``ColumnInfo`` objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg


@dataclass(frozen=True)
class ColumnInfo:
    """One TAP_SCHEMA.columns row (VOTable datatype names; arraysize a string or None)."""

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


@dataclass
class TableInfo:
    """One TAP_SCHEMA.tables row with its columns, keyed by lower-case column name."""

    schema: str
    name: str
    description: str | None = None
    columns: dict[str, ColumnInfo] = field(default_factory=dict)

    @property
    def qualified(self) -> str:
        """``schema.table`` in lower case: the key of this table in a :class:`Catalog`."""
        return f"{self.schema}.{self.name}".lower()

    def column(self, name: str) -> ColumnInfo | None:
        """The column called ``name`` (case-insensitive), or None."""
        return self.columns.get(name.lower())


@dataclass
class Catalog:
    """Every published table, keyed by lower-case ``schema.table``."""

    tables: dict[str, TableInfo] = field(default_factory=dict)

    @classmethod
    def of(cls, tables: Iterable[TableInfo]) -> Catalog:
        """A catalogue holding ``tables``."""
        return cls({t.qualified: t for t in tables})

    def table(self, qualified: str) -> TableInfo | None:
        """The table called ``schema.table`` (case-insensitive), or None."""
        return self.tables.get(qualified.lower())

    def schemas(self) -> set[str]:
        """The lower-case names of the schemas that hold published tables."""
        return {t.schema.lower() for t in self.tables.values()}


TABLES_QUERY = """
SELECT schema_name, table_name, description
FROM tap_schema.tables
ORDER BY schema_name, table_name
"""

COLUMNS_QUERY = """
SELECT table_name, column_name, datatype, arraysize, unit, ucd, description, xtype, utype,
       indexed, principal, std
FROM tap_schema.columns
ORDER BY table_name, column_index NULLS LAST, column_name
"""


def _flag(value: object) -> bool:
    """TAP_SCHEMA stores flags as integers 0/1 (TAP 1.1); accept booleans too."""
    return bool(value) if value is not None else False


def _table_key(schema: str, table_name: str) -> str:
    """TAP_SCHEMA.tables.table_name is usually qualified ("xpha.emitters"); key it so."""
    name = table_name.lower()
    return name if "." in name else f"{schema.lower()}.{name}"


def load_catalog(conn: psycopg.Connection) -> Catalog:
    """Read TAP_SCHEMA.tables and TAP_SCHEMA.columns into a :class:`Catalog`."""
    tables: dict[str, TableInfo] = {}
    for schema, table_name, description in conn.execute(TABLES_QUERY):
        key = _table_key(schema, table_name)
        bare = key.split(".", 1)[1]
        tables[key] = TableInfo(schema=schema.lower(), name=bare, description=description)
    for row in conn.execute(COLUMNS_QUERY):
        table_name, column_name, datatype, arraysize, unit, ucd, description, xtype, utype = row[:9]
        indexed, principal, std = row[9:]
        table = tables.get(table_name.lower()) or _find_unqualified(tables, table_name)
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
        )
    return Catalog(tables)


def undelimited(name: str) -> str:
    """TAP_SCHEMA writes reserved words as delimited identifiers ('"size"'): the real name."""
    if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name


def _find_unqualified(tables: dict[str, TableInfo], table_name: str) -> TableInfo | None:
    """A columns row naming its table without a schema: match it by bare name if unique."""
    matches = [t for t in tables.values() if t.name.lower() == table_name.lower()]
    return matches[0] if len(matches) == 1 else None
