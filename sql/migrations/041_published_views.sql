-- GENERATED from sql/published/xpha.yaml by `python -m sql.published.render`: do not edit.
-- Published views: the only relations (with tap_schema) TAP can read.

DROP VIEW IF EXISTS {published_schema}.emitter_candidates;
CREATE VIEW {published_schema}.emitter_candidates AS
SELECT c.source_id AS source_id,
       c.ra AS ra,
       c.dec AS dec,
       c.phot_g_mean_mag AS phot_g_mean_mag,
       c.bp_rp AS bp_rp,
       c.score AS score,
       c.probability AS probability,
       c.halpha_excess_ew AS halpha_excess_ew,
       c.halpha_excess_snr AS halpha_excess_snr,
       c.model_id AS model_id,
       c.model_kind AS model_kind,
       c.model_version AS model_version
FROM serving.emitter_candidates c;
COMMENT ON VIEW {published_schema}.emitter_candidates IS 'H-alpha emitter scores of the current model (ml.models.is_current) with Gaia position and photometry: the table to cone-search and rank.';
COMMENT ON COLUMN {published_schema}.emitter_candidates.source_id IS 'Gaia DR3 unique source identifier';
COMMENT ON COLUMN {published_schema}.emitter_candidates.ra IS 'Right ascension (ICRS) at epoch 2016.0';
COMMENT ON COLUMN {published_schema}.emitter_candidates.dec IS 'Declination (ICRS) at epoch 2016.0';
COMMENT ON COLUMN {published_schema}.emitter_candidates.phot_g_mean_mag IS 'Gaia G-band mean magnitude';
COMMENT ON COLUMN {published_schema}.emitter_candidates.bp_rp IS 'Gaia BP - RP colour';
COMMENT ON COLUMN {published_schema}.emitter_candidates.score IS 'Raw emitter score of the model; higher means more H-alpha-emitter-like';
COMMENT ON COLUMN {published_schema}.emitter_candidates.probability IS 'Calibrated probability that the source is an H-alpha emitter';
COMMENT ON COLUMN {published_schema}.emitter_candidates.halpha_excess_ew IS 'H-alpha equivalent width over the continuum predicted from the rest of the XP spectrum, by the model itself or by its training run''s continuum regressor (emission positive; NULL where a band is missing)';
COMMENT ON COLUMN {published_schema}.emitter_candidates.halpha_excess_snr IS 'Signal-to-noise ratio of the H-alpha excess, from the XP coefficient errors (NULL where a band is missing)';
COMMENT ON COLUMN {published_schema}.emitter_candidates.model_id IS 'Model that produced the score (xpha.models.model_id)';
COMMENT ON COLUMN {published_schema}.emitter_candidates.model_kind IS 'Kind of model (logreg, xgboost, dae_head, ...)';
COMMENT ON COLUMN {published_schema}.emitter_candidates.model_version IS 'Version of the model';
GRANT SELECT ON {published_schema}.emitter_candidates TO {tap_role};

DROP VIEW IF EXISTS {published_schema}.emitter_scores;
CREATE VIEW {published_schema}.emitter_scores AS
SELECT e.model_id AS model_id,
       e.source_id AS source_id,
       e.score AS score,
       e.probability AS probability,
       e.halpha_excess_ew AS halpha_excess_ew,
       e.halpha_excess_snr AS halpha_excess_snr
FROM ml.emitter_scores e;
COMMENT ON VIEW {published_schema}.emitter_scores IS 'H-alpha emitter scores of every registered model, current or not.';
COMMENT ON COLUMN {published_schema}.emitter_scores.model_id IS 'Model that produced the score (xpha.models.model_id)';
COMMENT ON COLUMN {published_schema}.emitter_scores.source_id IS 'Gaia DR3 unique source identifier';
COMMENT ON COLUMN {published_schema}.emitter_scores.score IS 'Raw emitter score of the model; higher means more H-alpha-emitter-like';
COMMENT ON COLUMN {published_schema}.emitter_scores.probability IS 'Calibrated probability that the source is an H-alpha emitter';
COMMENT ON COLUMN {published_schema}.emitter_scores.halpha_excess_ew IS 'H-alpha equivalent width over the continuum predicted from the rest of the XP spectrum, by the model itself or by its training run''s continuum regressor (emission positive; NULL where a band is missing)';
COMMENT ON COLUMN {published_schema}.emitter_scores.halpha_excess_snr IS 'Signal-to-noise ratio of the H-alpha excess, from the XP coefficient errors (NULL where a band is missing)';
GRANT SELECT ON {published_schema}.emitter_scores TO {tap_role};

