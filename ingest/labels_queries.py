"""Every SQL statement of the labels part (SDSS measurements, LAMOST entries, crossmatch, summary).

Kept together so the crossmatch logic can be read in one place: the Gaia position is carried
from its ref_epoch (2016.0) to the survey epoch with pmra/pmdec (linear motion on the sky,
pmra already includes cos(dec)); Q3C finds candidates within the radius plus the largest
motion possible over the epoch difference, and the exact distance to the propagated position
decides. Sources faster than HIGH_PM_MAS_YR (a tiny fraction, found through their own partial
Q3C index, migration 011) are matched the other way round: each probes the survey table's Q3C
index out to the distance the fastest star covers over the survey's largest epoch gap.
"""

from __future__ import annotations

HIGH_PM_MAS_YR = 100.0  # must match the partial index predicate in 011_labels_line_flux.sql
GAIA_EPOCH = 2016.0

# --- SDSS measurements --------------------------------------------------------------------------
SDSS_COLUMNS = (
    "spec_id",
    "plate",
    "mjd",
    "fiber",
    "specobjid",
    "file_name",
    "file_sha256",
    "class",
    "subclass",
    "z",
    "z_err",
    "z_warning",
    "sn_median",
    "ra",
    "dec",
    "status",
    "reason",
    "ew_halpha",
    "ew_halpha_err",
    "ew_model",
    "ew_model_err",
    "peak_sigma",
    "peak_model_sigma",
    "continuum",
    "continuum_snr",
    "line_flux",
    "n_line_pix",
    "n_bad_pix",
    "flags",
    "is_emitter",
    "label",
    "label_reason",
    "ew_window",
    "ew_narrow",
    "ew_narrow_err",
    "ew_broad",
    "ew_broad_err",
    "line_sigma",
)
SDSS_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS sdss_stage"
    " (LIKE labels.sdss_spectra INCLUDING DEFAULTS EXCLUDING GENERATED) ON COMMIT DELETE ROWS"
)
_updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in SDSS_COLUMNS if c != "spec_id")
SDSS_UPSERT = (
    f"INSERT INTO labels.sdss_spectra ({', '.join(SDSS_COLUMNS)})"
    f" SELECT DISTINCT ON (spec_id) {', '.join(SDSS_COLUMNS)} FROM sdss_stage"
    f" ORDER BY spec_id"
    f" ON CONFLICT (spec_id) DO UPDATE SET {_updates}, measured_at = now()"
)

# --- LAMOST catalogue entries ------------------------------------------------------------------
LAMOST_COLUMNS = (
    "catalogue",
    "entry_id",
    "ra",
    "dec",
    "epoch",
    "obj_class",
    "halpha_type",
    "is_stellar",
    "is_emitter",
    "label",
    "file_name",
    "extra",
)
LAMOST_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS lamost_stage"
    " (LIKE labels.lamost_els INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
LAMOST_UPSERT = (
    f"INSERT INTO labels.lamost_els ({', '.join(LAMOST_COLUMNS)})"
    f" SELECT DISTINCT ON (catalogue, entry_id) {', '.join(LAMOST_COLUMNS)} FROM lamost_stage"
    f" ORDER BY catalogue, entry_id"
    " ON CONFLICT (catalogue, entry_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in LAMOST_COLUMNS[2:])
)


# --- crossmatch --------------------------------------------------------------------------------
def _propagated(epoch: str) -> tuple[str, str]:
    """SQL for the Gaia ra/dec carried to ``epoch`` (unchanged where the motion is unknown)."""
    dt = f"({epoch} - g.ref_epoch)"
    moving = "g.pmra IS NOT NULL AND g.pmdec IS NOT NULL"
    ra = f"CASE WHEN {moving} THEN g.ra + g.pmra * {dt} / 3600000.0 / cos(radians(g.dec)) ELSE g.ra END"
    dec = f"CASE WHEN {moving} THEN g.dec + g.pmdec * {dt} / 3600000.0 ELSE g.dec END"
    return ra, dec


