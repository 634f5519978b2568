-- Labels: SDSS H-alpha measurements, LAMOST emission-line catalogues, their Q3C crossmatches
-- with Gaia, and the per-source training labels that the models learn from.
--
-- Every decision is recorded: each spectrum is either measured (values, flags, verdict) or
-- unmeasurable (with a reason); each catalogue entry keeps its published class; each match
-- keeps its separation and how many Gaia candidates competed for it.

-- --- SDSS: one row per spec-PLATE-MJD-FIBER.fits measured -------------------------------------
CREATE TABLE IF NOT EXISTS labels.sdss_spectra (
    spec_id          text PRIMARY KEY,               -- 'PPPP-MMMMM-FFFF' (plate-mjd-fiber)
    plate            integer NOT NULL,
    mjd              integer NOT NULL,
    fiber            integer NOT NULL,
    specobjid        numeric(20, 0),                 -- unsigned 64-bit in SDSS: beyond bigint
    file_name        text,
    file_sha256      text,
    class            text,                           -- SPECOBJ CLASS: STAR / GALAXY / QSO
    subclass         text,
    z                double precision,               -- catalogue redshift (rest frame from it)
    z_err            real,
    z_warning        integer,
    sn_median        real,                           -- SPECOBJ SN_MEDIAN_ALL
    ra               double precision,               -- deg, PLUG_RA (ICRS)
    dec              double precision,               -- deg, PLUG_DEC
    epoch            double precision GENERATED ALWAYS AS (2000.0 + (mjd - 51544.5) / 365.25) STORED,
    status           text NOT NULL CHECK (status IN ('measured', 'unmeasurable')),
    reason           text,                           -- why unmeasurable (NULL when measured)
    ew_halpha        real,                           -- A, emission positive, vs sideband continuum
    ew_halpha_err    real,                           -- A, propagated from ivar
    ew_model         real,                           -- A, emission positive, vs pipeline model
    ew_model_err     real,
    peak_sigma       real,                           -- (max flux - continuum) / sigma at the peak
    continuum        real,                           -- 1e-17 erg/s/cm2/A, sideband mean
    continuum_snr    real,                           -- per-pixel S/N of the sideband continuum
    n_line_pix       smallint,                       -- good pixels in the line window
    n_bad_pix        smallint,                       -- masked / ivar = 0 pixels in the windows
    flags            text[] NOT NULL DEFAULT '{}',   -- masked_pixels, gap, sky_residual, ...
    is_emitter       boolean,                        -- the label rule's verdict on the line alone
    label            text CHECK (label IN ('positive', 'negative')),  -- NULL = not usable
    label_reason     text,                           -- why that label (or why none)
    measured_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'measured') = (reason IS NULL))
);
CREATE INDEX IF NOT EXISTS sdss_spectra_q3c_idx ON labels.sdss_spectra (q3c_ang2ipix(ra, dec));
COMMENT ON TABLE labels.sdss_spectra IS
  'H-alpha measured in SDSS spectra (vacuum 6564.61 A, rest frame by catalogue z): EW vs sideband '
  'continuum and vs the pipeline model, peak significance, flags, and the label rule''s verdict.';

-- --- LAMOST (and other) H-alpha emission-line catalogues -----------------------------------
CREATE TABLE IF NOT EXISTS labels.lamost_els (
    catalogue    text NOT NULL,                       -- e.g. hou2016, liu2019
    entry_id     text NOT NULL,                       -- the catalogue's designation / row id
    ra           double precision NOT NULL,           -- deg, J2000 (ICRS)
    dec          double precision NOT NULL,
    epoch        double precision NOT NULL DEFAULT 2000.0,  -- assumed epoch of the positions
    obj_class    text,                                -- CBe, HAeBe, HII-region, unknown, OB, ...
    halpha_type  text,                                -- published line-profile class (I..VI)
    is_stellar   boolean NOT NULL,                    -- false for HII regions / nebulae
    is_emitter   boolean,                             -- the catalogue's H-alpha verdict
    label        text CHECK (label IN ('positive', 'negative')),  -- NULL = not a stellar label
    file_name    text,
    extra        jsonb NOT NULL DEFAULT '{}'::jsonb,  -- every other column of the source row
    PRIMARY KEY (catalogue, entry_id)
);
CREATE INDEX IF NOT EXISTS lamost_els_q3c_idx ON labels.lamost_els (q3c_ang2ipix(ra, dec));
COMMENT ON TABLE labels.lamost_els IS
  'LAMOST H-alpha emission-line catalogues (Hou 2016, Liu 2019, ...); HII-region and nebular '
  'entries are kept but are never stellar positives.';