DROP VIEW IF EXISTS {published_schema}.models;
CREATE VIEW {published_schema}.models AS
SELECT m.model_id AS model_id,
       m.kind AS kind,
       m.version AS version,
       m.is_current AS is_current,
       m.trained_at AS trained_at,
       m.latent_dim AS latent_dim,
       m.config::text AS config,
       m.metrics::text AS metrics,
       m.data_snapshot AS data_snapshot,
       m.artifact_sha256 AS artifact_sha256
FROM ml.models m;
COMMENT ON VIEW {published_schema}.models IS 'Registry of trained emitter models: kind, version, configuration, metrics and training provenance. Exactly one model is current.';
COMMENT ON COLUMN {published_schema}.models.model_id IS 'Model identifier';
COMMENT ON COLUMN {published_schema}.models.kind IS 'Kind of model (logreg, xgboost, lightgbm, dae_head, ...)';
COMMENT ON COLUMN {published_schema}.models.version IS 'Version of the model';
COMMENT ON COLUMN {published_schema}.models.is_current IS 'True for the model behind xpha.emitter_candidates';
COMMENT ON COLUMN {published_schema}.models.trained_at IS 'When the model was trained (UTC)';
COMMENT ON COLUMN {published_schema}.models.latent_dim IS 'Length of the model''s latent vectors (NULL when it has none)';
COMMENT ON COLUMN {published_schema}.models.config IS 'Training configuration (JSON)';
COMMENT ON COLUMN {published_schema}.models.metrics IS 'Evaluation metrics (JSON)';
COMMENT ON COLUMN {published_schema}.models.data_snapshot IS 'State of labels and ingest the model was trained on';
COMMENT ON COLUMN {published_schema}.models.artifact_sha256 IS 'SHA-256 of the saved model artifact';
GRANT SELECT ON {published_schema}.models TO {tap_role};

DROP VIEW IF EXISTS {published_schema}.latents;
CREATE VIEW {published_schema}.latents AS
SELECT l.model_id AS model_id,
       l.source_id AS source_id,
       l.latent AS latent
FROM ml.latents l;
COMMENT ON VIEW {published_schema}.latents IS 'Per-source latent vectors of the autoencoder models (length xpha.models.latent_dim).';
COMMENT ON COLUMN {published_schema}.latents.model_id IS 'Model whose encoder produced the vector';
COMMENT ON COLUMN {published_schema}.latents.source_id IS 'Gaia DR3 unique source identifier';
COMMENT ON COLUMN {published_schema}.latents.latent IS 'Latent vector of the source''s XP spectrum';
GRANT SELECT ON {published_schema}.latents TO {tap_role};

DROP VIEW IF EXISTS {published_schema}.gaia_source;
CREATE VIEW {published_schema}.gaia_source AS
SELECT source_id AS source_id,
       ra AS ra,
       dec AS dec,
       ra_error AS ra_error,
       dec_error AS dec_error,
       ref_epoch AS ref_epoch,
       parallax AS parallax,
       parallax_error AS parallax_error,
       pmra AS pmra,
       pmra_error AS pmra_error,
       pmdec AS pmdec,
       pmdec_error AS pmdec_error,
       ruwe AS ruwe,
       phot_g_mean_flux AS phot_g_mean_flux,
       phot_g_mean_flux_error AS phot_g_mean_flux_error,
       phot_g_mean_mag AS phot_g_mean_mag,
       phot_bp_mean_flux AS phot_bp_mean_flux,
       phot_bp_mean_mag AS phot_bp_mean_mag,
       phot_rp_mean_flux AS phot_rp_mean_flux,
       phot_rp_mean_mag AS phot_rp_mean_mag,
       bp_rp AS bp_rp,
       phot_bp_rp_excess_factor AS phot_bp_rp_excess_factor,
       radial_velocity AS radial_velocity,
       l AS l,
       b AS b,
       has_xp_continuous AS has_xp_continuous
