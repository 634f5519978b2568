"""The current candidates summarised for pictures: counts per sky cell, colour-magnitude cell
and H-alpha excess bin, each split by probability bin.

A picture of 220 million candidates cannot scan them per page view. One pass over
``{published}.emitter_candidates`` (whatever it is: a view or a serving table) when the data
change fills one small table (``stats.candidate_bins``); a picture at probability >= any bin edge is then a sum over
their rows (at most cells x bins: 49,152 x 24 for the sky). ``build`` runs inside the refresh
of the published statistics; the ``read_*`` functions are what the TAP service's landing page
calls, as the TAP role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
from psycopg import sql

SKY_LEVEL = 6  # HEALPix level of the sky cells: 49,152 cells of 0.84 deg^2
SOURCE_ID_SHIFT = 35 + 2 * (12 - SKY_LEVEL)  # source_id >> 35 is the level-12 nested pixel
# Finer at the top, where thresholds are chosen; a threshold snaps down to one of these.
PROBABILITY_EDGES = (*(round(0.05 * i, 2) for i in range(20)), 0.98, 0.99, 0.995, 0.999)
NO_VALUE = -1  # the bin of a NULL (no probability, colour, magnitude or excess)


@dataclass(frozen=True)
class Bins:
    """``count`` equal bins over [low, high); bin 0 is below, ``count + 1`` above (width_bucket)."""

    low: float
    high: float
    count: int

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.low, self.high, self.count + 1)

    def sql(self, expression: str) -> sql.Composable:
        return sql.SQL("coalesce(width_bucket({}::float8, {}, {}, {}), {})").format(
            sql.SQL(expression), self.low, self.high, self.count, NO_VALUE)


BP_RP = Bins(-1.0, 5.0, 120)  # mag, 0.05 wide
G_MAG = Bins(3.0, 21.0, 180)  # mag, 0.1 wide
EXCESS = Bins(-20.0, 100.0, 120)  # Angstrom, 1 wide

BUILD = """
WITH binned AS MATERIALIZED (
    SELECT GROUPING(cell, bp_rp_bin, excess_bin) AS grouping_set, cell, bp_rp_bin, g_bin,
           excess_bin, probability_bin, count(*) AS n, coalesce(sum(probability), 0) AS p_sum
    FROM (SELECT source_id >> {shift} AS cell, {bp_rp} AS bp_rp_bin, {g} AS g_bin,
                 {excess} AS excess_bin, probability,
                 coalesce(width_bucket(probability::float8, {edges}::float8[]), {none})
                     AS probability_bin
          FROM {candidates}) AS c
    GROUP BY GROUPING SETS ((cell, probability_bin), (bp_rp_bin, g_bin, probability_bin),
                            (excess_bin, probability_bin))
), stored AS (
    INSERT INTO stats.candidate_bins (picture, probability_bin, x, y, n, probability_sum)
    SELECT CASE grouping_set WHEN 3 THEN 'sky' WHEN 5 THEN 'cmd' ELSE 'excess' END,
           probability_bin, CASE grouping_set WHEN 3 THEN cell WHEN 5 THEN bp_rp_bin
                                              ELSE excess_bin END,
           CASE grouping_set WHEN 5 THEN g_bin ELSE 0 END, n, p_sum
    FROM binned
)
SELECT coalesce(sum(n), 0) FROM binned WHERE grouping_set = 3
"""
REMEMBER = sql.SQL("""
INSERT INTO stats.candidate_refresh (refreshed_at, model_id, model_name, n_rows, binning)
SELECT clock_timestamp(), m.model_id, m.kind || '-' || m.version, %(rows)s, %(bins)s
FROM (SELECT 1) AS one LEFT JOIN {models} AS m ON m.is_current
ON CONFLICT (singleton) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at,
    model_id = EXCLUDED.model_id, model_name = EXCLUDED.model_name, n_rows = EXCLUDED.n_rows,
    binning = EXCLUDED.binning
