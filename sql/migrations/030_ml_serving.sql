-- Serving helpers for the model registry and scores written by `xpha score`.
-- The published candidate view (041) joins scores of the current model to gaia.source and
-- ranks by probability: index exactly that access path. Older models stay queryable by id.
CREATE INDEX IF NOT EXISTS emitter_scores_model_probability_idx
    ON ml.emitter_scores (model_id, probability DESC);

-- The one current model (at most one row), for scripts and the TAP layer.
CREATE OR REPLACE VIEW ml.current_model AS
SELECT model_id, kind, version, config, metrics, artifact_path, artifact_sha256, data_snapshot,
       latent_dim, trained_at
FROM ml.models
WHERE is_current;
COMMENT ON VIEW ml.current_model IS 'The model whose scores the published candidate view shows.';
