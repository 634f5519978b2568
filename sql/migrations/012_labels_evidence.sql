-- labels.source_evidence: one row per Gaia source that has any matched evidence (a few hundred
-- thousand rows, not 220 million), with the same label logic as labels.training_labels, which
-- becomes gaia.source LEFT JOIN this view. Reading only the labelled set (training phase 2,
-- `xpha labels summary`) no longer scans every Gaia source.
CREATE OR REPLACE VIEW labels.source_evidence AS
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
), counted AS (
    SELECT coalesce(s.source_id, l.source_id) AS source_id,
           coalesce(s.n_pos, 0) + coalesce(l.n_pos, 0) AS n_pos,
           coalesce(s.n_neg, 0) + coalesce(l.n_neg, 0) AS n_neg,
           s.ew_halpha, s.ew_halpha_err,
           nullif(concat_ws('; ', s.evidence, l.evidence), '') AS evidence,
           coalesce(s.n_pos, 0)::integer AS n_sdss_positive,
           coalesce(s.n_neg, 0)::integer AS n_sdss_negative,
           coalesce(l.n_pos, 0)::integer AS n_lamost_positive,
           coalesce(l.n_neg, 0)::integer AS n_lamost_negative,
           coalesce(l.nebular, false) AS nebular
    FROM sdss s FULL JOIN lamost l ON l.source_id = s.source_id
)
SELECT source_id,
       CASE WHEN n_pos > 0 THEN 'positive' WHEN n_neg > 0 THEN 'negative'
            ELSE 'unlabelled' END                       AS label,
       CASE WHEN n_pos > 0 THEN true WHEN n_neg > 0 THEN false END AS is_emitter,
       ew_halpha::real                                  AS ew_halpha,
       ew_halpha_err::real                              AS ew_halpha_err,
       evidence,
       (n_pos > 0 AND n_neg > 0)                        AS conflict,
       n_sdss_positive, n_sdss_negative, n_lamost_positive, n_lamost_negative, nebular
FROM counted;

COMMENT ON VIEW labels.source_evidence IS
  'Gaia sources with matched SDSS/LAMOST evidence (unambiguous matches only) and their label.';

CREATE OR REPLACE VIEW labels.training_labels AS
SELECT g.source_id,
       coalesce(e.label, 'unlabelled')     AS label,
       e.is_emitter,
       e.ew_halpha,
       e.ew_halpha_err,
       e.evidence,
       coalesce(e.conflict, false)         AS conflict,
       coalesce(e.n_sdss_positive, 0)      AS n_sdss_positive,
       coalesce(e.n_sdss_negative, 0)      AS n_sdss_negative,
       coalesce(e.n_lamost_positive, 0)    AS n_lamost_positive,
       coalesce(e.n_lamost_negative, 0)    AS n_lamost_negative,
       coalesce(e.nebular, false)          AS nebular
FROM gaia.source g
LEFT JOIN labels.source_evidence e ON e.source_id = g.source_id;
