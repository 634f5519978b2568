"""Derive the published views' DDL and every TAP_SCHEMA row from ``xpha.yaml``.

The same facts (names, types, units, UCDs, descriptions, keys) are needed by the database, by
TAP_SCHEMA and, through TAP_SCHEMA, by VOSI ``/tables`` and the result FIELDs; writing them once
keeps them from drifting. The output is two ordinary migrations, committed like any other:
``python -m sql.published.render`` rewrites them and ``--check`` fails when they are stale.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DESCRIPTION = HERE / "xpha.yaml"
MIGRATIONS = HERE.parent / "migrations"
VIEWS_MIGRATION = MIGRATIONS / "041_published_views.sql"
ROWS_MIGRATION = MIGRATIONS / "043_tap_schema_rows.sql"
PUBLISHED = "xpha"  # the name used in xpha.yaml; rendered as the {published_schema} placeholder
VOTABLE_TYPES = {"boolean", "short", "int", "long", "float", "double", "char", "unicodeChar"}
HEADER = (
    "-- GENERATED from sql/published/xpha.yaml by `python -m sql.published.render`: do not edit.\n"
)


@dataclass(frozen=True)
class PublishedColumn:
    name: str
    datatype: str
    description: str
    sql: str | None = None
    arraysize: str | None = None
    unit: str | None = None
    ucd: str | None = None
    xtype: str | None = None
    indexed: bool = False
    principal: bool = False
    std: bool = False

    @property
    def size(self) -> int | None:
        """TAP_SCHEMA's deprecated integer ``size``: a fixed 1-D length, else NULL."""
        return int(self.arraysize) if self.arraysize and self.arraysize.isdigit() else None


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    description: str
    columns: list[PublishedColumn]
    source: str | None = None  # FROM clause of a view; None for a real table (TAP_SCHEMA's own)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Key:
    key_id: str
    from_table: str
    target_table: str
    columns: list[tuple[str, str]]
    description: str


@dataclass
class Schema:
    name: str
    description: str
    tables: list[Table] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)


def load_description(path: Path = DESCRIPTION) -> list[Schema]:
    """Parse and validate the YAML description (unknown datatypes, duplicate or dangling names)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    schemas: list[Schema] = []
    for raw_schema in document["schemas"]:
        schema = Schema(raw_schema["name"], _text(raw_schema["description"]))
        for raw in raw_schema["tables"]:
            columns = [_column(schema.name, raw["name"], c) for c in raw["columns"]]
            names = [c.name for c in columns]
            if len(set(names)) != len(names):
                raise ValueError(f"{path.name}: table {raw['name']} repeats a column name")
            table = Table(
                schema.name, raw["name"], _text(raw["description"]), columns, raw.get("from")
            )
            schema.tables.append(table)
        by_name = {t.name: t for t in schema.tables}
        for raw in raw_schema.get("keys", []):
            source, target = by_name.get(raw["from"]), by_name.get(raw["target"])
            if source is None or target is None:
                raise ValueError(f"{path.name}: key {raw['id']} names an unknown table")
            pairs = [(a, b) for a, b in raw["columns"]]
            for a, b in pairs:
                if a not in {c.name for c in source.columns} or b not in {
                    c.name for c in target.columns
                }:
                    raise ValueError(f"{path.name}: key {raw['id']} names an unknown column")
            schema.keys.append(
                Key(
                    f"{schema.name}.{raw['id']}",
                    source.qualified,
                    target.qualified,
                    pairs,
                    _text(raw["description"]),
                )
            )
        schemas.append(schema)
    return schemas


COLUMN_KEYS = {
    "name",
    "datatype",
    "description",
    "sql",
    "votable:arraysize",
    "ivoa:unit",
    "ivoa:ucd",
    "xtype",
    "tap:indexed",
    "tap:principal",
    "tap:std",
}


def _column(schema: str, table: str, raw: dict) -> PublishedColumn:
    unknown = set(raw) - COLUMN_KEYS
    if unknown:  # e.g. an unquoted comma in a flow mapping split a description
        raise ValueError(f"xpha.yaml: {schema}.{table}.{raw.get('name')}: unknown keys {unknown}")
    datatype = raw["datatype"]
    if datatype not in VOTABLE_TYPES:
        raise ValueError(f"xpha.yaml: {schema}.{table}.{raw['name']}: datatype {datatype!r}")
    arraysize = raw.get("votable:arraysize")
    return PublishedColumn(
        name=raw["name"],
        datatype=datatype,
        description=_text(raw["description"]),
        sql=raw.get("sql"),
        arraysize=None if arraysize is None else str(arraysize),
        unit=raw.get("ivoa:unit"),
        ucd=raw.get("ivoa:ucd"),
        xtype=raw.get("xtype"),
        indexed=bool(raw.get("tap:indexed", 0)),
        principal=bool(raw.get("tap:principal", 0)),
        std=bool(raw.get("tap:std", 0)),
    )


def _text(value: object) -> str:
    return " ".join(str(value).split())


def _schema_ref(name: str) -> str:
    return "{published_schema}" if name == PUBLISHED else name


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def render_views(schemas: list[Schema]) -> str:
    """DDL of the published views, their comments and the TAP role's grants."""
    out = [HEADER, "-- Published views: the only relations (with tap_schema) TAP can read.\n"]
    for schema in schemas:
        for table in schema.tables:
            if table.source is None:
                continue
            name = f"{_schema_ref(schema.name)}.{table.name}"
            select = ",\n       ".join(f"{c.sql or c.name} AS {c.name}" for c in table.columns)
            # Dropped and created, not replaced: a re-applied description may insert, drop or
            # reorder columns, which CREATE OR REPLACE refuses (see sql.database.migrate).
            out.append(f"\nDROP VIEW IF EXISTS {name};\n")
            out.append(f"CREATE VIEW {name} AS\nSELECT {select}\nFROM {table.source};\n")
            out.append(f"COMMENT ON VIEW {name} IS {_literal(table.description)};\n")
            for c in table.columns:
                out.append(f"COMMENT ON COLUMN {name}.{c.name} IS {_literal(c.description)};\n")
            out.append(f"GRANT SELECT ON {name} TO {{tap_role}};\n")
    return "".join(out)


