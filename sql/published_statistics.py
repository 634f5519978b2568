"""True sizes of the published relations, counted when their data change.

A view's planner estimate or its base table's statistics is not what the view returns (the
landing page once showed ~476,000 candidates for a current model that had scored 119,000).
``refresh_published_statistics(conn)`` is called where data change (ingest, scoring,
set-current, migrate); it counts each published relation (``SELECT count(*)``) whose data may
have changed since its last count, stores the counts in ``stats.published_sizes`` and publishes
them as ``tap_schema.tables.nrows``, which VOSI ``/tables`` and the landing page read. When
``emitter_candidates`` is recounted, the same single pass rebuilds the candidates' picture
aggregates (:mod:`sql.candidate_summary`).

What may have changed is known without counting: statement-level triggers on every table a
published relation reads (through any depth of views) and on published relations that are
tables log each write statement to ``stats.changes``; a relation that reads another relation
than last time (dropped and created again, a serving table swapped in: another oid) or was
never counted is counted too, and TAP_SCHEMA's own few hundred rows every time. So
an ingest of XP spectra recounts ``xp_continuous``, not 220 million scores, and a caller never
has to say what it changed. The triggers are installed here, for whatever the published
relations read today; a write before they exist is caught by the never-counted rule.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from sql import candidate_summary
from sql.settings import Settings, get_settings

REFRESH_LOCK = 7_341_015  # pg_advisory_xact_lock key: one refresh at a time
TRIGGER = "xpha_published_change"
CANDIDATES = "emitter_candidates"
ALWAYS_COUNTED_SCHEMA = "tap_schema"

# Each published relation with every relation it reads, itself included, through any depth of
# views (a view reads what its rewrite rule depends on).
DEPENDENCIES = """
WITH RECURSIVE published AS (
    SELECT t.table_name, to_regclass(t.table_name) AS relation FROM tap_schema.tables t
), reads (table_name, relation) AS (
    SELECT table_name, relation::oid FROM published WHERE relation IS NOT NULL
    UNION
    SELECT r.table_name, d.refobjid
    FROM reads r
    JOIN pg_rewrite w ON w.ev_class = r.relation
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.relation
)
SELECT r.table_name, r.relation, n.nspname, c.relname, c.relkind,
       EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = r.relation AND g.tgname = %s)
FROM reads r JOIN pg_class c ON c.oid = r.relation JOIN pg_namespace n ON n.oid = c.relnamespace
"""


@dataclass
class RefreshReport:
    """What a refresh counted (table name -> rows) and how long it took."""

    counted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Relation:
    """What a published relation reads (itself included): names, and their oids, whose change
    (a relation dropped and created again, a table swapped in) means a recount."""

    reads: set[str] = field(default_factory=set)
    oids: set[int] = field(default_factory=set)

    @property
    def fingerprint(self) -> list[int]:
        return sorted(self.oids)


def refresh_published_statistics(
    conn: psycopg.Connection, settings: Settings | None = None
) -> RefreshReport:
    """Recount every published relation whose data may have changed; publish the counts.

    Runs in the connection's transaction (a savepoint inside one the caller holds, so its own
    uncommitted writes are counted and committed with it) or in a transaction of its own.
    """
    settings = settings or get_settings()
    start = time.perf_counter()
    report = RefreshReport()
    with conn.transaction():
        # Triggers first: creating one waits for writers of that table to commit, which must
        # never happen while holding the lock that another writer's own refresh waits for.
        relations = _published_relations(conn)
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (REFRESH_LOCK,))
        changes = conn.execute("SELECT id, relation FROM stats.changes").fetchall()
        changed = {relation for _, relation in changes}
        counted: dict[str, object] = dict(
            conn.execute("SELECT table_name, reads FROM stats.published_sizes")
        )
        candidates = f"{settings.published_schema}.{CANDIDATES}"
        stale_bins = not candidate_summary.built_with_these_bins(conn)
        for name, relation in relations.items():
            if not (
                relation.reads & changed
                or counted.get(name) != relation.fingerprint
                or name.startswith(ALWAYS_COUNTED_SCHEMA + ".")
                or (name == candidates and stale_bins)
            ):
                continue
            if name == candidates:
                rows = candidate_summary.build(conn, name)
            else:
                schema, _, table = name.partition(".")
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
                rows = int(conn.execute(query).fetchone()[0])  # type: ignore[index]  # count(*): one row
            conn.execute(
                "INSERT INTO stats.published_sizes (table_name, reads, nrows)"
                " VALUES (%s, %s::oid[], %s) ON CONFLICT (table_name) DO UPDATE SET"
                " reads = EXCLUDED.reads, nrows = EXCLUDED.nrows, counted_at = now()",
                (name, relation.fingerprint, rows),
            )
            report.counted[name] = rows
        conn.execute(
            "DELETE FROM stats.published_sizes s WHERE NOT EXISTS"
            " (SELECT 1 FROM tap_schema.tables t WHERE t.table_name = s.table_name)"
        )
        conn.execute(
            "UPDATE tap_schema.tables t SET nrows = s.nrows FROM stats.published_sizes s"
            " WHERE s.table_name = t.table_name AND t.nrows IS DISTINCT FROM s.nrows"
        )
        conn.execute("DELETE FROM stats.changes WHERE id = ANY(%s)", ([i for i, _ in changes],))
    report.seconds = time.perf_counter() - start
    return report


def _published_relations(conn: psycopg.Connection) -> dict[str, _Relation]:
    """Each published relation with what it reads; installs the missing change triggers."""
    relations: dict[str, _Relation] = {}
    installed: set[str] = set()
    for name, oid, schema, table, kind, has_trigger in conn.execute(DEPENDENCIES, (TRIGGER,)):
        reads = f"{schema}.{table}"
        relation = relations.setdefault(name, _Relation())
        relation.reads.add(reads)
        relation.oids.add(oid)
        if (
            kind in ("r", "p")
            and not has_trigger
            and reads not in installed
            and schema != ALWAYS_COUNTED_SCHEMA
        ):
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {}"
                    " FOR EACH STATEMENT EXECUTE FUNCTION stats.log_change()"
                ).format(sql.Identifier(TRIGGER), sql.Identifier(schema, table))
            )
            installed.add(reads)
    return relations
