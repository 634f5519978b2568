-- Model registry, emitter scores and latent vectors written back by `xpha score`.
CREATE TABLE IF NOT EXISTS ml.models (
    model_id       serial PRIMARY KEY,
    kind           text        NOT NULL,        -- logreg, xgboost, lightgbm, xp_ew, dae_head, ...
    version        text        NOT NULL,        -- e.g. 2026-11-22T10:00:00Z or a semver
    config         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    metrics        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    artifact_path  text,
    artifact_sha256 text,
    data_snapshot  text,                        -- what it was trained on (label/ingest state)
    latent_dim     integer,                     -- NULL for models without a latent space
    is_current     boolean     NOT NULL DEFAULT false,
    trained_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, version)
);
-- At most one model is "current": the one TAP's published candidate view shows.
CREATE UNIQUE INDEX IF NOT EXISTS models_one_current ON ml.models (is_current) WHERE is_current;

CREATE TABLE IF NOT EXISTS ml.emitter_scores (
    model_id    integer NOT NULL REFERENCES ml.models (model_id) ON DELETE CASCADE,
    source_id   bigint  NOT NULL,
    score       real    NOT NULL,               -- the model's raw score, higher = more emitter-like
    probability real,                           -- calibrated P(emitter)
    PRIMARY KEY (model_id, source_id)
);

CREATE TABLE IF NOT EXISTS ml.latents (
    model_id  integer NOT NULL REFERENCES ml.models (model_id) ON DELETE CASCADE,
    source_id bigint  NOT NULL,
    latent    real[]  NOT NULL,
    PRIMARY KEY (model_id, source_id)
);
COMMENT ON TABLE ml.models IS 'Every trained model: kind, version, config, metrics, artifact.';
COMMENT ON TABLE ml.emitter_scores IS 'Per-source H-alpha emitter score of each model.';
COMMENT ON TABLE ml.latents IS 'Per-source latent vector of each autoencoder model.';