def render_rows(schemas: list[Schema]) -> str:
    """Every TAP_SCHEMA row, replacing whatever was there."""
    out = [
        HEADER,
        "-- TAP_SCHEMA rows: the published schema and TAP_SCHEMA itself (std=1).\n",
        "DELETE FROM tap_schema.key_columns;\nDELETE FROM tap_schema.keys;\n",
        "DELETE FROM tap_schema.columns;\nDELETE FROM tap_schema.tables;\n",
        "DELETE FROM tap_schema.schemas;\n",
    ]
    table_index = 0
    for schema_index, schema in enumerate(schemas, start=1):
        ref = _schema_ref(schema.name)
        out.append(
            "\nINSERT INTO tap_schema.schemas (schema_name, description, utype, schema_index)"
            f" VALUES ({_literal(ref)}, {_literal(schema.description)}, NULL, {schema_index});\n"
        )
        for table in schema.tables:
            table_index += 1
            qualified = f"{ref}.{table.name}"
            kind = "view" if table.source else "table"
            out.append(
                "INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description,"
                f" utype, table_index) VALUES ({_literal(ref)}, {_literal(qualified)},"
                f" '{kind}', {_literal(table.description)}, NULL, {table_index});\n"
            )
            values = []
            for index, c in enumerate(table.columns, start=1):
                row = (
                    qualified,
                    c.name,
                    c.datatype,
                    c.arraysize,
                    c.xtype,
                    c.size,
                    c.description,
                    None,
                    c.unit,
                    c.ucd,
                    c.indexed,
                    c.principal,
                    c.std,
                    index,
                )
                values.append("(" + ", ".join(_literal(v) for v in row) + ")")
            out.append(
                "INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize,"
                ' xtype, "size", description, utype, unit, ucd, indexed, principal, std,'
                " column_index) VALUES\n  " + ",\n  ".join(values) + ";\n"
            )
        for key in schema.keys:
            key_id = key.key_id.replace(f"{PUBLISHED}.", "{published_schema}.", 1)
            source = key.from_table.replace(f"{PUBLISHED}.", "{published_schema}.", 1)
            target = key.target_table.replace(f"{PUBLISHED}.", "{published_schema}.", 1)
            out.append(
                "INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype)"
                f" VALUES ({_literal(key_id)}, {_literal(source)}, {_literal(target)},"
                f" {_literal(key.description)}, NULL);\n"
            )
            for a, b in key.columns:
                out.append(
                    "INSERT INTO tap_schema.key_columns (key_id, from_column, target_column)"
                    f" VALUES ({_literal(key_id)}, {_literal(a)}, {_literal(b)});\n"
                )
    return "".join(out)


def rendered() -> dict[Path, str]:
    """Each generated migration with the text it should have."""
    schemas = load_description()
    return {VIEWS_MIGRATION: render_views(schemas), ROWS_MIGRATION: render_rows(schemas)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the migrations are stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(path.name)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(f"stale, run `python -m sql.published.render`: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
