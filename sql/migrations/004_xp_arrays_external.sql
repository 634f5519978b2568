-- The XP arrays are stored out of line but never compressed (STORAGE EXTERNAL, not the default
-- EXTENDED). Their values do not compress (the real DR3 correlations keep all 5,960 bytes under
-- pglz, lz4 does no better), yet every row's ~13 kB of arrays were first tried: a binary COPY
-- of 3,000 archive rows took 0.70 s of server CPU with EXTENDED (pglz or lz4) and 0.40 s with
-- EXTERNAL, the same 14 kB a row on disk. Rows already stored keep their form; the setting
-- reaches every partition.
ALTER TABLE gaia.xp_continuous
    ALTER COLUMN bp_coefficients SET STORAGE EXTERNAL,
    ALTER COLUMN bp_coefficient_errors SET STORAGE EXTERNAL,
    ALTER COLUMN bp_coefficient_correlations SET STORAGE EXTERNAL,
    ALTER COLUMN rp_coefficients SET STORAGE EXTERNAL,
    ALTER COLUMN rp_coefficient_errors SET STORAGE EXTERNAL,
    ALTER COLUMN rp_coefficient_correlations SET STORAGE EXTERNAL;
