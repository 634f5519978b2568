-- The two small published tables that tests/data/adql/*.yaml query, with their TAP_SCHEMA rows,
-- readable by the TAP role. {schema} and {role} are filled in by the tests; {{ }} is a brace.
CREATE TABLE {schema}.adqltest_stars (
    source_id bigint PRIMARY KEY, ra double precision, dec double precision, mag real,
    name text, emitter boolean, "Mixed Case" integer, size integer, flux double precision[]
);
INSERT INTO {schema}.adqltest_stars VALUES
    (1, 10.0, 20.0, 12.5, 'alpha', true, 7, 1, '{{1.0,2.0}}'),
    (2, 10.001, 20.001, 13.0, 'beta', false, 8, 2, '{{3.0,4.0}}'),
    (3, 10.5, 20.0, 14.25, 'Gamma', true, 9, 3, NULL),
    (4, 200.0, -30.0, 15.0, 'delta', false, 10, 4, NULL),
    (5, 359.9, 0.0, NULL, 'it''s', NULL, NULL, 5, NULL);
CREATE INDEX ON {schema}.adqltest_stars (q3c_ang2ipix(ra, dec));
CREATE TABLE {schema}.adqltest_spectra (
    source_id bigint, ew double precision, ra double precision, dec double precision,
    band text
);
INSERT INTO {schema}.adqltest_spectra VALUES
    (1, 5.5, 10.0, 20.0, 'r'), (2, -1.0, 10.0011, 20.0011, 'r'), (3, 12.0, 10.5, 20.0001, 'i'),
    (6, 3.0, 100.0, 50.0, 'r');
GRANT SELECT ON {schema}.adqltest_stars, {schema}.adqltest_spectra TO {role};
INSERT INTO tap_schema.tables (schema_name, table_name, table_type, description) VALUES
    ('{schema}', '{schema}.adqltest_stars', 'table', 'ADQL test stars'),
    ('{schema}', '{schema}.adqltest_spectra', 'table', 'ADQL test spectra');
INSERT INTO tap_schema.columns (table_name, column_name, datatype, arraysize, unit, ucd,
                                description, indexed, principal, std, column_index) VALUES
    ('{schema}.adqltest_stars', 'source_id', 'long', NULL, NULL, 'meta.id;meta.main', 'id',
     1, 1, 0, 1),
    ('{schema}.adqltest_stars', 'ra', 'double', NULL, 'deg', 'pos.eq.ra', 'RA', 1, 1, 0, 2),
    ('{schema}.adqltest_stars', 'dec', 'double', NULL, 'deg', 'pos.eq.dec', 'Dec', 1, 1, 0, 3),
    ('{schema}.adqltest_stars', 'mag', 'float', NULL, 'mag', 'phot.mag', 'G', 0, 1, 0, 4),
    ('{schema}.adqltest_stars', 'name', 'char', '*', NULL, 'meta.id', 'name', 0, 0, 0, 5),
    ('{schema}.adqltest_stars', 'emitter', 'boolean', NULL, NULL, NULL, 'flag', 0, 0, 0, 6),
    ('{schema}.adqltest_stars', 'Mixed Case', 'int', NULL, NULL, NULL, 'quoted', 0, 0, 0, 7),
    ('{schema}.adqltest_stars', 'size', 'int', NULL, NULL, NULL, 'reserved word', 0, 0, 0, 8),
    ('{schema}.adqltest_stars', 'flux', 'double', '*', 'W', NULL, 'array', 0, 0, 0, 9),
    ('{schema}.adqltest_spectra', 'source_id', 'long', NULL, NULL, 'meta.id', 'id', 0, 1, 0, 1),
    ('{schema}.adqltest_spectra', 'ew', 'double', NULL, 'Angstrom', NULL, 'EW', 0, 1, 0, 2),
    ('{schema}.adqltest_spectra', 'ra', 'double', NULL, 'deg', NULL, 'RA', 0, 1, 0, 3),
    ('{schema}.adqltest_spectra', 'dec', 'double', NULL, 'deg', NULL, 'Dec', 0, 1, 0, 4),
    ('{schema}.adqltest_spectra', 'band', 'char', '*', NULL, NULL, 'band', 0, 0, 0, 5);
