-- Broad H-alpha lines (Be stars): every spectrum is measured in the narrow West window and in a
-- broad window (+-50 A, sidebands moved out); ew_halpha reports the broad one when the line is
-- resolved as broad (ingest/halpha.py). The narrow values stay available for the label rule's
-- significance and for comparison with West et al.; labels.training_labels is unchanged.
ALTER TABLE labels.sdss_spectra
    ADD COLUMN IF NOT EXISTS ew_window     text CHECK (ew_window IN ('narrow', 'broad')),
    ADD COLUMN IF NOT EXISTS ew_narrow     real,   -- A, West window (6557.61-6571.61 A)
    ADD COLUMN IF NOT EXISTS ew_narrow_err real,
    ADD COLUMN IF NOT EXISTS ew_broad      real,   -- A, broad window (default 6514.61-6614.61 A)
    ADD COLUMN IF NOT EXISTS ew_broad_err  real,
    ADD COLUMN IF NOT EXISTS line_sigma    real;   -- A, Gaussian width that fits the line best

COMMENT ON COLUMN labels.sdss_spectra.ew_halpha IS
  'EW(H-alpha) in A, emission positive, vs the sideband continuum: the broad-window EW when '
  'ew_window = ''broad'' (line resolved as broad), else the West-window EW.';
COMMENT ON COLUMN labels.sdss_spectra.ew_halpha_err IS 'Error of ew_halpha, A (same window).';
COMMENT ON COLUMN labels.sdss_spectra.ew_window IS
  'Window of ew_halpha: narrow (West et al. +-7 A) or broad (+-50 A); NULL when unmeasurable.';
COMMENT ON COLUMN labels.sdss_spectra.ew_narrow IS 'EW(H-alpha) in the West window, A.';
COMMENT ON COLUMN labels.sdss_spectra.ew_broad IS
  'EW(H-alpha) in the broad window, A; NULL where the spectrum does not cover it.';
COMMENT ON COLUMN labels.sdss_spectra.line_sigma IS
  'Gaussian sigma (A) of the best-fitting line profile; NULL without emission.';