""")


def binning() -> dict:
    """The bins the aggregates were built with, stored beside them."""
    return {"sky_level": SKY_LEVEL, "probability_edges": list(PROBABILITY_EDGES),
            "bp_rp": vars(BP_RP), "g": vars(G_MAG), "excess": vars(EXCESS)}


def build(conn: psycopg.Connection, candidates: str) -> int:
    """Replace the aggregates by one pass over ``candidates`` (schema.name); its row count."""
    schema, _, name = candidates.partition(".")
    conn.execute("DELETE FROM stats.candidate_bins")
    statement = sql.SQL(BUILD).format(
        shift=SOURCE_ID_SHIFT, bp_rp=BP_RP.sql("bp_rp"), g=G_MAG.sql("phot_g_mean_mag"),
        excess=EXCESS.sql("halpha_excess_ew"), edges=list(PROBABILITY_EDGES), none=NO_VALUE,
        candidates=sql.Identifier(schema, name))
    rows = int(conn.execute(statement).fetchone()[0])  # type: ignore[index]
    conn.execute(REMEMBER.format(models=sql.Identifier(schema, "models")),
                 {"rows": rows, "bins": json.dumps(binning())})
    return rows


# --- reading, as the landing page does ------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """What the aggregates describe: the cache key of every picture drawn from them."""

    refreshed_at: datetime
    model_name: str | None
    n_rows: int


def read_summary(conn: psycopg.Connection) -> Summary | None:
    """When the aggregates were built and from what; None before the first refresh."""
    row = conn.execute(
        "SELECT refreshed_at, model_name, n_rows FROM stats.candidate_refresh").fetchone()
    return None if row is None else Summary(row[0], row[1], int(row[2]))


def threshold_bin(threshold: float) -> tuple[int, float]:
    """The first probability bin at or above the edge ``threshold`` snaps down to, and that edge."""
    index = int(np.searchsorted(PROBABILITY_EDGES, threshold, side="right")) - 1
    index = max(index, 0)
    return index + 1, PROBABILITY_EDGES[index]


def read_sky(conn: psycopg.Connection, first_bin: int) -> tuple[np.ndarray, np.ndarray]:
    """(cells, counts) of candidates in probability bins >= ``first_bin``, level SKY_LEVEL."""
    rows = conn.execute(
        "SELECT x, sum(n) FROM stats.candidate_bins WHERE picture = 'sky'"
        " AND probability_bin >= %s GROUP BY x",
        (first_bin,)).fetchall()
    cells = np.array([r[0] for r in rows], dtype=np.int64)
    return cells, np.array([r[1] for r in rows], dtype=np.int64)


def read_cmd(conn: psycopg.Connection, first_bin: int) -> dict[str, np.ndarray]:
    """Per colour-magnitude cell (bins 1..count only): all sources, and those >= the threshold
    with their summed probability."""
    shape = (BP_RP.count + 2, G_MAG.count + 2)
    grids = {k: np.zeros(shape) for k in ("all", "above", "probability_sum")}
    for c, g, n, p_sum, above in conn.execute(
        "SELECT x, y, sum(n), sum(probability_sum) FILTER (WHERE probability_bin >= %(b)s),"
        " sum(n) FILTER (WHERE probability_bin >= %(b)s) FROM stats.candidate_bins"
        " WHERE picture = 'cmd' AND x >= 0 AND y >= 0 GROUP BY x, y", {"b": first_bin}):
        grids["all"][c, g] = n
        grids["above"][c, g] = above or 0
        grids["probability_sum"][c, g] = p_sum or 0.0
    return {k: v[1:-1, 1:-1] for k, v in grids.items()}


def read_excess(conn: psycopg.Connection, first_bin: int) -> dict[str, np.ndarray | int]:
    """The H-alpha excess histogram (bins 0..count+1 with under/overflow) of all sources and
    of those >= the threshold; ``unmeasured``: rows without an excess."""
    counts = {k: np.zeros(EXCESS.count + 2, dtype=np.int64) for k in ("all", "above")}
    unmeasured = 0
    for excess_bin, n, above in conn.execute(
        "SELECT x, sum(n), sum(n) FILTER (WHERE probability_bin >= %s)"
        " FROM stats.candidate_bins WHERE picture = 'excess' GROUP BY x", (first_bin,)):
        if excess_bin == NO_VALUE:
            unmeasured = int(n)
            continue
        counts["all"][excess_bin] = n
        counts["above"][excess_bin] = above or 0
    return {**counts, "unmeasured": unmeasured}
