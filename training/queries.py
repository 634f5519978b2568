"""Every SQL statement of the training package, in one place."""

from __future__ import annotations

from psycopg import sql

NAN_F8_55 = "array_fill('NaN'::float8, ARRAY[55])"
NAN_F4_55 = "array_fill('NaN'::real, ARRAY[55])"

# Rows per HEALPix cell at one level: the plan that Dask partitions follow.
CELL_COUNTS = (
    "SELECT source_id >> %s AS cell, count(*) FROM gaia.xp_continuous GROUP BY 1 ORDER BY 1"
)

RELATION_EXISTS = "SELECT to_regclass(%s) IS NOT NULL"


def feed_copy(
    labels_relation: str | None, truth_relation: str | None, truth_parent: bool = False
) -> sql.Composed:
    """COPY one source_id range as fixed-width binary rows (NULL becomes NaN / -1)."""
    return sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(
        feed_select(labels_relation, truth_relation, truth_parent)
    )


def feed_select(
    labels_relation: str | None, truth_relation: str | None, truth_parent: bool = False
) -> sql.Composed:
    """The rows of one source_id range (``lo``, ``hi``), ordered by source_id.

    Labels that conflict, or disagree between rows of the same source, count as unlabelled.
    """
    columns = [
        sql.SQL("x.source_id"),
        sql.SQL(f"coalesce(x.bp_coefficients, {NAN_F8_55})"),
        sql.SQL(f"coalesce(x.bp_coefficient_errors, {NAN_F4_55})"),
        sql.SQL(f"coalesce(x.rp_coefficients, {NAN_F8_55})"),
        sql.SQL(f"coalesce(x.rp_coefficient_errors, {NAN_F4_55})"),
        sql.SQL("coalesce(s.phot_g_mean_flux, 'NaN')"),
        sql.SQL("coalesce(s.phot_g_mean_mag, 'NaN')::real"),
        sql.SQL("coalesce(s.bp_rp, 'NaN')::real"),
    ]
    # Every joined relation is cut to the range itself: PostgreSQL does not carry the range
    # on x through the join, and without it each partition scanned all of gaia.source.
    joins = [
        sql.SQL(
            "LEFT JOIN (SELECT source_id, phot_g_mean_flux, phot_g_mean_mag, bp_rp FROM gaia.source"
            " WHERE source_id >= {lo} AND source_id < {hi}) s USING (source_id)"
        ).format(lo=sql.Placeholder("lo"), hi=sql.Placeholder("hi"))
    ]
    if labels_relation:
        columns += [
            sql.SQL("coalesce(l.is_emitter::int, -1)::int2"),
            sql.SQL("coalesce(l.ew_halpha, 'NaN')::real"),
        ]
        joins.append(
            sql.SQL(
                "LEFT JOIN (SELECT source_id, CASE WHEN bool_or(coalesce(conflict, false))"
                " OR count(DISTINCT is_emitter) > 1 THEN NULL ELSE bool_and(is_emitter) END"
                " AS is_emitter, max(ew_halpha) AS ew_halpha FROM {} WHERE source_id >= {lo}"
                " AND source_id < {hi} GROUP BY source_id) l USING (source_id)"
            ).format(_relation(labels_relation), lo=sql.Placeholder("lo"), hi=sql.Placeholder("hi"))
        )
    if truth_relation:
        columns.append(sql.SQL("coalesce(t.ew_halpha_true, 'NaN')::real"))
        parent = sql.SQL(", max(parent_source_id) AS parent_source_id" if truth_parent else "")
        if truth_parent:
            columns.append(sql.SQL("coalesce(t.parent_source_id, -1)::int8"))
        joins.append(
            sql.SQL(
                "LEFT JOIN (SELECT source_id, max(ew_halpha_true) AS ew_halpha_true{parent} FROM {}"
                " WHERE source_id >= {lo} AND source_id < {hi} GROUP BY source_id) t"
                " USING (source_id)"
            ).format(
                _relation(truth_relation),
                lo=sql.Placeholder("lo"),
                hi=sql.Placeholder("hi"),
                parent=parent,
            )
        )
    return sql.SQL(
        "SELECT {} FROM gaia.xp_continuous x {} WHERE x.source_id >= {lo}"
        " AND x.source_id < {hi} ORDER BY x.source_id"
    ).format(
        sql.SQL(", ").join(columns),
        sql.SQL(" ").join(joins),
        lo=sql.Placeholder("lo"),
        hi=sql.Placeholder("hi"),
    )


def _relation(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


# Whether the truth relation names each source's parent star.
TRUTH_HAS_PARENT = (
    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s)"
    " AND attname = 'parent_source_id' AND NOT attisdropped)"
)


