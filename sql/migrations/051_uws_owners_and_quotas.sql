-- Who a job belongs to, and what it holds, so that one client can neither see nor exhaust
-- what others own (tap_service/uws: job list per owner, quotas per client).
ALTER TABLE uws.jobs
    ADD COLUMN IF NOT EXISTS owner_key    text,                       -- 'user:NAME' or 'cookie:SHA256'
    ADD COLUMN IF NOT EXISTS client       text,                       -- quota key: 'user:NAME' or 'ip:ADDRESS'
    ADD COLUMN IF NOT EXISTS upload_bytes bigint NOT NULL DEFAULT 0;  -- bytes in uws.job_uploads
COMMENT ON COLUMN uws.jobs.owner_key IS 'Whose job list shows the job (NULL: nobody''s).';
COMMENT ON COLUMN uws.jobs.client IS 'Quota key of the creator (authenticated user or address).';

-- The job list of one owner, newest first; the quota counts of waiting jobs.
CREATE INDEX IF NOT EXISTS jobs_owner_idx ON uws.jobs (owner_key, creation_time DESC);
CREATE INDEX IF NOT EXISTS jobs_waiting_client_idx ON uws.jobs (client)
    WHERE phase IN ('PENDING', 'QUEUED', 'EXECUTING');

-- A job that ended keeps no uploads: they were kept only so that a restart could rerun it.
CREATE OR REPLACE FUNCTION uws.drop_uploads_of_ended_job() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM uws.job_uploads WHERE job_id = NEW.job_id;
    NEW.upload_bytes := 0;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS jobs_drop_uploads_when_ended ON uws.jobs;
CREATE TRIGGER jobs_drop_uploads_when_ended
    BEFORE UPDATE OF phase ON uws.jobs
    FOR EACH ROW WHEN (NEW.phase IN ('COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED')
                       AND OLD.phase IS DISTINCT FROM NEW.phase)
    EXECUTE FUNCTION uws.drop_uploads_of_ended_job();
