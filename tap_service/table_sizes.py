"""How many rows each published table holds, cheaply enough for a page anyone can load.

The planner's estimate for a view is a guess about its plan, not its size (an empty view over
a join reads as hundreds of rows), so it is not used. Instead, per table or view, the base
tables it reads are looked up in the catalogue: when they are all small (or never analysed)
the rows are counted exactly, under a short time limit; when one is big, the statistics'
row count (``pg_class.reltuples``, leaf partitions summed) of the largest one is shown as an
estimate. A count over 220 million rows is never run.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

SMALL_TABLE_ROWS = 100_000  # up to this many rows in every base table, count exactly
COUNT_TIMEOUT_MS = 2000

# The base tables (and materialised views) a relation reads: itself, or what its view rule
# depends on; each with its leaf partitions' statistics row counts (-1: never analysed).
BASE_TABLE_ROWS = """
WITH base AS (
    SELECT c.oid, c.relkind FROM pg_class c
    WHERE c.oid = %(relation)s::regclass AND c.relkind IN ('r', 'p', 'm')
    UNION
    SELECT t.oid, t.relkind
    FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                    AND d.refclassid = 'pg_class'::regclass
    JOIN pg_class t ON t.oid = d.refobjid AND t.relkind IN ('r', 'p', 'm')
    WHERE r.ev_class = %(relation)s::regclass
), leaves AS (
    SELECT b.oid AS base, coalesce(p.relid, b.oid) AS leaf
    FROM base b
    LEFT JOIN LATERAL pg_partition_tree(b.oid) p ON b.relkind = 'p' AND p.isleaf
)
SELECT l.base, sum(greatest(k.reltuples, 0))::bigint, bool_or(k.reltuples < 0)
FROM leaves l JOIN pg_class k ON k.oid = l.leaf
GROUP BY l.base
"""


@dataclass(frozen=True)
class TableSize:
    """A row count: exact, or the statistics' estimate of the biggest table underneath."""

    rows: int
    exact: bool

    def __str__(self) -> str:
        return f"{self.rows:,}" if self.exact else f"~{self.rows:,}"


def table_size(
    conn: psycopg.Connection, qualified_name: str, small: int = SMALL_TABLE_ROWS
) -> TableSize | None:
    """The size of ``schema.table`` (a table or a view); None when it cannot be told cheaply."""
    schema, _, name = qualified_name.partition(".")
    relation = sql.Identifier(schema, name)
    try:
        with conn.transaction():
            bases = conn.execute(
                BASE_TABLE_ROWS, {"relation": relation.as_string(conn)}
            ).fetchall()
            biggest = max((rows for _, rows, _ in bases), default=0)
            if bases and biggest > small:
                return TableSize(biggest, exact=False)
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(COUNT_TIMEOUT_MS))
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(relation)).fetchone()
            return TableSize(int(count[0]), exact=True)  # type: ignore[index]  # count(*): one row
    except psycopg.Error:  # unreadable, or too slow to count: the page shows no size
        return None
