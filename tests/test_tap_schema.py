"""The published schema's one description, its generated migrations, and TAP_SCHEMA's truth.

Every TAP_SCHEMA column row must name a real column of a real relation whose PostgreSQL type
is what the declared VOTable datatype/arraysize promise; column_index runs 1..N; keys point
at existing columns. A stale generated migration fails here, not in production.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from tap_support import seed_field

from sql.published import render
from training.registry import set_current

# VOTable datatype -> the PostgreSQL types that may carry it (scalar form)
PG_TYPES = {
    "boolean": {"boolean"},
    "short": {"smallint"},
    "int": {"integer"},
    "long": {"bigint"},
    "float": {"real"},
    "double": {"double precision"},
    "char": {
        "text",
        "character varying",
        "timestamp with time zone",
        "timestamp without time zone",
    },
    "unicodeChar": {"text", "character varying"},
}


def test_generated_migrations_are_current() -> None:
    assert render.main(["--check"]) == 0, "run `python -m sql.published.render`"


def test_description_rejects_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "schemas:\n- name: xpha\n  description: d\n  tables:\n  - name: t\n    description: d\n"
        "    from: x\n    columns:\n    - {name: a, datatype: int, description: one, two}\n"
    )
    with pytest.raises(ValueError, match="unknown keys"):
        render.load_description(bad)
    bad.write_text(
        "schemas:\n- name: xpha\n  description: d\n  tables:\n  - name: t\n    description: d\n"
        "    from: x\n    columns:\n    - {name: a, datatype: integer, description: d}\n"
    )
    with pytest.raises(ValueError, match="datatype 'integer'"):
        render.load_description(bad)


def test_tap_schema_columns_match_the_database(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT c.table_name, c.column_name, c.datatype, c.arraysize, c.column_index,"
            " t.table_type FROM tap_schema.columns c JOIN tap_schema.tables t USING (table_name)"
            " ORDER BY c.table_name, c.column_index"
        ).fetchall()
        assert len(rows) > 100
        real = {
            (f"{s}.{t}", c): (dtype, udt)
            for s, t, c, dtype, udt in conn.execute(
                "SELECT table_schema, table_name, column_name, data_type, udt_name"
                " FROM information_schema.columns"
                " WHERE table_schema IN ('xpha', 'tap_schema')"
            )
        }
    by_table: dict[str, list[int]] = {}
    for table, column, datatype, arraysize, index, _ in rows:
        by_table.setdefault(table, []).append(index)
        physical = column.strip('"')
        assert (table, physical) in real, f"{table}.{column} is not a real column"
        pg_type, udt = real[(table, physical)]
        is_array = arraysize is not None and datatype not in ("char", "unicodeChar")
        if is_array:
            assert pg_type == "ARRAY", f"{table}.{column} declares arraysize {arraysize}"
            element = {
                "_float8": "double precision",
                "_float4": "real",
                "_int2": "smallint",
                "_int4": "integer",
                "_int8": "bigint",
                "_bool": "boolean",
            }[udt]
            assert element in PG_TYPES[datatype], f"{table}.{column}: {udt} vs {datatype}"
        else:
            assert pg_type in PG_TYPES[datatype], f"{table}.{column}: {pg_type} vs {datatype}"
    for table, indexes in by_table.items():
        assert indexes == list(range(1, len(indexes) + 1)), table
    declared = {(t, c.strip('"')) for t, c, *_ in rows}
    assert declared == set(real), "TAP_SCHEMA and the published relations differ"


def test_keys_point_at_declared_columns(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        broken = conn.execute(
            "SELECT k.key_id FROM tap_schema.keys k"
            " JOIN tap_schema.key_columns kc USING (key_id)"
            " WHERE NOT EXISTS (SELECT 1 FROM tap_schema.columns c"
            "   WHERE c.table_name = k.from_table AND c.column_name = kc.from_column)"
            " OR NOT EXISTS (SELECT 1 FROM tap_schema.columns c"
            "   WHERE c.table_name = k.target_table AND c.column_name = kc.target_column)"
        ).fetchall()
        n_keys = conn.execute("SELECT count(*) FROM tap_schema.keys").fetchone()[0]
    assert broken == []
    assert n_keys >= 10


def test_published_views_follow_the_current_model(db_url: str) -> None:
    """emitter_candidates shows the scores of the one current model, nothing else."""
    data = seed_field(db_url, 50, xp_rows=0)
    with psycopg.connect(db_url, autocommit=True) as conn:  # no transaction left open
        models = conn.execute("SELECT DISTINCT model_id FROM xpha.emitter_candidates").fetchall()
        assert models == [(data["current_model"],)]
        set_current(db_url, data["dae_model"])  # `xpha models set-current`
        models = conn.execute("SELECT DISTINCT model_kind FROM xpha.emitter_candidates").fetchall()
        assert models == [("dae_head",)]
