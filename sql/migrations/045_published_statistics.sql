-- What the published relations hold, counted when their data change, never per page view
-- (sql/published_statistics.py): each relation's true size, published as TAP_SCHEMA's nrows
-- (VOSI /tables and the landing page read it), and the current candidates pre-aggregated per
-- HEALPix cell, colour-magnitude cell and H-alpha excess bin, each per probability bin, so a
-- picture at any probability threshold is a sum over a few thousand rows.
ALTER TABLE tap_schema.tables ADD COLUMN IF NOT EXISTS nrows bigint;

CREATE SCHEMA IF NOT EXISTS stats;
COMMENT ON SCHEMA stats IS 'Counts and pre-aggregates of the published relations (xpha.published_statistics).';

-- One row per write statement on a table a published relation reads (statement triggers,
-- installed by the refresh); the refresh recounts what these name and deletes them.
CREATE TABLE IF NOT EXISTS stats.changes (
    id         bigserial PRIMARY KEY,
    relation   text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE OR REPLACE FUNCTION stats.log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats.changes (relation) VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END $$;

-- The counted size of each published relation, and the oids of what it read then (itself
-- and every relation under it): another oid (a relation re-created, a table swapped in) means
-- a recount.
CREATE TABLE IF NOT EXISTS stats.published_sizes (
    table_name text PRIMARY KEY,
    reads      oid[] NOT NULL,
    nrows      bigint NOT NULL,
    counted_at timestamptz NOT NULL DEFAULT now()
);

-- Current candidates counted per picture cell, one array element per probability bin: for
-- the sky map x is the HEALPix cell (nested, level in candidate_refresh.binning), for the
-- colour-magnitude diagram x is the BP-RP bin and y the G bin, for the H-alpha excess histogram
-- x is the excess bin. Bin -1 of an axis holds the rows without a value, 0 and count+1 its
-- under- and overflow (width_bucket). n[1] counts rows without a probability, n[2] those below
-- the first probability edge, n[k + 2] those in probability bin k.
CREATE TABLE IF NOT EXISTS stats.candidate_bins (
    picture         text NOT NULL CHECK (picture IN ('sky', 'cmd', 'excess')),
    x               bigint NOT NULL,
    y               smallint NOT NULL DEFAULT 0,
    n               bigint[] NOT NULL,
    probability_sum double precision[] NOT NULL,
    PRIMARY KEY (picture, x, y)
);

-- One row: when the aggregates were built, from which model, with the binning used (so a
-- reader never mixes bins); the landing page's pictures are cached under refreshed_at.
CREATE TABLE IF NOT EXISTS stats.candidate_refresh (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    refreshed_at timestamptz NOT NULL,
    model_id     integer,
    model_name   text,
    n_rows       bigint NOT NULL,
    binning      jsonb NOT NULL
);

-- The landing page reads the aggregates as the TAP role; the change log stays private.
GRANT USAGE ON SCHEMA stats TO {tap_role};
GRANT SELECT ON stats.candidate_bins, stats.candidate_refresh TO {tap_role};
