"""Q3C crossmatch of Gaia DR3 with the SDSS measurements and LAMOST entries, in the database.

Each survey entry gets its nearest Gaia source within the radius, at the survey's epoch (SDSS:
the MJD of the plate; LAMOST: J2000.0, assumed), with the number of Gaia candidates inside the
radius so that blends can be refused downstream. Re-running rebuilds the tables in one
transaction, so the result depends only on the current inputs and radius (idempotent).
The SQL is in ingest/labels_queries.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from ingest.labels_queries import MAX_EPOCH_GAP, candidate_pairs_sql, crossmatch_sql
from ingest.settings import IngestSettings, get_settings
from sql.database import connect, one_row
from sql.errors import XphaError
from sql.published_statistics import refresh_published_statistics

SURVEYS = ("sdss", "lamost")


@dataclass
class MatchReport:
    survey: str
    entries: int
    matched: int
    ambiguous: int
    seconds: float


def _params(
    conn: psycopg.Connection, survey: str, radius_arcsec: float, settings: IngestSettings
) -> dict[str, float]:
    if not radius_arcsec > 0:
        raise XphaError(f"--radius-arcsec must be positive, got {radius_arcsec}")
    max_dt = one_row(conn.execute(MAX_EPOCH_GAP[survey]))[0]
    return {
        "radius": float(radius_arcsec),
        "max_pm": float(settings.xmatch_max_pm_mas_yr),
        "max_dt": float(max_dt) + 1e-6,
    }


def crossmatch(
    survey: str,
    radius_arcsec: float | None = None,
    url: str | None = None,
    settings: IngestSettings | None = None,
) -> MatchReport:
    """Rebuild xmatch.gaia_<survey>: best Gaia match of every entry within the radius."""
    if survey not in SURVEYS:
        raise XphaError(f"unknown survey {survey!r}; choose one of {', '.join(SURVEYS)}")
    settings = settings or get_settings()
    table = {"sdss": "labels.sdss_spectra", "lamost": "labels.lamost_els"}[survey]
    start = time.perf_counter()
    with connect(url) as conn, conn.transaction():
        params = _params(conn, survey, radius_arcsec or settings.xmatch_radius_arcsec, settings)
        for statement in crossmatch_sql(survey):
            conn.execute(statement, params if "%(" in statement else None)
        entries = one_row(conn.execute(f"SELECT count(*) FROM {table}"))[0]
        matched, ambiguous = one_row(
            conn.execute(
                f"SELECT count(*), count(*) FILTER (WHERE n_candidates > 1) FROM xmatch.gaia_{survey}"
            )
        )
        refresh_published_statistics(conn, settings)  # the published labels follow
    return MatchReport(
        survey, int(entries), int(matched), int(ambiguous), time.perf_counter() - start
    )


def candidate_pairs(
    survey: str,
    radius_arcsec: float,
    url: str | None = None,
    settings: IngestSettings | None = None,
) -> list[tuple]:
    """Every (entry key..., source_id, survey_epoch, separation) pair within the radius."""
    settings = settings or get_settings()
    with connect(url) as conn:
        params = _params(conn, survey, radius_arcsec, settings)
        return conn.execute(candidate_pairs_sql(survey), params).fetchall()