FROM gaia.source s;
COMMENT ON VIEW {published_schema}.gaia_source IS 'Gaia DR3 gaia_source astrometry and photometry of the ingested sources.';
COMMENT ON COLUMN {published_schema}.gaia_source.source_id IS 'Gaia DR3 unique source identifier';
COMMENT ON COLUMN {published_schema}.gaia_source.ra IS 'Right ascension (ICRS) at epoch 2016.0';
COMMENT ON COLUMN {published_schema}.gaia_source.dec IS 'Declination (ICRS) at epoch 2016.0';
COMMENT ON COLUMN {published_schema}.gaia_source.ra_error IS 'Standard error of right ascension (times cos dec)';
COMMENT ON COLUMN {published_schema}.gaia_source.dec_error IS 'Standard error of declination';
COMMENT ON COLUMN {published_schema}.gaia_source.ref_epoch IS 'Reference epoch (Julian year)';
COMMENT ON COLUMN {published_schema}.gaia_source.parallax IS 'Parallax';
COMMENT ON COLUMN {published_schema}.gaia_source.parallax_error IS 'Standard error of parallax';
COMMENT ON COLUMN {published_schema}.gaia_source.pmra IS 'Proper motion in right ascension (times cos dec)';
COMMENT ON COLUMN {published_schema}.gaia_source.pmra_error IS 'Standard error of pmra';
COMMENT ON COLUMN {published_schema}.gaia_source.pmdec IS 'Proper motion in declination';
COMMENT ON COLUMN {published_schema}.gaia_source.pmdec_error IS 'Standard error of pmdec';
COMMENT ON COLUMN {published_schema}.gaia_source.ruwe IS 'Renormalised unit weight error';
COMMENT ON COLUMN {published_schema}.gaia_source.phot_g_mean_flux IS 'G-band mean flux';
COMMENT ON COLUMN {published_schema}.gaia_source.phot_g_mean_flux_error IS 'Error on G-band mean flux';
COMMENT ON COLUMN {published_schema}.gaia_source.phot_g_mean_mag IS 'G-band mean magnitude (Vega)';
COMMENT ON COLUMN {published_schema}.gaia_source.phot_bp_mean_flux IS 'Integrated BP mean flux';
COMMENT ON COLUMN {published_schema}.gaia_source.phot_bp_mean_mag IS 'Integrated BP mean magnitude';
COMMENT ON COLUMN {published_schema}.gaia_source.phot_rp_mean_flux IS 'Integrated RP mean flux';
COMMENT ON COLUMN {published_schema}.gaia_source.phot_rp_mean_mag IS 'Integrated RP mean magnitude';
COMMENT ON COLUMN {published_schema}.gaia_source.bp_rp IS 'BP - RP colour';
COMMENT ON COLUMN {published_schema}.gaia_source.phot_bp_rp_excess_factor IS 'BP/RP excess factor';
COMMENT ON COLUMN {published_schema}.gaia_source.radial_velocity IS 'Radial velocity';
COMMENT ON COLUMN {published_schema}.gaia_source.l IS 'Galactic longitude';
COMMENT ON COLUMN {published_schema}.gaia_source.b IS 'Galactic latitude';
COMMENT ON COLUMN {published_schema}.gaia_source.has_xp_continuous IS 'True when the source has XP continuous mean spectra';
GRANT SELECT ON {published_schema}.gaia_source TO {tap_role};

DROP VIEW IF EXISTS {published_schema}.xp_continuous;
CREATE VIEW {published_schema}.xp_continuous AS
SELECT source_id AS source_id,
       solution_id AS solution_id,
       bp_basis_function_id AS bp_basis_function_id,
       bp_degrees_of_freedom AS bp_degrees_of_freedom,
       bp_n_parameters AS bp_n_parameters,
       bp_n_measurements AS bp_n_measurements,
       bp_n_rejected_measurements AS bp_n_rejected_measurements,
       bp_standard_deviation AS bp_standard_deviation,
       bp_chi_squared AS bp_chi_squared,
       bp_coefficients AS bp_coefficients,
       bp_coefficient_errors AS bp_coefficient_errors,
       bp_coefficient_correlations AS bp_coefficient_correlations,
       bp_n_relevant_bases AS bp_n_relevant_bases,
       bp_relative_shrinking AS bp_relative_shrinking,
       rp_basis_function_id AS rp_basis_function_id,
       rp_degrees_of_freedom AS rp_degrees_of_freedom,
       rp_n_parameters AS rp_n_parameters,
       rp_n_measurements AS rp_n_measurements,
       rp_n_rejected_measurements AS rp_n_rejected_measurements,
       rp_standard_deviation AS rp_standard_deviation,
       rp_chi_squared AS rp_chi_squared,
       rp_coefficients AS rp_coefficients,
       rp_coefficient_errors AS rp_coefficient_errors,
       rp_coefficient_correlations AS rp_coefficient_correlations,
       rp_n_relevant_bases AS rp_n_relevant_bases,
       rp_relative_shrinking AS rp_relative_shrinking
