-- ml.emitter_scores had two indexes on the same key: (model_id, probability DESC) from 030 and
-- (model_id, probability) from 044. A B-tree is read in either direction, so one serves both
-- ORDER BY probability and ORDER BY probability DESC; the other cost ~28 bytes per score.
DROP INDEX IF EXISTS ml.emitter_scores_model_probability_idx;