# Every parent star of a simulated sky: its own real row (if ingested) splits with its copies.
def truth_parents(truth_relation: str) -> sql.Composed:
    return sql.SQL(
        "SELECT DISTINCT parent_source_id FROM {} WHERE parent_source_id IS NOT NULL"
    ).format(_relation(truth_relation))


# The simulated class of each truth row, when the truth relation has one (per-class recall).
TRUTH_HAS_CLASS = (
    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s)"
    " AND attname = 'emitter_class' AND NOT attisdropped)"
)


def truth_classes(truth_relation: str) -> sql.Composed:
    return sql.SQL("SELECT source_id, emitter_class FROM {}").format(_relation(truth_relation))


LABEL_COUNTS = sql.SQL(
    "SELECT count(*) FILTER (WHERE is_emitter), count(*) FILTER (WHERE NOT is_emitter) FROM {}"
)

# --- model registry and scores --------------------------------------------------------------
INSERT_MODEL = """
INSERT INTO ml.models (kind, version, config, metrics, artifact_path, artifact_sha256,
                       data_snapshot, latent_dim)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING model_id
"""
SELECT_MODEL_BY_ID = (
    "SELECT model_id, kind, version, artifact_path, artifact_sha256 FROM ml.models"
    " WHERE model_id = %s"
)
SELECT_CURRENT_MODEL = (
    "SELECT model_id, kind, version, artifact_path, artifact_sha256 FROM ml.models WHERE is_current"
)
SELECT_MODEL_BY_NAME = (
    "SELECT model_id, kind, version, artifact_path, artifact_sha256 FROM ml.models"
    " WHERE kind = %s AND version = %s"
)
MODEL_HAS_LATENTS = "SELECT latent_dim IS NOT NULL FROM ml.models WHERE model_id = %s"
# The autoencoder whose latents are published beside a model without any: the same run's,
# else the newest.
SELECT_LATENT_MODEL = (
    "SELECT model_id, kind, version, artifact_path, artifact_sha256 FROM ml.models"
    " WHERE latent_dim IS NOT NULL ORDER BY (version = %s) DESC, (kind = 'dae_head') DESC,"
    " model_id DESC LIMIT 1"
)
LIST_MODELS = (
    "SELECT model_id, kind, version, is_current, trained_at, metrics->>'pr_auc',"
    " metrics->>'roc_auc', (SELECT count(*) FROM ml.emitter_scores e WHERE e.model_id = m.model_id)"
    " FROM ml.models m ORDER BY model_id"
)
CLEAR_CURRENT = "UPDATE ml.models SET is_current = false WHERE is_current"
SET_CURRENT = "UPDATE ml.models SET is_current = true WHERE model_id = %s"
DELETE_SCORES_RANGE = (
    "DELETE FROM ml.emitter_scores WHERE model_id = %s AND source_id >= %s AND source_id < %s"
)
DELETE_LATENTS_RANGE = (
    "DELETE FROM ml.latents WHERE model_id = %s AND source_id >= %s AND source_id < %s"
)
COPY_SCORES = (
    "COPY ml.emitter_scores (model_id, source_id, score, probability, halpha_excess_ew,"
    " halpha_excess_snr) FROM STDIN (FORMAT BINARY)"
)
COPY_LATENTS = "COPY ml.latents (model_id, source_id, latent) FROM STDIN (FORMAT BINARY)"

# --- known stars (training/known_stars.py) ---------------------------------------------------
# A star's rank is 1 + the model's scores with a strictly higher probability: one range count on
# the (model_id, probability) index per star, never a sort of every score. PostgreSQL sorts NaN
# above every number, so "< 'NaN'" keeps both the counts and the total to real probabilities
# (NULL drops out of any comparison); a star without one gets no rank.
KNOWN_STAR_RANKS = """
SELECT k.source_id, k.score, k.probability,
       CASE WHEN k.probability < 'NaN'::real THEN 1 + (
           SELECT count(*) FROM ml.emitter_scores h
           WHERE h.model_id = k.model_id AND h.probability > k.probability
             AND h.probability < 'NaN'::real) END
FROM ml.emitter_scores k
WHERE k.model_id = %s AND k.source_id = ANY(%s)
"""
RANKED_SCORES = (
    "SELECT count(*) FROM ml.emitter_scores WHERE model_id = %s AND probability < 'NaN'::real"
)
XP_SOURCES_AMONG = "SELECT source_id FROM gaia.xp_continuous WHERE source_id = ANY(%s)"
MODEL_DATA_SNAPSHOT = "SELECT data_snapshot FROM ml.models WHERE model_id = %s"
