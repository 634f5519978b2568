-- Serving tables: what TAP reads, built for the queries people run (sql/serving.py).
--
-- The current model's candidates are one real table, serving.emitter_candidates, instead of a
-- view joining ml.emitter_scores, gaia.source and ml.models: a join's plan depends on row
-- estimates (a q3c join is estimated at one row, so PostgreSQL put a Seq Scan of the scores
-- inside a nested loop and an upload crossmatch took hours at 220M rows); one table with its
-- own indexes has one plan at any size. It is built beside the live one and swapped in by
-- renaming (serving.swap_candidates). Every model's scores stay in ml.emitter_scores.
--
-- Partitions: twelve regions of the sky, like gaia.source's, but cut on the Q3C pixel
-- (q3c_ang2ipix: the six cube faces, halved) rather than on source_id's HEALPix cell. A cone
-- or a crossmatch names Q3C pixel ranges, so it reads one or two partitions (pruned when the
-- query is planned, or per upload row while it runs); cut on source_id, every partition's
-- Q3C index was probed for every position (a 1,000-row crossmatch over 1M rows: 265 ms,
-- against 57 ms cut on the Q3C pixel and 40 ms unpartitioned). A source_id lookup probes the
-- twelve source_id indexes instead. Rows are loaded in Q3C order, indexed on source_id,
-- position, probability and score.
CREATE SCHEMA IF NOT EXISTS serving;
COMMENT ON SCHEMA serving IS 'Tables built for TAP from the base schemas (never granted to TAP).';

-- One row per candidates table built: which model, how big, how long, when it went live.
CREATE TABLE IF NOT EXISTS serving.builds (
    build_id    serial      PRIMARY KEY,
    relation    text        NOT NULL,
    model_id    integer,                    -- NULL: no model was current
    rows        bigint,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    seconds     jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- per step: load, index, analyse, swap
    swapped_at  timestamptz                 -- when TAP started reading it (NULL: never)
);
COMMENT ON TABLE serving.builds IS 'Candidate tables built by sql/serving.py and when each went live.';

