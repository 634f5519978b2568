"""SQLAlchemy Core tables of the published schema, generated from its one description.

``sql/published/xpha.yaml`` already generates the views and every TAP_SCHEMA row; building the
``Table`` objects from it too means a Python query and an ADQL query see the same names, types,
units and descriptions, and neither can drift from the other. Nothing here is written per
column. Each column carries its unit, UCD and description in ``Column.info`` (and the
description as its comment), which :mod:`sql.alchemy.frames` hands on to pandas and astropy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, Column, Integer, MetaData, SmallInteger, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, REAL, TIMESTAMP
from sqlalchemy.types import TypeEngine

from sql.published import render
from sql.settings import Settings, get_settings

SCALAR_TYPES: dict[str, type[TypeEngine]] = {
    "boolean": Boolean,
    "short": SmallInteger,
    "int": Integer,
    "long": BigInteger,
    "float": REAL,
    "double": DOUBLE_PRECISION,
    "char": Text,
    "unicodeChar": Text,
}
TEXT_TYPES = ("char", "unicodeChar")


def column_type(column: render.PublishedColumn) -> TypeEngine:
    """The SQL type a declared VOTable datatype/arraysize/xtype stands for."""
    if column.xtype == "timestamp":
        return TIMESTAMP(timezone=True)
    scalar = SCALAR_TYPES[column.datatype]()
    if column.arraysize and column.datatype not in TEXT_TYPES:
        return ARRAY(scalar, dimensions=1)
    return scalar


def _column(described: render.PublishedColumn) -> Column:
    name = described.name.strip('"')  # TAP_SCHEMA's delimited "size" is the column size
    return Column(
        name,
        column_type(described),
        quote=True if name != described.name else None,
        comment=described.description,
        info={"unit": described.unit, "ucd": described.ucd, "description": described.description},
    )


@dataclass(frozen=True)
class PublishedTables:
    """The published tables as SQLAlchemy ``Table`` objects: ``tables.emitter_candidates``
    (the published schema) and ``tables["tap_schema.columns"]`` (any, by qualified name)."""

    metadata: MetaData
    schema: str

    def __getattr__(self, name: str) -> Table:
        key = f"{self.schema}.{name}"
        if name.startswith("_") or key not in self.metadata.tables:
            raise AttributeError(f"the published schema {self.schema!r} has no table {name!r}")
        return self.metadata.tables[key]

    def __getitem__(self, qualified_name: str) -> Table:
        return self.metadata.tables[qualified_name]

    def __iter__(self) -> Iterator[Table]:
        return iter(self.metadata.tables.values())


def published_tables(settings: Settings | None = None) -> PublishedTables:
    """Every table of the description; the published schema under its configured name."""
    settings = settings or get_settings()
    metadata = MetaData()
    for described_schema in render.load_description():
        schema = (
            settings.published_schema
            if described_schema.name == render.PUBLISHED
            else described_schema.name
        )
        for described in described_schema.tables:
            Table(
                described.name,
                metadata,
                *(_column(c) for c in described.columns),
                schema=schema,
                comment=described.description,
            )
    return PublishedTables(metadata, settings.published_schema)
