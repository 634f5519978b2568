-- Server settings for the compose `db` service (the embedded cluster writes the same ones into
-- postgresql.conf; see sql/cluster.py). Applied once, when the volume is first initialised.
ALTER SYSTEM SET shared_buffers = '512MB';
ALTER SYSTEM SET work_mem = '32MB';
ALTER SYSTEM SET maintenance_work_mem = '512MB';
ALTER SYSTEM SET max_wal_size = '4GB';
ALTER SYSTEM SET synchronous_commit = off;
ALTER SYSTEM SET jit = off;