-- --- Crossmatches: one row per survey entry, its best Gaia match -----------------------------
-- Gaia positions are propagated from ref_epoch (2016.0) to the survey epoch with pmra/pmdec
-- before the distance is measured; sources without proper motion are used as they are.
CREATE TABLE IF NOT EXISTS xmatch.gaia_sdss (
    spec_id            text PRIMARY KEY REFERENCES labels.sdss_spectra (spec_id) ON DELETE CASCADE,
    source_id          bigint NOT NULL,               -- best (nearest) Gaia source
    separation_arcsec  double precision NOT NULL,     -- at the survey epoch
    n_candidates       integer NOT NULL,              -- Gaia sources within the radius
    radius_arcsec      double precision NOT NULL,
    survey_epoch       double precision NOT NULL,
    matched_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS gaia_sdss_source_idx ON xmatch.gaia_sdss (source_id);

CREATE TABLE IF NOT EXISTS xmatch.gaia_lamost (
    catalogue          text NOT NULL,
    entry_id           text NOT NULL,
    source_id          bigint NOT NULL,
    separation_arcsec  double precision NOT NULL,
    n_candidates       integer NOT NULL,
    radius_arcsec      double precision NOT NULL,
    survey_epoch       double precision NOT NULL,
    matched_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (catalogue, entry_id),
    FOREIGN KEY (catalogue, entry_id) REFERENCES labels.lamost_els ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS gaia_lamost_source_idx ON xmatch.gaia_lamost (source_id);
COMMENT ON TABLE xmatch.gaia_sdss IS 'Best Gaia DR3 match of each SDSS spectrum (Q3C, proper motions applied).';
COMMENT ON TABLE xmatch.gaia_lamost IS 'Best Gaia DR3 match of each LAMOST catalogue entry (Q3C, proper motions applied).';

-- --- Training labels: one row per gaia.source row -------------------------------------------
-- Evidence counts only from unambiguous matches (exactly one Gaia candidate within the radius):
-- a fibre on a close pair measures a blend. Any positive evidence makes the source positive
-- (Be discs and T Tauri accretion come and go, so one epoch of emission is real emission);
-- disagreeing evidence is kept and flagged as a conflict. HII-region/nebular entries are
-- recorded in the evidence but never make a source positive.
CREATE OR REPLACE VIEW labels.training_labels AS
WITH sdss AS (
    SELECT x.source_id,
           count(*) FILTER (WHERE s.label = 'positive') AS n_pos,
           count(*) FILTER (WHERE s.label = 'negative') AS n_neg,
           (array_agg(s.ew_halpha ORDER BY s.ew_halpha_err ASC NULLS LAST)
               FILTER (WHERE s.status = 'measured'))[1] AS ew_halpha,
           (array_agg(s.ew_halpha_err ORDER BY s.ew_halpha_err ASC NULLS LAST)
               FILTER (WHERE s.status = 'measured'))[1] AS ew_halpha_err,
           string_agg(format('sdss:%s %s', s.spec_id,
                             CASE WHEN s.status = 'measured'
                                  THEN format('EW=%s+-%s %s', round(s.ew_halpha::numeric, 2),
                                              round(s.ew_halpha_err::numeric, 2),
                                              coalesce(s.label, 'unusable'))
                                  ELSE 'unmeasurable' END),
                      '; ' ORDER BY s.spec_id) AS evidence
    FROM xmatch.gaia_sdss x
    JOIN labels.sdss_spectra s USING (spec_id)
    WHERE x.n_candidates = 1
    GROUP BY x.source_id
), lamost AS (
    SELECT x.source_id,
           count(*) FILTER (WHERE l.label = 'positive') AS n_pos,
           count(*) FILTER (WHERE l.label = 'negative') AS n_neg,
           bool_or(NOT l.is_stellar) AS nebular,
           string_agg(format('lamost:%s %s', l.catalogue,
                             concat_ws(' ', l.obj_class, l.halpha_type,
                                       CASE WHEN NOT l.is_stellar THEN '(nebular, not stellar)'
                                            ELSE l.label END)),
                      '; ' ORDER BY l.catalogue, l.entry_id) AS evidence
    FROM xmatch.gaia_lamost x
    JOIN labels.lamost_els l USING (catalogue, entry_id)
    WHERE x.n_candidates = 1
    GROUP BY x.source_id
)
SELECT g.source_id,
       CASE WHEN coalesce(s.n_pos, 0) + coalesce(l.n_pos, 0) > 0 THEN 'positive'
            WHEN coalesce(s.n_neg, 0) + coalesce(l.n_neg, 0) > 0 THEN 'negative'
            ELSE 'unlabelled' END                                       AS label,
       CASE WHEN coalesce(s.n_pos, 0) + coalesce(l.n_pos, 0) > 0 THEN true
            WHEN coalesce(s.n_neg, 0) + coalesce(l.n_neg, 0) > 0 THEN false
            END                                                         AS is_emitter,
       s.ew_halpha::real                                                AS ew_halpha,
       s.ew_halpha_err::real                                            AS ew_halpha_err,
       nullif(concat_ws('; ', s.evidence, l.evidence), '')              AS evidence,
       (coalesce(s.n_pos, 0) + coalesce(l.n_pos, 0) > 0
        AND coalesce(s.n_neg, 0) + coalesce(l.n_neg, 0) > 0)            AS conflict,
       coalesce(s.n_pos, 0)::integer                                    AS n_sdss_positive,
       coalesce(s.n_neg, 0)::integer                                    AS n_sdss_negative,
       coalesce(l.n_pos, 0)::integer                                    AS n_lamost_positive,
       coalesce(l.n_neg, 0)::integer                                    AS n_lamost_negative,
       coalesce(l.nebular, false)                                       AS nebular
FROM gaia.source g
LEFT JOIN sdss s ON s.source_id = g.source_id
LEFT JOIN lamost l ON l.source_id = g.source_id;

COMMENT ON VIEW labels.training_labels IS
  'One row per Gaia source: positive / negative / unlabelled, is_emitter (NULL when unlabelled), '
  'best SDSS EW(H-alpha) in A (emission positive), the evidence behind the label, conflicts.';
