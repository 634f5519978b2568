-- H-alpha line flux (what the SDSS pipeline's LINEAREA measures) and the peak significance
-- above the pipeline model (the second half of the emission-over-the-model test).
ALTER TABLE labels.sdss_spectra
    ADD COLUMN IF NOT EXISTS line_flux real,          -- 1e-17 erg/s/cm2, observed frame, vs sidebands
    ADD COLUMN IF NOT EXISTS peak_model_sigma real;   -- max (flux - model) / sigma in the line window
COMMENT ON COLUMN labels.sdss_spectra.line_flux IS
  'H-alpha flux above the sideband continuum, 1e-17 erg/s/cm2, observed frame.';

-- High proper-motion Gaia sources (> 100 mas/yr, a tiny fraction) get their own partial Q3C
-- index, so the crossmatch can search them out to max_pm * |epoch difference| while everyone
-- else is searched within radius + 100 mas/yr * |epoch difference| (see ingest/labels_queries.py).
CREATE INDEX IF NOT EXISTS source_high_pm_q3c_idx ON gaia.source (q3c_ang2ipix(ra, dec))
    WHERE pmra * pmra + pmdec * pmdec > 10000.0;
