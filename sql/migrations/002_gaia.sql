-- Gaia DR3 sources and XP continuous mean spectra.
-- Both tables are range-partitioned by source_id on HEALPix level-0 cells (source_id // 2^59):
-- source_id carries the level-12 nested HEALPix index in its top bits (source_id // 2^35), so
-- each partition is a whole sky region and Dask partitions can follow them. For all 220 million
-- XP sources, split further (level 1 or 2 cells) with the same scheme.

CREATE TABLE IF NOT EXISTS gaia.source (
    source_id                bigint           NOT NULL,
    ra                       double precision NOT NULL,  -- deg, ICRS, epoch ref_epoch
    dec                      double precision NOT NULL,  -- deg
    ra_error                 real,                       -- mas
    dec_error                real,                       -- mas
    ref_epoch                double precision NOT NULL DEFAULT 2016.0,  -- Julian year
    parallax                 double precision,           -- mas
    parallax_error           real,
    pmra                     double precision,           -- mas/yr (includes cos dec)
    pmra_error               real,
    pmdec                    double precision,           -- mas/yr
    pmdec_error              real,
    ruwe                     real,
    phot_g_mean_flux         double precision,           -- e-/s
    phot_g_mean_flux_error   real,
    phot_g_mean_mag          real,                       -- mag
    phot_bp_mean_flux        double precision,
    phot_bp_mean_mag         real,
    phot_rp_mean_flux        double precision,
    phot_rp_mean_mag         real,
    bp_rp                    real,                       -- mag
    phot_bp_rp_excess_factor real,
    radial_velocity          real,                       -- km/s
    l                        double precision,           -- deg, Galactic
    b                        double precision,
    has_xp_continuous        boolean,
    PRIMARY KEY (source_id)
) PARTITION BY RANGE (source_id);

CREATE TABLE IF NOT EXISTS gaia.xp_continuous (
    source_id                   bigint NOT NULL,
    solution_id                 bigint,
    bp_basis_function_id        smallint,
    bp_degrees_of_freedom       smallint,
    bp_n_parameters             smallint,
    bp_n_measurements           smallint,
    bp_n_rejected_measurements  smallint,
    bp_standard_deviation       real,
    bp_chi_squared              real,
    bp_coefficients             double precision[],  -- 55, e-/s; NULL when BP is missing
    bp_coefficient_errors       real[],              -- 55
    bp_coefficient_correlations real[],              -- 1485: strictly lower triangle, row by row (GaiaXPy order)
    bp_n_relevant_bases         smallint,
    bp_relative_shrinking       real,
    rp_basis_function_id        smallint,
    rp_degrees_of_freedom       smallint,
    rp_n_parameters             smallint,
    rp_n_measurements           smallint,
    rp_n_rejected_measurements  smallint,
    rp_standard_deviation       real,
    rp_chi_squared              real,
    rp_coefficients             double precision[],
    rp_coefficient_errors       real[],
    rp_coefficient_correlations real[],
    rp_n_relevant_bases         smallint,
    rp_relative_shrinking       real,
    PRIMARY KEY (source_id),
    CHECK (bp_coefficients IS NULL OR cardinality(bp_coefficients) = 55),
    CHECK (rp_coefficients IS NULL OR cardinality(rp_coefficients) = 55),
    CHECK (bp_coefficient_errors IS NULL OR cardinality(bp_coefficient_errors) = 55),
    CHECK (rp_coefficient_errors IS NULL OR cardinality(rp_coefficient_errors) = 55),
    CHECK (bp_coefficient_correlations IS NULL OR cardinality(bp_coefficient_correlations) = 1485),
    CHECK (rp_coefficient_correlations IS NULL OR cardinality(rp_coefficient_correlations) = 1485)
) PARTITION BY RANGE (source_id);

-- Twelve partitions, one per HEALPix level-0 cell: [k * 2^59, (k + 1) * 2^59).
DO $$
DECLARE
    k integer;
    lo bigint;
    hi bigint;
BEGIN
    FOR k IN 0..11 LOOP
        lo := k::bigint * 576460752303423488;
        hi := (k + 1)::bigint * 576460752303423488;
        EXECUTE format('CREATE TABLE IF NOT EXISTS gaia.source_hpx0_%s PARTITION OF gaia.source'
                       ' FOR VALUES FROM (%s) TO (%s)', lpad(k::text, 2, '0'), lo, hi);
        EXECUTE format('CREATE TABLE IF NOT EXISTS gaia.xp_continuous_hpx0_%s PARTITION OF'
                       ' gaia.xp_continuous FOR VALUES FROM (%s) TO (%s)',
                       lpad(k::text, 2, '0'), lo, hi);
    END LOOP;
END $$;

CREATE INDEX IF NOT EXISTS source_q3c_idx ON gaia.source (q3c_ang2ipix(ra, dec));
CREATE INDEX IF NOT EXISTS source_g_mag_idx ON gaia.source (phot_g_mean_mag);

COMMENT ON TABLE gaia.source IS 'Gaia DR3 gaia_source astrometry and photometry (subset of columns).';
COMMENT ON TABLE gaia.xp_continuous IS
  'Gaia DR3 xp_continuous_mean_spectrum: every column; a missing band is NULL, never zeros.';
