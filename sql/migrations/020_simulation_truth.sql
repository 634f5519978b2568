-- Ground truth of simulated skies (`xpha simulate`, loaded with `xpha simulate load-truth`):
-- what was injected into each simulated source, for injection-recovery and demos.
CREATE TABLE IF NOT EXISTS labels.simulation_truth (
    source_id        bigint           PRIMARY KEY,
    seed             bigint           NOT NULL,   -- the run that made it (manifest.json)
    ew_halpha_true   double precision NOT NULL,   -- Angstrom, emission > 0, absorption < 0
    line_sigma_nm    real             NOT NULL,   -- Gaussian sigma of the injected line
    emitter_class    text             NOT NULL,   -- none, be, ttauri, dme, hard_negative
    phot_g_mean_mag  real,
    bp_rp            real,
    sdss_ew          double precision,            -- EW at the SDSS epoch, when observed
    sdss_spec        text,                        -- spec-PLATE-MJD-FIBER.fits
    lamost_id        text,                        -- ID in the LAMOST-like catalogue
    parent_source_id bigint           NOT NULL,   -- the real DR3 star whose continuum it has
    ra               double precision NOT NULL,
    dec              double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS simulation_truth_class_idx ON labels.simulation_truth (emitter_class);
COMMENT ON TABLE labels.simulation_truth IS
  'Simulated sources: injected H-alpha EW, width and class (xpha simulate).';