-- An empty candidates table: twelve Q3C pixel ranges of equal area (2^59 pixels each). The
-- model's id, kind and version are not in it yet: serving.stamp_candidates adds them once the
-- rows are in.
CREATE OR REPLACE FUNCTION serving.create_candidates(relation text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    k integer;
BEGIN
    EXECUTE format(
        'CREATE TABLE serving.%I ('
        ' source_id bigint NOT NULL, ra double precision NOT NULL, dec double precision NOT NULL,'
        ' phot_g_mean_mag real, bp_rp real, score real NOT NULL, probability real,'
        ' halpha_excess_ew real, halpha_excess_snr real'
        ') PARTITION BY RANGE (public.q3c_ang2ipix(ra, dec))', relation);
    FOR k IN 0..11 LOOP
        EXECUTE format('CREATE TABLE serving.%I PARTITION OF serving.%I FOR VALUES FROM (%s) TO (%s)',
                       relation || '_q3c' || lpad(k::text, 2, '0'), relation,
                       CASE WHEN k = 0 THEN 'MINVALUE' ELSE (k::bigint << 59)::text END,
                       CASE WHEN k = 11 THEN 'MAXVALUE' ELSE ((k + 1)::bigint << 59)::text END);
    END LOOP;
END $$;

-- The gaia.source partitions a build reads, one INSERT each (a HEALPix region of the sky).
CREATE OR REPLACE FUNCTION serving.source_partitions() RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'gaia.source'::regclass ORDER BY 1
$$;

-- Add a model's scores of the sources in one gaia.source partition, with their positions and
-- photometry, in Q3C order: the rows of a cone lie together on disk. The source_id range is
-- given explicitly so that only the scores of this partition's range are read.
CREATE OR REPLACE FUNCTION serving.fill_candidates(relation text, gaia_partition text,
                                                   model integer) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    lo bigint;
    hi bigint;
    n bigint;
BEGIN
    EXECUTE format('SELECT min(source_id), max(source_id) FROM gaia.%I', gaia_partition)
        INTO lo, hi;
    IF lo IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format(
        'INSERT INTO serving.%I (source_id, ra, dec, phot_g_mean_mag, bp_rp, score, probability,'
        ' halpha_excess_ew, halpha_excess_snr)'
        ' SELECT e.source_id, s.ra, s.dec, s.phot_g_mean_mag, s.bp_rp, e.score, e.probability,'
        ' e.halpha_excess_ew, e.halpha_excess_snr'
        ' FROM ml.emitter_scores e JOIN gaia.%I s ON s.source_id = e.source_id'
        ' WHERE e.model_id = $1 AND e.source_id BETWEEN $2 AND $3'
        ' ORDER BY public.q3c_ang2ipix(s.ra, s.dec)', relation, gaia_partition)
        USING model, lo, hi;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The model as columns with a constant default, added after the rows: PostgreSQL keeps such
-- a value once in the catalogue (a "missing value"), not in every row, so the id, kind and
-- version of the model cost no bytes per source.
CREATE OR REPLACE FUNCTION serving.stamp_candidates(relation text, model integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    kind text;
    version text;
BEGIN
    SELECT m.kind, m.version INTO kind, version FROM ml.models m WHERE m.model_id = model;
    EXECUTE format('ALTER TABLE serving.%I ADD COLUMN model_id integer DEFAULT %L,'
                   ' ADD COLUMN model_kind text DEFAULT %L, ADD COLUMN model_version text'
                   ' DEFAULT %L', relation, model, kind, version);
END $$;

-- The indexes of the access paths TAP_SCHEMA marks indexed: source_id (lookups, joins to
-- labels and uploads; not a primary key, which would have to hold the partition key), Q3C
-- (cones, crossmatches), probability and score (TOP N).
CREATE OR REPLACE FUNCTION serving.index_candidates(relation text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    part record;
BEGIN
    EXECUTE format('CREATE INDEX ON serving.%I (source_id)', relation);
    EXECUTE format('CREATE INDEX ON serving.%I (public.q3c_ang2ipix(ra, dec))', relation);
    EXECUTE format('CREATE INDEX ON serving.%I (probability)', relation);
    EXECUTE format('CREATE INDEX ON serving.%I (score)', relation);
    -- Remember the order the rows were loaded in, for a later CLUSTER of a partition.
    FOR part IN
        SELECT c.relname, x.relname AS index
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_index ix ON ix.indrelid = c.oid JOIN pg_class x ON x.oid = ix.indexrelid
        WHERE i.inhparent = format('serving.%I', relation)::regclass
          AND pg_get_indexdef(ix.indexrelid) LIKE '%q3c_ang2ipix%'
    LOOP
        EXECUTE format('ALTER TABLE serving.%I CLUSTER ON %I', part.relname, part.index);
    END LOOP;
END $$;

-- Make a built table the live serving.emitter_candidates, atomically: the views reading the
-- live table are locked first (the order queries lock in, so no deadlock), the live table is
-- renamed away, the new one renamed in, the views re-created from their own text (so they read
-- the new table: a view is bound to a table, not to its name) and the old table dropped.
-- Waits for running queries (the caller sets lock_timeout and retries; no query is cancelled).
CREATE OR REPLACE FUNCTION serving.swap_candidates(relation text, build integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    live regclass := 'serving.emitter_candidates'::regclass;
    dependent record;
    views text[] := '{}';
    definitions text[] := '{}';
    retired text := relation || '_retired';
    i integer;
BEGIN
    FOR dependent IN
        SELECT DISTINCT r.ev_class::regclass::text AS name, pg_get_viewdef(r.ev_class) AS body
        FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.refobjid = live AND r.ev_class <> live
        ORDER BY 1
    LOOP
        EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', dependent.name);
        views := views || dependent.name;
        definitions := definitions || dependent.body;
    END LOOP;
    LOCK TABLE serving.emitter_candidates IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('ALTER TABLE serving.emitter_candidates RENAME TO %I', retired);
    EXECUTE format('ALTER TABLE serving.%I RENAME TO emitter_candidates', relation);
    FOR i IN 1 .. coalesce(array_length(views, 1), 0) LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', views[i], definitions[i]);
    END LOOP;
    EXECUTE format('DROP TABLE serving.%I', retired);
    UPDATE serving.builds SET swapped_at = clock_timestamp() WHERE build_id = build;
END $$;

-- The first (empty) live table, or the current model's candidates in an existing database.
DO $$
DECLARE
    current integer;
    part record;
    n bigint := 0;
BEGIN
    IF to_regclass('serving.emitter_candidates') IS NOT NULL THEN
        RETURN;
    END IF;
    SELECT model_id INTO current FROM ml.models WHERE is_current;
    PERFORM serving.create_candidates('emitter_candidates');
    IF current IS NOT NULL THEN
        FOR part IN SELECT * FROM serving.source_partitions() AS p LOOP
            n := n + serving.fill_candidates('emitter_candidates', part.p, current);
        END LOOP;
    END IF;
    PERFORM serving.stamp_candidates('emitter_candidates', current);
    PERFORM serving.index_candidates('emitter_candidates');
    INSERT INTO serving.builds (relation, model_id, rows, swapped_at)
    VALUES ('emitter_candidates', current, n, clock_timestamp());
END $$;
ANALYZE serving.emitter_candidates;