def candidate_pairs_sql(survey: str) -> str:
    """Every (survey entry, Gaia source) pair within %(radius)s arcsec at the survey epoch.

    Parameters: radius (arcsec), max_pm (mas/yr), max_dt (the survey's largest |epoch - 2016|,
    years; see MAX_EPOCH_GAP). Columns: the survey key(s), source_id, survey_epoch, sep_arcsec.
    """
    if survey == "sdss":
        table, keys = "labels.sdss_spectra", "s.spec_id"
        where = "s.ra IS NOT NULL AND s.dec IS NOT NULL"
    elif survey == "lamost":
        table, keys = "labels.lamost_els", "s.catalogue, s.entry_id"
        where = "true"
    else:
        raise ValueError(survey)
    ra, dec = _propagated("s.epoch")
    high = f"g.pmra * g.pmra + g.pmdec * g.pmdec > {HIGH_PM_MAS_YR * HIGH_PM_MAS_YR}"
    drift = f"abs(s.epoch - {GAIA_EPOCH}) / 3600000.0"
    return f"""
    WITH candidates AS (
        SELECT {keys}, g.source_id, s.epoch AS survey_epoch,
               q3c_dist(s.ra, s.dec, {ra}, {dec}) * 3600.0 AS sep_arcsec
        FROM {table} s
        JOIN gaia.source g
          ON q3c_join(s.ra, s.dec, g.ra, g.dec,
                      %(radius)s / 3600.0 + {HIGH_PM_MAS_YR} * {drift})
        WHERE {where} AND NOT coalesce({high}, false)
        UNION ALL
        -- fast movers: few, so each probes the survey's own Q3C index out to the distance the
        -- fastest star covers over the largest epoch difference (max_dt years)
        SELECT {keys}, g.source_id, s.epoch AS survey_epoch,
               q3c_dist(s.ra, s.dec, {ra}, {dec}) * 3600.0 AS sep_arcsec
        FROM gaia.source g
        JOIN {table} s
          ON q3c_join(g.ra, g.dec, s.ra, s.dec,
                      %(radius)s / 3600.0 + %(max_pm)s * %(max_dt)s / 3600000.0)
        WHERE {where} AND {high}
    )
    SELECT * FROM candidates WHERE sep_arcsec <= %(radius)s
    """


MAX_EPOCH_GAP = {
    survey: f"SELECT coalesce(max(abs(epoch - {GAIA_EPOCH})), 0) FROM {table}"
    for survey, table in (("sdss", "labels.sdss_spectra"), ("lamost", "labels.lamost_els"))
}


def crossmatch_sql(survey: str) -> list[str]:
    """Statements (one transaction) that rebuild the survey's best-match table."""
    pairs = candidate_pairs_sql(survey)
    if survey == "sdss":
        return [
            "DELETE FROM xmatch.gaia_sdss",
            f"""
            INSERT INTO xmatch.gaia_sdss (spec_id, source_id, separation_arcsec, n_candidates,
                                          radius_arcsec, survey_epoch)
            SELECT DISTINCT ON (spec_id) spec_id, source_id, sep_arcsec,
                   count(*) OVER (PARTITION BY spec_id), %(radius)s, survey_epoch
            FROM ({pairs}) p
            ORDER BY spec_id, sep_arcsec, source_id
            """,
        ]
    return [
        "DELETE FROM xmatch.gaia_lamost",
        f"""
        INSERT INTO xmatch.gaia_lamost (catalogue, entry_id, source_id, separation_arcsec,
                                        n_candidates, radius_arcsec, survey_epoch)
        SELECT DISTINCT ON (catalogue, entry_id) catalogue, entry_id, source_id, sep_arcsec,
               count(*) OVER (PARTITION BY catalogue, entry_id), %(radius)s, survey_epoch
        FROM ({pairs}) p
        ORDER BY catalogue, entry_id, sep_arcsec, source_id
        """,
    ]


# --- summary -----------------------------------------------------------------------------------
SUMMARY = {
    "sdss spectra": "SELECT status || coalesce(', ' || ew_window || ' window', ''),"
    " coalesce(label, '-'), count(*) FROM labels.sdss_spectra GROUP BY 1, 2 ORDER BY 1, 2",
    "lamost entries": "SELECT catalogue, coalesce(label, '-') || CASE WHEN is_stellar THEN ''"
    " ELSE ' (nebular)' END, count(*) FROM labels.lamost_els GROUP BY 1, 2 ORDER BY 1, 2",
    "sdss matches": "SELECT 'n_candidates=' || least(n_candidates, 3)::text"
    " || CASE WHEN n_candidates >= 3 THEN '+' ELSE '' END, '', count(*)"
    " FROM xmatch.gaia_sdss GROUP BY 1 ORDER BY 1",
    "lamost matches": "SELECT catalogue, 'n_candidates=' || least(n_candidates, 3)::text,"
    " count(*) FROM xmatch.gaia_lamost GROUP BY 1, 2 ORDER BY 1, 2",
    "training labels": "SELECT label, CASE WHEN conflict THEN 'conflict' ELSE '' END, count(*)"
    " FROM labels.source_evidence GROUP BY 1, 2"
    " UNION ALL SELECT 'gaia sources (estimate)', '', sum(greatest(c.reltuples, 0))::bigint"
    " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " WHERE i.inhparent = 'gaia.source'::regclass ORDER BY 1, 2",
}
