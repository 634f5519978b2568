-- Indexes for the access paths the published views promise (TAP_SCHEMA marks them indexed).
-- Top-N by score or probability of one model (the "best candidates" query) walks an index
-- backwards instead of sorting every score; the cone path uses the primary keys and Q3C.
CREATE INDEX IF NOT EXISTS emitter_scores_score_idx ON ml.emitter_scores (model_id, score);
CREATE INDEX IF NOT EXISTS emitter_scores_probability_idx
    ON ml.emitter_scores (model_id, probability);