FROM gaia.xp_continuous x;
COMMENT ON VIEW {published_schema}.xp_continuous IS 'Gaia DR3 xp_continuous_mean_spectrum: every column; coefficients in the Hermite basis of the BP and RP instruments (GaiaXPy reads them). A missing band is NULL, never zeros.';
COMMENT ON COLUMN {published_schema}.xp_continuous.source_id IS 'Gaia DR3 unique source identifier';
COMMENT ON COLUMN {published_schema}.xp_continuous.solution_id IS 'Solution identifier';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_basis_function_id IS 'Identifier of the BP basis functions';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_degrees_of_freedom IS 'Degrees of freedom of the BP fit';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_n_parameters IS 'Number of BP model parameters';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_n_measurements IS 'Number of BP measurements used';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_n_rejected_measurements IS 'Number of BP measurements rejected';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_standard_deviation IS 'Standard deviation of the BP fit';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_chi_squared IS 'Chi-squared of the BP fit';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_coefficients IS 'BP spectral coefficients';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_coefficient_errors IS 'Errors of the BP coefficients';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_coefficient_correlations IS 'Correlations of the BP coefficients (1485 off-diagonal values: the strictly lower triangle row by row, as GaiaXPy reads them)';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_n_relevant_bases IS 'Number of relevant BP bases';
COMMENT ON COLUMN {published_schema}.xp_continuous.bp_relative_shrinking IS 'Relative shrinking of the BP coefficients';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_basis_function_id IS 'Identifier of the RP basis functions';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_degrees_of_freedom IS 'Degrees of freedom of the RP fit';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_n_parameters IS 'Number of RP model parameters';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_n_measurements IS 'Number of RP measurements used';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_n_rejected_measurements IS 'Number of RP measurements rejected';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_standard_deviation IS 'Standard deviation of the RP fit';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_chi_squared IS 'Chi-squared of the RP fit';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_coefficients IS 'RP spectral coefficients';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_coefficient_errors IS 'Errors of the RP coefficients';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_coefficient_correlations IS 'Correlations of the RP coefficients (1485 off-diagonal values: the strictly lower triangle row by row, as GaiaXPy reads them)';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_n_relevant_bases IS 'Number of relevant RP bases';
COMMENT ON COLUMN {published_schema}.xp_continuous.rp_relative_shrinking IS 'Relative shrinking of the RP coefficients';
GRANT SELECT ON {published_schema}.xp_continuous TO {tap_role};

DROP VIEW IF EXISTS {published_schema}.training_labels;
CREATE VIEW {published_schema}.training_labels AS
SELECT t.source_id AS source_id,
       t.label AS label,
       t.is_emitter AS is_emitter,
       t.ew_halpha AS ew_halpha,
       t.ew_halpha_err AS ew_halpha_err,
       t.evidence AS evidence,
       t.conflict AS conflict,
       t.nebular AS nebular,
       t.n_sdss_positive AS n_sdss_positive,
       t.n_sdss_negative AS n_sdss_negative,
       t.n_lamost_positive AS n_lamost_positive,
       t.n_lamost_negative AS n_lamost_negative
FROM labels.source_evidence t WHERE t.label <> 'unlabelled';
COMMENT ON VIEW {published_schema}.training_labels IS 'Training labels of the Gaia sources with SDSS or LAMOST H-alpha evidence: positive or negative, the best SDSS H-alpha equivalent width and the evidence behind the label.';
COMMENT ON COLUMN {published_schema}.training_labels.source_id IS 'Gaia DR3 unique source identifier';
COMMENT ON COLUMN {published_schema}.training_labels.label IS 'positive or negative';
COMMENT ON COLUMN {published_schema}.training_labels.is_emitter IS 'True for a positive (H-alpha emitter) label';
COMMENT ON COLUMN {published_schema}.training_labels.ew_halpha IS 'Best SDSS H-alpha equivalent width (emission positive)';
COMMENT ON COLUMN {published_schema}.training_labels.ew_halpha_err IS 'Error of ew_halpha';
COMMENT ON COLUMN {published_schema}.training_labels.evidence IS 'The SDSS spectra and LAMOST entries behind the label';
COMMENT ON COLUMN {published_schema}.training_labels.conflict IS 'True when positive and negative evidence disagree';
COMMENT ON COLUMN {published_schema}.training_labels.nebular IS 'True when a catalogue marks the position as nebular (not stellar)';
COMMENT ON COLUMN {published_schema}.training_labels.n_sdss_positive IS 'SDSS spectra labelled positive';
COMMENT ON COLUMN {published_schema}.training_labels.n_sdss_negative IS 'SDSS spectra labelled negative';
COMMENT ON COLUMN {published_schema}.training_labels.n_lamost_positive IS 'LAMOST entries labelled positive';
COMMENT ON COLUMN {published_schema}.training_labels.n_lamost_negative IS 'LAMOST entries labelled negative';
GRANT SELECT ON {published_schema}.training_labels TO {tap_role};
