-- The H-alpha excess over the learned continuum (training/line_excess.py), written by
-- `xpha score` next to each score of a model that measures it (NULL for models that do not).
-- Emission positive, so an astronomer can cut on the line itself, not only on a probability.
ALTER TABLE ml.emitter_scores
    ADD COLUMN IF NOT EXISTS halpha_excess_ew real,    -- Angstrom, over the predicted continuum
    ADD COLUMN IF NOT EXISTS halpha_excess_snr real;   -- excess / its noise from the XP errors
COMMENT ON COLUMN ml.emitter_scores.halpha_excess_ew IS
  'H-alpha equivalent width over the learned XP continuum, Angstrom, emission positive.';
COMMENT ON COLUMN ml.emitter_scores.halpha_excess_snr IS
  'H-alpha excess over the learned XP continuum divided by its noise from the XP errors.';
