-- UWS 1.1 async TAP jobs: the job store, its uploads and the servers that execute them.
-- Results live in files (settings.var_dir / "uws" / job_id); only their paths are here.

CREATE TABLE IF NOT EXISTS uws.jobs (
    job_id              text        PRIMARY KEY,
    run_id              text,
    owner_id            text,
    phase               text        NOT NULL DEFAULT 'PENDING' CHECK (phase IN (
                            'PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'ABORTED',
                            'UNKNOWN', 'HELD', 'SUSPENDED', 'ARCHIVED')),
    parameters          jsonb       NOT NULL,          -- lower-case name -> value, as received
    creation_time       timestamptz NOT NULL DEFAULT now(),
    queued_time         timestamptz,                   -- orders the queue (first come first served)
    start_time          timestamptz,
    end_time            timestamptz,
    execution_duration  integer     NOT NULL CHECK (execution_duration >= 0),  -- seconds, 0 = none
    destruction         timestamptz NOT NULL,
    quote               timestamptz,
    executor            uuid,                          -- uws.servers row running it (EXECUTING)
    attempts            integer     NOT NULL DEFAULT 0, -- executions started (restarts re-queue)
    result_path         text,
    result_type         text,                          -- MIME type of the result file
    result_size         bigint,
    error_type          text        CHECK (error_type IN ('fatal', 'transient')),
    error_message       text
);
COMMENT ON TABLE uws.jobs IS 'TAP async (UWS 1.1) jobs; the database is also the job queue.';

-- The queue: QUEUED jobs in arrival order, claimed with FOR UPDATE SKIP LOCKED.
CREATE INDEX IF NOT EXISTS jobs_queue_idx ON uws.jobs (queued_time) WHERE phase = 'QUEUED';
-- The job list (newest first, PHASE and AFTER filters) and the destruction reaper.
CREATE INDEX IF NOT EXISTS jobs_creation_idx ON uws.jobs (creation_time DESC);
CREATE INDEX IF NOT EXISTS jobs_destruction_idx ON uws.jobs (destruction);
CREATE INDEX IF NOT EXISTS jobs_executing_idx ON uws.jobs (executor) WHERE phase = 'EXECUTING';

-- TAP_UPLOAD parts of a job, kept until the job is destroyed so that a restart can rerun it.
CREATE TABLE IF NOT EXISTS uws.job_uploads (
    job_id   text  NOT NULL REFERENCES uws.jobs (job_id) ON DELETE CASCADE,
    name     text  NOT NULL,                           -- the multipart part name
    content  bytea NOT NULL,
    PRIMARY KEY (job_id, name)
);
COMMENT ON TABLE uws.job_uploads IS 'Inline uploads of async jobs (multipart parts).';

-- Live job servers: a server whose heartbeat stops (kill -9, crash) has its jobs recovered.
CREATE TABLE IF NOT EXISTS uws.servers (
    server_id  uuid        PRIMARY KEY,
    host       text        NOT NULL,
    pid        integer     NOT NULL,
    started    timestamptz NOT NULL DEFAULT now(),
    heartbeat  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE uws.servers IS 'Processes executing UWS jobs, with a heartbeat for crash recovery.';
