-- IVOA TAP 1.1 TAP_SCHEMA: the five standard tables with exactly the standard columns.
-- Its rows (043, generated from sql/published/xpha.yaml) describe the published views and
-- these tables themselves. Flags are integers (TAP 1.1), arraysize a string ("55", "*").
-- ADQL reserves SIZE, so TAP_SCHEMA lists that column as the delimited identifier '"size"'
-- (TAP 1.1; taplint requires it); the query engine strips the quotes for the translator.
CREATE TABLE IF NOT EXISTS tap_schema.schemas (
    schema_name  text PRIMARY KEY,
    description  text,
    utype        text,
    schema_index integer
);

CREATE TABLE IF NOT EXISTS tap_schema.tables (
    schema_name text NOT NULL REFERENCES tap_schema.schemas (schema_name) ON DELETE CASCADE,
    table_name  text PRIMARY KEY,
    table_type  text NOT NULL CHECK (table_type IN ('table', 'view')),
    description text,
    utype       text,
    table_index integer
);

CREATE TABLE IF NOT EXISTS tap_schema.columns (
    table_name   text NOT NULL REFERENCES tap_schema.tables (table_name) ON DELETE CASCADE,
    column_name  text NOT NULL,
    datatype     text NOT NULL,
    arraysize    text,
    xtype        text,
    "size"       integer,
    description  text,
    utype        text,
    unit         text,
    ucd          text,
    indexed      integer NOT NULL DEFAULT 0 CHECK (indexed IN (0, 1)),
    principal    integer NOT NULL DEFAULT 0 CHECK (principal IN (0, 1)),
    std          integer NOT NULL DEFAULT 0 CHECK (std IN (0, 1)),
    column_index integer,
    PRIMARY KEY (table_name, column_name)
);

CREATE TABLE IF NOT EXISTS tap_schema.keys (
    key_id       text PRIMARY KEY,
    from_table   text NOT NULL REFERENCES tap_schema.tables (table_name) ON DELETE CASCADE,
    target_table text NOT NULL REFERENCES tap_schema.tables (table_name) ON DELETE CASCADE,
    description  text,
    utype        text
);

CREATE TABLE IF NOT EXISTS tap_schema.key_columns (
    key_id        text NOT NULL REFERENCES tap_schema.keys (key_id) ON DELETE CASCADE,
    from_column   text NOT NULL,
    target_column text NOT NULL,
    PRIMARY KEY (key_id, from_column, target_column)
);

COMMENT ON SCHEMA tap_schema IS 'IVOA TAP 1.1 TAP_SCHEMA: what this service publishes.';
GRANT SELECT ON ALL TABLES IN SCHEMA tap_schema TO {tap_role};
