-- GENERATED from sql/published/xpha.yaml by `python -m sql.published.render`: do not edit.
-- TAP_SCHEMA rows: the published schema and TAP_SCHEMA itself (std=1).
DELETE FROM tap_schema.key_columns;
DELETE FROM tap_schema.keys;
DELETE FROM tap_schema.columns;
DELETE FROM tap_schema.tables;
DELETE FROM tap_schema.schemas;

INSERT INTO tap_schema.schemas (schema_name, description, utype, schema_index) VALUES ('{published_schema}', 'xpha: H-alpha emission-line star candidates found in Gaia DR3 BP/RP (XP) spectra, with the Gaia sources and XP coefficients they were found in, the models that scored them and their latent vectors.', NULL, 1);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('{published_schema}', '{published_schema}.emitter_candidates', 'view', 'H-alpha emitter scores of the current model (ml.models.is_current) with Gaia position and photometry: the table to cone-search and rank.', NULL, 1);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('{published_schema}.emitter_candidates', 'source_id', 'long', NULL, NULL, NULL, 'Gaia DR3 unique source identifier', NULL, NULL, 'meta.id;meta.main', 1, 1, 0, 1),
  ('{published_schema}.emitter_candidates', 'ra', 'double', NULL, NULL, NULL, 'Right ascension (ICRS) at epoch 2016.0', NULL, 'deg', 'pos.eq.ra;meta.main', 1, 1, 0, 2),
  ('{published_schema}.emitter_candidates', 'dec', 'double', NULL, NULL, NULL, 'Declination (ICRS) at epoch 2016.0', NULL, 'deg', 'pos.eq.dec;meta.main', 1, 1, 0, 3),
  ('{published_schema}.emitter_candidates', 'phot_g_mean_mag', 'float', NULL, NULL, NULL, 'Gaia G-band mean magnitude', NULL, 'mag', 'phot.mag;em.opt', 0, 1, 0, 4),
  ('{published_schema}.emitter_candidates', 'bp_rp', 'float', NULL, NULL, NULL, 'Gaia BP - RP colour', NULL, 'mag', 'phot.color;em.opt.B;em.opt.R', 0, 1, 0, 5),
  ('{published_schema}.emitter_candidates', 'score', 'float', NULL, NULL, NULL, 'Raw emitter score of the model; higher means more H-alpha-emitter-like', NULL, NULL, 'stat.value', 1, 1, 0, 6),
  ('{published_schema}.emitter_candidates', 'probability', 'float', NULL, NULL, NULL, 'Calibrated probability that the source is an H-alpha emitter', NULL, NULL, 'stat.probability', 1, 1, 0, 7),
  ('{published_schema}.emitter_candidates', 'halpha_excess_ew', 'float', NULL, NULL, NULL, 'H-alpha equivalent width over the continuum predicted from the rest of the XP spectrum, by the model itself or by its training run''s continuum regressor (emission positive; NULL where a band is missing)', NULL, 'Angstrom', 'spect.line.eqWidth;em.line.Halpha', 0, 1, 0, 8),
  ('{published_schema}.emitter_candidates', 'halpha_excess_snr', 'float', NULL, NULL, NULL, 'Signal-to-noise ratio of the H-alpha excess, from the XP coefficient errors (NULL where a band is missing)', NULL, NULL, 'stat.snr;em.line.Halpha', 0, 1, 0, 9),
  ('{published_schema}.emitter_candidates', 'model_id', 'int', NULL, NULL, NULL, 'Model that produced the score (xpha.models.model_id)', NULL, NULL, 'meta.id', 0, 0, 0, 10),
  ('{published_schema}.emitter_candidates', 'model_kind', 'char', '*', NULL, NULL, 'Kind of model (logreg, xgboost, dae_head, ...)', NULL, NULL, 'meta.code', 0, 0, 0, 11),
  ('{published_schema}.emitter_candidates', 'model_version', 'char', '*', NULL, NULL, 'Version of the model', NULL, NULL, 'meta.version', 0, 0, 0, 12);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('{published_schema}', '{published_schema}.emitter_scores', 'view', 'H-alpha emitter scores of every registered model, current or not.', NULL, 2);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('{published_schema}.emitter_scores', 'model_id', 'int', NULL, NULL, NULL, 'Model that produced the score (xpha.models.model_id)', NULL, NULL, 'meta.id', 1, 1, 0, 1),
  ('{published_schema}.emitter_scores', 'source_id', 'long', NULL, NULL, NULL, 'Gaia DR3 unique source identifier', NULL, NULL, 'meta.id;meta.main', 1, 1, 0, 2),
  ('{published_schema}.emitter_scores', 'score', 'float', NULL, NULL, NULL, 'Raw emitter score of the model; higher means more H-alpha-emitter-like', NULL, NULL, 'stat.value', 1, 1, 0, 3),
  ('{published_schema}.emitter_scores', 'probability', 'float', NULL, NULL, NULL, 'Calibrated probability that the source is an H-alpha emitter', NULL, NULL, 'stat.probability', 1, 1, 0, 4),
  ('{published_schema}.emitter_scores', 'halpha_excess_ew', 'float', NULL, NULL, NULL, 'H-alpha equivalent width over the continuum predicted from the rest of the XP spectrum, by the model itself or by its training run''s continuum regressor (emission positive; NULL where a band is missing)', NULL, 'Angstrom', 'spect.line.eqWidth;em.line.Halpha', 0, 1, 0, 5),
  ('{published_schema}.emitter_scores', 'halpha_excess_snr', 'float', NULL, NULL, NULL, 'Signal-to-noise ratio of the H-alpha excess, from the XP coefficient errors (NULL where a band is missing)', NULL, NULL, 'stat.snr;em.line.Halpha', 0, 1, 0, 6);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('{published_schema}', '{published_schema}.models', 'view', 'Registry of trained emitter models: kind, version, configuration, metrics and training provenance. Exactly one model is current.', NULL, 3);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('{published_schema}.models', 'model_id', 'int', NULL, NULL, NULL, 'Model identifier', NULL, NULL, 'meta.id;meta.main', 1, 1, 0, 1),
  ('{published_schema}.models', 'kind', 'char', '*', NULL, NULL, 'Kind of model (logreg, xgboost, lightgbm, dae_head, ...)', NULL, NULL, 'meta.code', 0, 1, 0, 2),
  ('{published_schema}.models', 'version', 'char', '*', NULL, NULL, 'Version of the model', NULL, NULL, 'meta.version', 0, 1, 0, 3),
  ('{published_schema}.models', 'is_current', 'boolean', NULL, NULL, NULL, 'True for the model behind xpha.emitter_candidates', NULL, NULL, 'meta.code.status', 0, 1, 0, 4),
  ('{published_schema}.models', 'trained_at', 'char', '*', 'timestamp', NULL, 'When the model was trained (UTC)', NULL, NULL, 'time.creation', 0, 1, 0, 5),
  ('{published_schema}.models', 'latent_dim', 'int', NULL, NULL, NULL, 'Length of the model''s latent vectors (NULL when it has none)', NULL, NULL, 'meta.number', 0, 0, 0, 6),
  ('{published_schema}.models', 'config', 'char', '*', NULL, NULL, 'Training configuration (JSON)', NULL, NULL, 'meta.note', 0, 0, 0, 7),
  ('{published_schema}.models', 'metrics', 'char', '*', NULL, NULL, 'Evaluation metrics (JSON)', NULL, NULL, 'meta.note', 0, 0, 0, 8),
  ('{published_schema}.models', 'data_snapshot', 'char', '*', NULL, NULL, 'State of labels and ingest the model was trained on', NULL, NULL, 'meta.note', 0, 0, 0, 9),
  ('{published_schema}.models', 'artifact_sha256', 'char', '*', NULL, NULL, 'SHA-256 of the saved model artifact', NULL, NULL, 'meta.id', 0, 0, 0, 10);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('{published_schema}', '{published_schema}.latents', 'view', 'Per-source latent vectors of the autoencoder models (length xpha.models.latent_dim).', NULL, 4);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('{published_schema}.latents', 'model_id', 'int', NULL, NULL, NULL, 'Model whose encoder produced the vector', NULL, NULL, 'meta.id', 1, 1, 0, 1),
  ('{published_schema}.latents', 'source_id', 'long', NULL, NULL, NULL, 'Gaia DR3 unique source identifier', NULL, NULL, 'meta.id;meta.main', 1, 1, 0, 2),
  ('{published_schema}.latents', 'latent', 'float', '*', NULL, NULL, 'Latent vector of the source''s XP spectrum', NULL, NULL, 'src.morph.param', 0, 1, 0, 3);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('{published_schema}', '{published_schema}.gaia_source', 'view', 'Gaia DR3 gaia_source astrometry and photometry of the ingested sources.', NULL, 5);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('{published_schema}.gaia_source', 'source_id', 'long', NULL, NULL, NULL, 'Gaia DR3 unique source identifier', NULL, NULL, 'meta.id;meta.main', 1, 1, 0, 1),
  ('{published_schema}.gaia_source', 'ra', 'double', NULL, NULL, NULL, 'Right ascension (ICRS) at epoch 2016.0', NULL, 'deg', 'pos.eq.ra;meta.main', 1, 1, 0, 2),
  ('{published_schema}.gaia_source', 'dec', 'double', NULL, NULL, NULL, 'Declination (ICRS) at epoch 2016.0', NULL, 'deg', 'pos.eq.dec;meta.main', 1, 1, 0, 3),
  ('{published_schema}.gaia_source', 'ra_error', 'float', NULL, NULL, NULL, 'Standard error of right ascension (times cos dec)', NULL, 'mas', 'stat.error;pos.eq.ra', 0, 0, 0, 4),
  ('{published_schema}.gaia_source', 'dec_error', 'float', NULL, NULL, NULL, 'Standard error of declination', NULL, 'mas', 'stat.error;pos.eq.dec', 0, 0, 0, 5),
  ('{published_schema}.gaia_source', 'ref_epoch', 'double', NULL, NULL, NULL, 'Reference epoch (Julian year)', NULL, 'yr', 'meta.ref;time.epoch', 0, 0, 0, 6),
  ('{published_schema}.gaia_source', 'parallax', 'double', NULL, NULL, NULL, 'Parallax', NULL, 'mas', 'pos.parallax.trig', 0, 1, 0, 7),
  ('{published_schema}.gaia_source', 'parallax_error', 'float', NULL, NULL, NULL, 'Standard error of parallax', NULL, 'mas', 'stat.error;pos.parallax.trig', 0, 0, 0, 8),
  ('{published_schema}.gaia_source', 'pmra', 'double', NULL, NULL, NULL, 'Proper motion in right ascension (times cos dec)', NULL, 'mas/yr', 'pos.pm;pos.eq.ra', 0, 0, 0, 9),
  ('{published_schema}.gaia_source', 'pmra_error', 'float', NULL, NULL, NULL, 'Standard error of pmra', NULL, 'mas/yr', 'stat.error;pos.pm;pos.eq.ra', 0, 0, 0, 10),
  ('{published_schema}.gaia_source', 'pmdec', 'double', NULL, NULL, NULL, 'Proper motion in declination', NULL, 'mas/yr', 'pos.pm;pos.eq.dec', 0, 0, 0, 11),
  ('{published_schema}.gaia_source', 'pmdec_error', 'float', NULL, NULL, NULL, 'Standard error of pmdec', NULL, 'mas/yr', 'stat.error;pos.pm;pos.eq.dec', 0, 0, 0, 12),
  ('{published_schema}.gaia_source', 'ruwe', 'float', NULL, NULL, NULL, 'Renormalised unit weight error', NULL, NULL, 'stat.fit.goodness', 0, 0, 0, 13),
  ('{published_schema}.gaia_source', 'phot_g_mean_flux', 'double', NULL, NULL, NULL, 'G-band mean flux', NULL, 'electron/s', 'phot.flux;stat.mean;em.opt', 0, 0, 0, 14),
  ('{published_schema}.gaia_source', 'phot_g_mean_flux_error', 'float', NULL, NULL, NULL, 'Error on G-band mean flux', NULL, 'electron/s', 'stat.error;phot.flux;em.opt', 0, 0, 0, 15),
  ('{published_schema}.gaia_source', 'phot_g_mean_mag', 'float', NULL, NULL, NULL, 'G-band mean magnitude (Vega)', NULL, 'mag', 'phot.mag;stat.mean;em.opt', 1, 1, 0, 16),
  ('{published_schema}.gaia_source', 'phot_bp_mean_flux', 'double', NULL, NULL, NULL, 'Integrated BP mean flux', NULL, 'electron/s', 'phot.flux;stat.mean;em.opt.B', 0, 0, 0, 17),
  ('{published_schema}.gaia_source', 'phot_bp_mean_mag', 'float', NULL, NULL, NULL, 'Integrated BP mean magnitude', NULL, 'mag', 'phot.mag;stat.mean;em.opt.B', 0, 0, 0, 18),
  ('{published_schema}.gaia_source', 'phot_rp_mean_flux', 'double', NULL, NULL, NULL, 'Integrated RP mean flux', NULL, 'electron/s', 'phot.flux;stat.mean;em.opt.R', 0, 0, 0, 19),
  ('{published_schema}.gaia_source', 'phot_rp_mean_mag', 'float', NULL, NULL, NULL, 'Integrated RP mean magnitude', NULL, 'mag', 'phot.mag;stat.mean;em.opt.R', 0, 0, 0, 20),
  ('{published_schema}.gaia_source', 'bp_rp', 'float', NULL, NULL, NULL, 'BP - RP colour', NULL, 'mag', 'phot.color;em.opt.B;em.opt.R', 0, 1, 0, 21),
  ('{published_schema}.gaia_source', 'phot_bp_rp_excess_factor', 'float', NULL, NULL, NULL, 'BP/RP excess factor', NULL, NULL, 'arith.ratio', 0, 0, 0, 22),
  ('{published_schema}.gaia_source', 'radial_velocity', 'float', NULL, NULL, NULL, 'Radial velocity', NULL, 'km/s', 'spect.dopplerVeloc.opt', 0, 0, 0, 23),
  ('{published_schema}.gaia_source', 'l', 'double', NULL, NULL, NULL, 'Galactic longitude', NULL, 'deg', 'pos.galactic.lon', 0, 0, 0, 24),
  ('{published_schema}.gaia_source', 'b', 'double', NULL, NULL, NULL, 'Galactic latitude', NULL, 'deg', 'pos.galactic.lat', 0, 0, 0, 25),
  ('{published_schema}.gaia_source', 'has_xp_continuous', 'boolean', NULL, NULL, NULL, 'True when the source has XP continuous mean spectra', NULL, NULL, 'meta.code.status', 0, 0, 0, 26);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('{published_schema}', '{published_schema}.xp_continuous', 'view', 'Gaia DR3 xp_continuous_mean_spectrum: every column; coefficients in the Hermite basis of the BP and RP instruments (GaiaXPy reads them). A missing band is NULL, never zeros.', NULL, 6);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('{published_schema}.xp_continuous', 'source_id', 'long', NULL, NULL, NULL, 'Gaia DR3 unique source identifier', NULL, NULL, 'meta.id;meta.main', 1, 1, 0, 1),
  ('{published_schema}.xp_continuous', 'solution_id', 'long', NULL, NULL, NULL, 'Solution identifier', NULL, NULL, 'meta.version', 0, 0, 0, 2),
  ('{published_schema}.xp_continuous', 'bp_basis_function_id', 'short', NULL, NULL, NULL, 'Identifier of the BP basis functions', NULL, NULL, 'meta.id', 0, 0, 0, 3),
  ('{published_schema}.xp_continuous', 'bp_degrees_of_freedom', 'short', NULL, NULL, NULL, 'Degrees of freedom of the BP fit', NULL, NULL, 'stat.fit.dof', 0, 0, 0, 4),
  ('{published_schema}.xp_continuous', 'bp_n_parameters', 'short', NULL, NULL, NULL, 'Number of BP model parameters', NULL, NULL, 'meta.number', 0, 0, 0, 5),
  ('{published_schema}.xp_continuous', 'bp_n_measurements', 'short', NULL, NULL, NULL, 'Number of BP measurements used', NULL, NULL, 'meta.number', 0, 0, 0, 6),
  ('{published_schema}.xp_continuous', 'bp_n_rejected_measurements', 'short', NULL, NULL, NULL, 'Number of BP measurements rejected', NULL, NULL, 'meta.number', 0, 0, 0, 7),
  ('{published_schema}.xp_continuous', 'bp_standard_deviation', 'float', NULL, NULL, NULL, 'Standard deviation of the BP fit', NULL, NULL, 'stat.stdev', 0, 0, 0, 8),
  ('{published_schema}.xp_continuous', 'bp_chi_squared', 'float', NULL, NULL, NULL, 'Chi-squared of the BP fit', NULL, NULL, 'stat.fit.chi2', 0, 0, 0, 9),
  ('{published_schema}.xp_continuous', 'bp_coefficients', 'double', '55', NULL, 55, 'BP spectral coefficients', NULL, 'electron/s', 'spect.continuum;arith.coeff', 0, 1, 0, 10),
  ('{published_schema}.xp_continuous', 'bp_coefficient_errors', 'float', '55', NULL, 55, 'Errors of the BP coefficients', NULL, 'electron/s', 'stat.error;spect.continuum', 0, 0, 0, 11),
  ('{published_schema}.xp_continuous', 'bp_coefficient_correlations', 'float', '1485', NULL, 1485, 'Correlations of the BP coefficients (1485 off-diagonal values: the strictly lower triangle row by row, as GaiaXPy reads them)', NULL, NULL, 'stat.correlation', 0, 0, 0, 12),
  ('{published_schema}.xp_continuous', 'bp_n_relevant_bases', 'short', NULL, NULL, NULL, 'Number of relevant BP bases', NULL, NULL, 'meta.number', 0, 0, 0, 13),
  ('{published_schema}.xp_continuous', 'bp_relative_shrinking', 'float', NULL, NULL, NULL, 'Relative shrinking of the BP coefficients', NULL, NULL, 'arith.ratio', 0, 0, 0, 14),
  ('{published_schema}.xp_continuous', 'rp_basis_function_id', 'short', NULL, NULL, NULL, 'Identifier of the RP basis functions', NULL, NULL, 'meta.id', 0, 0, 0, 15),
  ('{published_schema}.xp_continuous', 'rp_degrees_of_freedom', 'short', NULL, NULL, NULL, 'Degrees of freedom of the RP fit', NULL, NULL, 'stat.fit.dof', 0, 0, 0, 16),
  ('{published_schema}.xp_continuous', 'rp_n_parameters', 'short', NULL, NULL, NULL, 'Number of RP model parameters', NULL, NULL, 'meta.number', 0, 0, 0, 17),
  ('{published_schema}.xp_continuous', 'rp_n_measurements', 'short', NULL, NULL, NULL, 'Number of RP measurements used', NULL, NULL, 'meta.number', 0, 0, 0, 18),
  ('{published_schema}.xp_continuous', 'rp_n_rejected_measurements', 'short', NULL, NULL, NULL, 'Number of RP measurements rejected', NULL, NULL, 'meta.number', 0, 0, 0, 19),
  ('{published_schema}.xp_continuous', 'rp_standard_deviation', 'float', NULL, NULL, NULL, 'Standard deviation of the RP fit', NULL, NULL, 'stat.stdev', 0, 0, 0, 20),
  ('{published_schema}.xp_continuous', 'rp_chi_squared', 'float', NULL, NULL, NULL, 'Chi-squared of the RP fit', NULL, NULL, 'stat.fit.chi2', 0, 0, 0, 21),
  ('{published_schema}.xp_continuous', 'rp_coefficients', 'double', '55', NULL, 55, 'RP spectral coefficients', NULL, 'electron/s', 'spect.continuum;arith.coeff', 0, 1, 0, 22),
  ('{published_schema}.xp_continuous', 'rp_coefficient_errors', 'float', '55', NULL, 55, 'Errors of the RP coefficients', NULL, 'electron/s', 'stat.error;spect.continuum', 0, 0, 0, 23),
  ('{published_schema}.xp_continuous', 'rp_coefficient_correlations', 'float', '1485', NULL, 1485, 'Correlations of the RP coefficients (1485 off-diagonal values: the strictly lower triangle row by row, as GaiaXPy reads them)', NULL, NULL, 'stat.correlation', 0, 0, 0, 24),
  ('{published_schema}.xp_continuous', 'rp_n_relevant_bases', 'short', NULL, NULL, NULL, 'Number of relevant RP bases', NULL, NULL, 'meta.number', 0, 0, 0, 25),
  ('{published_schema}.xp_continuous', 'rp_relative_shrinking', 'float', NULL, NULL, NULL, 'Relative shrinking of the RP coefficients', NULL, NULL, 'arith.ratio', 0, 0, 0, 26);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('{published_schema}', '{published_schema}.training_labels', 'view', 'Training labels of the Gaia sources with SDSS or LAMOST H-alpha evidence: positive or negative, the best SDSS H-alpha equivalent width and the evidence behind the label.', NULL, 7);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('{published_schema}.training_labels', 'source_id', 'long', NULL, NULL, NULL, 'Gaia DR3 unique source identifier', NULL, NULL, 'meta.id;meta.main', 1, 1, 0, 1),
  ('{published_schema}.training_labels', 'label', 'char', '*', NULL, NULL, 'positive or negative', NULL, NULL, 'meta.code.class', 0, 1, 0, 2),
  ('{published_schema}.training_labels', 'is_emitter', 'boolean', NULL, NULL, NULL, 'True for a positive (H-alpha emitter) label', NULL, NULL, 'meta.code.class', 0, 1, 0, 3),
  ('{published_schema}.training_labels', 'ew_halpha', 'float', NULL, NULL, NULL, 'Best SDSS H-alpha equivalent width (emission positive)', NULL, 'Angstrom', 'spect.line.eqWidth;em.line.Halpha', 0, 1, 0, 4),
  ('{published_schema}.training_labels', 'ew_halpha_err', 'float', NULL, NULL, NULL, 'Error of ew_halpha', NULL, 'Angstrom', 'stat.error;spect.line.eqWidth;em.line.Halpha', 0, 0, 0, 5),
  ('{published_schema}.training_labels', 'evidence', 'char', '*', NULL, NULL, 'The SDSS spectra and LAMOST entries behind the label', NULL, NULL, 'meta.note', 0, 0, 0, 6),
  ('{published_schema}.training_labels', 'conflict', 'boolean', NULL, NULL, NULL, 'True when positive and negative evidence disagree', NULL, NULL, 'meta.code.qual', 0, 0, 0, 7),
  ('{published_schema}.training_labels', 'nebular', 'boolean', NULL, NULL, NULL, 'True when a catalogue marks the position as nebular (not stellar)', NULL, NULL, 'meta.code', 0, 0, 0, 8),
  ('{published_schema}.training_labels', 'n_sdss_positive', 'int', NULL, NULL, NULL, 'SDSS spectra labelled positive', NULL, NULL, 'meta.number', 0, 0, 0, 9),
  ('{published_schema}.training_labels', 'n_sdss_negative', 'int', NULL, NULL, NULL, 'SDSS spectra labelled negative', NULL, NULL, 'meta.number', 0, 0, 0, 10),
  ('{published_schema}.training_labels', 'n_lamost_positive', 'int', NULL, NULL, NULL, 'LAMOST entries labelled positive', NULL, NULL, 'meta.number', 0, 0, 0, 11),
  ('{published_schema}.training_labels', 'n_lamost_negative', 'int', NULL, NULL, NULL, 'LAMOST entries labelled negative', NULL, NULL, 'meta.number', 0, 0, 0, 12);
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('{published_schema}.candidates_model', '{published_schema}.emitter_candidates', '{published_schema}.models', 'The model behind each candidate score', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('{published_schema}.candidates_model', 'model_id', 'model_id');
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('{published_schema}.scores_model', '{published_schema}.emitter_scores', '{published_schema}.models', 'The model behind each score', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('{published_schema}.scores_model', 'model_id', 'model_id');
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('{published_schema}.latents_model', '{published_schema}.latents', '{published_schema}.models', 'The encoder behind each latent vector', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('{published_schema}.latents_model', 'model_id', 'model_id');
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('{published_schema}.xp_source', '{published_schema}.xp_continuous', '{published_schema}.gaia_source', 'The Gaia source of each XP spectrum', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('{published_schema}.xp_source', 'source_id', 'source_id');
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('{published_schema}.labels_source', '{published_schema}.training_labels', '{published_schema}.gaia_source', 'The Gaia source of each label', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('{published_schema}.labels_source', 'source_id', 'source_id');

INSERT INTO tap_schema.schemas (schema_name, description, utype, schema_index) VALUES ('tap_schema', 'Metadata of this TAP service''s tables and columns (IVOA TAP 1.1 TAP_SCHEMA).', NULL, 2);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('tap_schema', 'tap_schema.schemas', 'table', 'The schemas of this service', NULL, 8);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('tap_schema.schemas', 'schema_name', 'char', '*', NULL, NULL, 'Schema name, for reference to tap_schema.schemas', NULL, NULL, NULL, 0, 1, 1, 1),
  ('tap_schema.schemas', 'description', 'char', '*', NULL, NULL, 'Brief description of the schema', NULL, NULL, NULL, 0, 1, 1, 2),
  ('tap_schema.schemas', 'utype', 'char', '*', NULL, NULL, 'Utype of the schema', NULL, NULL, NULL, 0, 1, 1, 3),
  ('tap_schema.schemas', 'schema_index', 'int', NULL, NULL, NULL, 'Recommended sort order when listing schemas', NULL, NULL, NULL, 0, 1, 1, 4);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('tap_schema', 'tap_schema.tables', 'table', 'The tables of this service', NULL, 9);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('tap_schema.tables', 'schema_name', 'char', '*', NULL, NULL, 'The schema this table belongs to', NULL, NULL, NULL, 0, 1, 1, 1),
  ('tap_schema.tables', 'table_name', 'char', '*', NULL, NULL, 'Fully qualified table name', NULL, NULL, NULL, 0, 1, 1, 2),
  ('tap_schema.tables', 'table_type', 'char', '*', NULL, NULL, 'One of: table, view', NULL, NULL, NULL, 0, 1, 1, 3),
  ('tap_schema.tables', 'description', 'char', '*', NULL, NULL, 'Brief description of the table', NULL, NULL, NULL, 0, 1, 1, 4),
  ('tap_schema.tables', 'utype', 'char', '*', NULL, NULL, 'Utype of the table', NULL, NULL, NULL, 0, 1, 1, 5),
  ('tap_schema.tables', 'table_index', 'int', NULL, NULL, NULL, 'Recommended sort order when listing tables', NULL, NULL, NULL, 0, 1, 1, 6),
  ('tap_schema.tables', 'nrows', 'long', NULL, NULL, NULL, 'Rows the table holds, counted when its data last changed (not a TAP 1.1 column; VODataService 1.2 nrows)', NULL, NULL, NULL, 0, 1, 0, 7);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('tap_schema', 'tap_schema.columns', 'table', 'The columns of this service''s tables', NULL, 10);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('tap_schema.columns', 'table_name', 'char', '*', NULL, NULL, 'Fully qualified name of the table holding the column', NULL, NULL, NULL, 0, 1, 1, 1),
  ('tap_schema.columns', 'column_name', 'char', '*', NULL, NULL, 'Column name', NULL, NULL, NULL, 0, 1, 1, 2),
  ('tap_schema.columns', 'datatype', 'char', '*', NULL, NULL, 'VOTable datatype of the column', NULL, NULL, NULL, 0, 1, 1, 3),
  ('tap_schema.columns', 'arraysize', 'char', '*', NULL, NULL, 'VOTable arraysize of the column', NULL, NULL, NULL, 0, 1, 1, 4),
  ('tap_schema.columns', 'xtype', 'char', '*', NULL, NULL, 'DALI/VOTable extended type of the column', NULL, NULL, NULL, 0, 1, 1, 5),
  ('tap_schema.columns', '"size"', 'int', NULL, NULL, NULL, 'Length of a fixed one-dimensional array (deprecated in TAP 1.1)', NULL, NULL, NULL, 0, 1, 1, 6),
  ('tap_schema.columns', 'description', 'char', '*', NULL, NULL, 'Brief description of the column', NULL, NULL, NULL, 0, 1, 1, 7),
  ('tap_schema.columns', 'utype', 'char', '*', NULL, NULL, 'Utype of the column', NULL, NULL, NULL, 0, 1, 1, 8),
  ('tap_schema.columns', 'unit', 'char', '*', NULL, NULL, 'Unit in VO standard format', NULL, NULL, NULL, 0, 1, 1, 9),
  ('tap_schema.columns', 'ucd', 'char', '*', NULL, NULL, 'UCD of the column', NULL, NULL, NULL, 0, 1, 1, 10),
  ('tap_schema.columns', 'indexed', 'int', NULL, NULL, NULL, '1 when the column is indexed, 0 otherwise', NULL, NULL, NULL, 0, 1, 1, 11),
  ('tap_schema.columns', 'principal', 'int', NULL, NULL, NULL, '1 when the column is principal, 0 otherwise', NULL, NULL, NULL, 0, 1, 1, 12),
  ('tap_schema.columns', 'std', 'int', NULL, NULL, NULL, '1 when the column is defined by a standard, 0 otherwise', NULL, NULL, NULL, 0, 1, 1, 13),
  ('tap_schema.columns', 'column_index', 'int', NULL, NULL, NULL, 'Recommended sort order when listing columns', NULL, NULL, NULL, 0, 1, 1, 14);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('tap_schema', 'tap_schema.keys', 'table', 'Foreign keys between this service''s tables', NULL, 11);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('tap_schema.keys', 'key_id', 'char', '*', NULL, NULL, 'Unique key identifier', NULL, NULL, NULL, 0, 1, 1, 1),
  ('tap_schema.keys', 'from_table', 'char', '*', NULL, NULL, 'Fully qualified table name of the referencing table', NULL, NULL, NULL, 0, 1, 1, 2),
  ('tap_schema.keys', 'target_table', 'char', '*', NULL, NULL, 'Fully qualified table name of the referenced table', NULL, NULL, NULL, 0, 1, 1, 3),
  ('tap_schema.keys', 'description', 'char', '*', NULL, NULL, 'Description of the key', NULL, NULL, NULL, 0, 1, 1, 4),
  ('tap_schema.keys', 'utype', 'char', '*', NULL, NULL, 'Utype of the key', NULL, NULL, NULL, 0, 1, 1, 5);
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description, utype, table_index) VALUES ('tap_schema', 'tap_schema.key_columns', 'table', 'The columns of the foreign keys', NULL, 12);
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, xtype, "size", description, utype, unit, ucd, indexed, principal, std, column_index) VALUES
  ('tap_schema.key_columns', 'key_id', 'char', '*', NULL, NULL, 'Key identifier from tap_schema.keys', NULL, NULL, NULL, 0, 1, 1, 1),
  ('tap_schema.key_columns', 'from_column', 'char', '*', NULL, NULL, 'Column name in the referencing table', NULL, NULL, NULL, 0, 1, 1, 2),
  ('tap_schema.key_columns', 'target_column', 'char', '*', NULL, NULL, 'Column name in the referenced table', NULL, NULL, NULL, 0, 1, 1, 3);
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('tap_schema.tables_schema', 'tap_schema.tables', 'tap_schema.schemas', 'The schema of each table', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('tap_schema.tables_schema', 'schema_name', 'schema_name');
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('tap_schema.columns_table', 'tap_schema.columns', 'tap_schema.tables', 'The table of each column', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('tap_schema.columns_table', 'table_name', 'table_name');
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('tap_schema.keys_from', 'tap_schema.keys', 'tap_schema.tables', 'The referencing table of each key', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('tap_schema.keys_from', 'from_table', 'table_name');
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('tap_schema.keys_target', 'tap_schema.keys', 'tap_schema.tables', 'The referenced table of each key', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('tap_schema.keys_target', 'target_table', 'table_name');
INSERT INTO tap_schema.keys (key_id, from_table, target_table, description, utype) VALUES ('tap_schema.key_columns_key', 'tap_schema.key_columns', 'tap_schema.keys', 'The key each column pair belongs to', NULL);
INSERT INTO tap_schema.key_columns (key_id, from_column, target_column) VALUES ('tap_schema.key_columns_key', 'key_id', 'key_id');
