-- Extensions, schemas and the ingest log: what every other part of xpha stands on.
CREATE EXTENSION IF NOT EXISTS q3c;
CREATE EXTENSION IF NOT EXISTS pg_sphere;

CREATE SCHEMA IF NOT EXISTS gaia;        -- Gaia DR3 sources and XP continuous spectra
CREATE SCHEMA IF NOT EXISTS labels;      -- SDSS H-alpha measurements, LAMOST catalogues, labels
CREATE SCHEMA IF NOT EXISTS xmatch;      -- positional crossmatches (Q3C)
CREATE SCHEMA IF NOT EXISTS ml;          -- model registry, emitter scores, latent vectors
CREATE SCHEMA IF NOT EXISTS uws;         -- TAP async jobs
CREATE SCHEMA IF NOT EXISTS tap_schema;  -- IVOA TAP_SCHEMA
CREATE SCHEMA IF NOT EXISTS {published_schema};  -- what TAP publishes

COMMENT ON SCHEMA {published_schema} IS
  'xpha: H-alpha emission-line star candidates from Gaia DR3 XP spectra';

-- One row per file (or fetched batch) loaded: makes ingest idempotent and resumable.
CREATE TABLE IF NOT EXISTS public.ingest_log (
    ingest_id   bigserial PRIMARY KEY,
    kind        text        NOT NULL,          -- gaia-xp, gaia-source, sdss, lamost, ...
    file_name   text        NOT NULL,          -- path as given on the command line
    checksum    text        NOT NULL,          -- sha256 of the file's bytes
    rows_read   bigint      NOT NULL,
    rows_loaded bigint      NOT NULL,          -- rows new to the table (duplicates skipped)
    duration_s  double precision NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, checksum)
);
COMMENT ON TABLE public.ingest_log IS 'Files loaded by xpha ingest: a file whose checksum is here is skipped.';
