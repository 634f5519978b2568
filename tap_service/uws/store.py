"""The job store: every read and write of ``uws.*``, and the queue, in PostgreSQL.

The database is the single source of truth, so a job survives a restart of the server and
several server processes may share one queue: workers claim QUEUED jobs with
``FOR UPDATE SKIP LOCKED``, and each state change is one guarded UPDATE (``WHERE phase = ...``)
so that a late worker can never overwrite an ABORT, a timeout or a crash recovery.
"""

from __future__ import annotations

import builtins
import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

from tap_service.uws.model import Job, JobSummary, Phase

#: The store's connections: autocommit, rows as dicts.
Conn = psycopg.Connection[DictRow]

JOB_COLUMNS = (
    "job_id, run_id, owner_id, owner_key, client, phase, parameters, creation_time, start_time,"
    " end_time, execution_duration, destruction, quote, attempts, result_path, result_type,"
    " result_size, error_type, error_message"
)
QUEUE_LOCK = 7_341_050  # pg_advisory_xact_lock key: serialises the queue-size check

SQL_CREATE = f"""
INSERT INTO uws.jobs (job_id, run_id, owner_id, owner_key, client, upload_bytes, parameters,
                      creation_time, execution_duration, destruction, quote)
VALUES (%(job_id)s, %(run_id)s, %(owner_id)s, %(owner_key)s, %(client)s, %(upload_bytes)s,
        %(parameters)s, date_trunc('milliseconds', clock_timestamp()), %(execution_duration)s,
        now() + make_interval(secs => %(lifetime)s),
        now() + make_interval(secs => %(execution_duration)s))
RETURNING {JOB_COLUMNS}"""
SQL_ADD_UPLOAD = "INSERT INTO uws.job_uploads (job_id, name, content) VALUES (%s, %s, %s)"
SQL_GET = f"SELECT {JOB_COLUMNS} FROM uws.jobs WHERE job_id = %s"
SQL_UPLOADS = "SELECT name, content FROM uws.job_uploads WHERE job_id = %s"
SQL_DELETE = "DELETE FROM uws.jobs WHERE job_id = %s RETURNING job_id, result_path"
SQL_QUEUED_COUNT = "SELECT count(*) FROM uws.jobs WHERE phase = 'QUEUED'"
# What waiting jobs hold, of everyone and of one client (under QUEUE_LOCK).
SQL_HOLDINGS = """
SELECT count(*) FILTER (WHERE phase IN ('PENDING', 'QUEUED')) AS jobs,
       count(*) FILTER (WHERE phase IN ('PENDING', 'QUEUED') AND client = %(client)s) AS my_jobs,
       coalesce(sum(upload_bytes), 0) AS bytes,
       coalesce(sum(upload_bytes) FILTER (WHERE client = %(client)s), 0) AS my_bytes
FROM uws.jobs WHERE phase IN ('PENDING', 'QUEUED', 'EXECUTING')"""
SQL_QUEUE = f"""
UPDATE uws.jobs SET phase = 'QUEUED', queued_time = clock_timestamp()
WHERE job_id = %s AND phase = 'PENDING' RETURNING {JOB_COLUMNS}"""
SQL_CLAIM = f"""
UPDATE uws.jobs SET phase = 'EXECUTING', start_time = now(), executor = %(server)s,
                    attempts = attempts + 1
WHERE job_id = (SELECT job_id FROM uws.jobs WHERE phase = 'QUEUED'
                ORDER BY queued_time LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING {JOB_COLUMNS}"""
SQL_COMPLETE = """
UPDATE uws.jobs SET phase = 'COMPLETED', end_time = now(), executor = NULL,
                    result_path = %(path)s, result_type = %(type)s, result_size = %(size)s
WHERE job_id = %(job_id)s AND phase = 'EXECUTING' AND executor = %(server)s"""
SQL_FAIL = """
UPDATE uws.jobs SET phase = 'ERROR', end_time = now(), executor = NULL,
                    error_type = %(error_type)s, error_message = %(message)s
WHERE job_id = %(job_id)s AND phase = 'EXECUTING' AND executor = %(server)s"""
SQL_ABORT = f"""
UPDATE uws.jobs SET phase = 'ABORTED', end_time = now(), executor = NULL
WHERE job_id = %s AND phase IN ('PENDING', 'QUEUED', 'EXECUTING', 'HELD', 'SUSPENDED')
RETURNING {JOB_COLUMNS}"""
SQL_SET_DURATION = """
UPDATE uws.jobs SET execution_duration = %s WHERE job_id = %s AND phase = 'PENDING'"""
SQL_SET_PARAMETERS = """
UPDATE uws.jobs SET parameters = parameters || %(parameters)s,
                    run_id = coalesce(%(run_id)s, run_id)
WHERE job_id = %(job_id)s AND phase = 'PENDING'"""
SQL_COUNT_UPLOAD_BYTES = """
UPDATE uws.jobs SET upload_bytes = (
    SELECT coalesce(sum(octet_length(content)), 0) FROM uws.job_uploads WHERE job_id = %s)
WHERE job_id = %s"""
SQL_PUT_UPLOAD = """
INSERT INTO uws.job_uploads (job_id, name, content) VALUES (%s, %s, %s)
ON CONFLICT (job_id, name) DO UPDATE SET content = EXCLUDED.content"""
SQL_SET_DESTRUCTION = "UPDATE uws.jobs SET destruction = %s WHERE job_id = %s"
# executionDuration: jobs of this server past their deadline end in ERROR (the caller then
# cancels their database queries).
SQL_EXPIRE_OVERDUE = """
UPDATE uws.jobs SET phase = 'ERROR', end_time = now(), executor = NULL, error_type = 'fatal',
       error_message = format('execution duration exceeded: the job ran longer than its '
                              'executionDuration of %%s s and was cancelled', execution_duration)
WHERE phase = 'EXECUTING' AND executor = %s AND execution_duration > 0
  AND start_time + make_interval(secs => execution_duration) < now()
RETURNING job_id"""
SQL_REQUEUE_MINE = """
UPDATE uws.jobs SET phase = 'QUEUED', queued_time = clock_timestamp(), start_time = NULL,
                    executor = NULL, attempts = greatest(attempts - 1, 0)
WHERE phase = 'EXECUTING' AND executor = %s RETURNING job_id"""
SQL_DESTROY_EXPIRED = """
DELETE FROM uws.jobs WHERE destruction < now() RETURNING job_id, result_path"""
SQL_REGISTER = """
INSERT INTO uws.servers (server_id, host, pid) VALUES (%s, %s, %s)
ON CONFLICT (server_id) DO UPDATE SET heartbeat = now()"""
SQL_HEARTBEAT = "UPDATE uws.servers SET heartbeat = now() WHERE server_id = %s"
SQL_UNREGISTER = "DELETE FROM uws.servers WHERE server_id = %s"
SQL_DEAD_SERVERS = """
DELETE FROM uws.servers WHERE heartbeat < now() - make_interval(secs => %s) RETURNING server_id"""
# Crash recovery: EXECUTING jobs whose server is gone are re-queued while attempts remain,
# else they end in ERROR with a message that says why. None is left EXECUTING.
SQL_RECOVER = """
WITH orphans AS (
    SELECT job_id FROM uws.jobs j
    WHERE phase = 'EXECUTING'
      AND NOT EXISTS (SELECT 1 FROM uws.servers s WHERE s.server_id = j.executor)
    FOR UPDATE SKIP LOCKED)
UPDATE uws.jobs j SET
    phase = CASE WHEN attempts < %(max_attempts)s THEN 'QUEUED' ELSE 'ERROR' END,
    queued_time = CASE WHEN attempts < %(max_attempts)s THEN clock_timestamp() END,
    start_time = CASE WHEN attempts < %(max_attempts)s THEN NULL ELSE start_time END,
    end_time = CASE WHEN attempts < %(max_attempts)s THEN NULL ELSE now() END,
    executor = NULL,
    error_type = CASE WHEN attempts < %(max_attempts)s THEN NULL ELSE 'transient' END,
    error_message = CASE WHEN attempts < %(max_attempts)s THEN NULL ELSE format(
        'the server executing this job stopped (crash or kill) %%s times; '
        'the job was not retried again: submit it anew', attempts) END
FROM orphans WHERE j.job_id = orphans.job_id
RETURNING j.job_id, j.phase"""


class QueueFull(Exception):
    """The bounded queue holds its maximum of QUEUED jobs."""


class OverQuota(Exception):
    """A new job or upload would take a client, or everyone, past a limit; says which."""

    def __init__(self, message: str, *, everyone: bool) -> None:
        super().__init__(message)
        self.everyone = everyone


@dataclass(frozen=True)
class Quota:
    """What waiting (PENDING, QUEUED) jobs and their stored uploads may hold."""

    jobs_per_client: int
    jobs: int
    upload_bytes_per_client: int
    upload_bytes: int


@dataclass(frozen=True)
class Holder:
    """Who creates a job: the UWS owner (authenticated user), the key of the job list it
    shows in, and the quota key."""

    owner_id: str | None = None
    owner_key: str | None = None
    client: str | None = None


class ConnectionPool:
    """A few autocommit connections reused across threads (no connect per request)."""

    def __init__(self, url: str, max_idle: int = 8) -> None:
        self._url = url
        self._idle: queue.LifoQueue[Conn] = queue.LifoQueue(maxsize=max_idle)

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(self._url, autocommit=True, row_factory=dict_row)
        try:
            yield conn
        except BaseException:
            conn.close()  # its state is unknown: never hand it out again
            raise
        if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.close()
            return
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            conn.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _job(row: DictRow) -> Job:
    return Job(
        job_id=str(row["job_id"]),
        phase=Phase(str(row["phase"])),
        parameters={str(k): str(v) for k, v in dict(row["parameters"]).items()},
        creation_time=row["creation_time"],
        execution_duration=int(row["execution_duration"]),
        destruction=row["destruction"],
        run_id=row["run_id"],
        owner_id=row["owner_id"],
        owner_key=row["owner_key"],
        client=row["client"],
        quote=row["quote"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        attempts=int(row["attempts"]),
        result_path=row["result_path"],
        result_type=row["result_type"],
        result_size=row["result_size"],
        error_type=row["error_type"],
        error_message=row["error_message"],
    )


class JobStore:
    """Jobs in ``uws.jobs``; every method is one short transaction."""

    def __init__(self, url: str) -> None:
        self.pool = ConnectionPool(url)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.pool.close()

    # --- jobs ---------------------------------------------------------------------------
    def create(
        self,
        job_id: str,
        parameters: Mapping[str, str],
        uploads: Mapping[str, bytes],
        *,
        run_id: str | None,
        execution_duration: int,
        lifetime_s: int,
        queue_size: int | None = None,
        holder: Holder = Holder(),
        quota: Quota | None = None,
    ) -> Job:
        """A new PENDING job; with ``queue_size`` QUEUED at once, in the same transaction
        (a full queue raises QueueFull, a quota OverQuota, and nothing is created)."""
        upload_bytes = sum(len(c) for c in uploads.values())
        args = {
            "job_id": job_id,
            "run_id": run_id,
            "owner_id": holder.owner_id,
            "owner_key": holder.owner_key,
            "client": holder.client,
            "upload_bytes": upload_bytes,
            "parameters": Jsonb(dict(parameters)),
            "execution_duration": execution_duration,
            "lifetime": lifetime_s,
        }
        with self.pool.connection() as conn, conn.transaction():
            if quota is not None:
                self._check_quota(conn, holder.client, quota, new_jobs=1, new_bytes=upload_bytes)
            row = conn.execute(SQL_CREATE, args).fetchone()
            if uploads:
                with conn.cursor() as cur:
                    cur.executemany(SQL_ADD_UPLOAD, [(job_id, n, c) for n, c in uploads.items()])
            if queue_size is not None:
                row = self._enqueue(conn, job_id, queue_size)
        assert row is not None
        return _job(row)

    @staticmethod
    def _check_quota(
        conn: Conn, client: str | None, quota: Quota, *, new_jobs: int, new_bytes: int
    ) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (QUEUE_LOCK,))
        held = conn.execute(SQL_HOLDINGS, {"client": client}).fetchone()
        assert held is not None
        if new_jobs and held["my_jobs"] + new_jobs > quota.jobs_per_client:
            raise OverQuota(
                f"you hold {held['my_jobs']} PENDING or QUEUED jobs, the most one "
                "client may; run, wait for or delete some first",
                everyone=False,
            )
        if new_bytes and held["my_bytes"] + new_bytes > quota.upload_bytes_per_client:
            raise OverQuota(
                f"your waiting jobs hold {held['my_bytes']} bytes of uploads; "
                f"{new_bytes} more would pass the {quota.upload_bytes_per_client} "
                "bytes one client may store",
                everyone=False,
            )
        if new_jobs and held["jobs"] + new_jobs > quota.jobs:
            raise OverQuota(
                f"the service holds {held['jobs']} PENDING or QUEUED jobs, its limit", everyone=True
            )
        if new_bytes and held["bytes"] + new_bytes > quota.upload_bytes:
            raise OverQuota("the service stores as many job uploads as it may", everyone=True)

    def get(self, job_id: str) -> Job | None:
        with self.pool.connection() as conn:
            row = conn.execute(SQL_GET, (job_id,)).fetchone()
        return _job(row) if row else None

    def uploads(self, job_id: str) -> dict[str, bytes]:
        with self.pool.connection() as conn:
            rows = conn.execute(SQL_UPLOADS, (job_id,)).fetchall()
        return {str(r["name"]): bytes(r["content"]) for r in rows}

    def list(
        self,
        owner_key: str,
        phases: Iterable[Phase] = (),
        after: datetime | None = None,
        last: int | None = None,
        limit: int = 1000,
    ) -> list[JobSummary]:
        """One owner's jobs, newest first; UWS 1.1 PHASE / AFTER / LAST filters, all done by
        the database."""
        where = ["owner_key = %s", "phase <> 'ARCHIVED'"]
        args: builtins.list[object] = [owner_key]
        wanted = [p.value for p in phases]
        if wanted:
            where[1] = "phase = ANY(%s)"
            args.append(wanted)
        if after is not None:
            where.append("creation_time > %s")
            args.append(after)
        args.append(min(last, limit) if last is not None else limit)
        sql = (
            "SELECT job_id, phase, creation_time, run_id, owner_id FROM uws.jobs"
            f" WHERE {' AND '.join(where)} ORDER BY creation_time DESC LIMIT %s"
        )
        with self.pool.connection() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [
            JobSummary(
                r["job_id"], Phase(r["phase"]), r["creation_time"], r["run_id"], r["owner_id"]
            )
            for r in rows
        ]

    def delete(self, job_id: str) -> bool:
        """Remove a job (its uploads go with it); whether there was one."""
        with self.pool.connection() as conn:
            return conn.execute(SQL_DELETE, (job_id,)).fetchone() is not None

    def set_execution_duration(self, job_id: str, seconds: int) -> bool:
        with self.pool.connection() as conn:
            return conn.execute(SQL_SET_DURATION, (seconds, job_id)).rowcount == 1

    def set_parameters(
        self,
        job_id: str,
        parameters: Mapping[str, str],
        uploads: Mapping[str, bytes],
        quota: Quota | None = None,
    ) -> bool:
        """Add or replace parameters and upload parts of a PENDING job (False otherwise)."""
        args = {
            "job_id": job_id,
            "parameters": Jsonb(dict(parameters)),
            "run_id": parameters.get("runid"),
        }
        with self.pool.connection() as conn, conn.transaction():
            job = conn.execute(SQL_GET, (job_id,)).fetchone()
            if job is None:
                return False
            if quota is not None and uploads:
                self._check_quota(
                    conn,
                    job["client"],
                    quota,
                    new_jobs=0,
                    new_bytes=sum(len(c) for c in uploads.values()),
                )
            if conn.execute(SQL_SET_PARAMETERS, args).rowcount != 1:
                return False
            with conn.cursor() as cur:
                cur.executemany(SQL_PUT_UPLOAD, [(job_id, n, c) for n, c in uploads.items()])
            conn.execute(SQL_COUNT_UPLOAD_BYTES, (job_id, job_id))
        return True

    def upload_names(self, job_id: str) -> set[str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT name FROM uws.job_uploads WHERE job_id = %s", (job_id,)
            ).fetchall()
        return {str(r["name"]) for r in rows}

    def set_destruction(self, job_id: str, when: datetime) -> None:
        with self.pool.connection() as conn:
            conn.execute(SQL_SET_DESTRUCTION, (when, job_id))

    # --- the queue and execution ----------------------------------------------------------
    def enqueue(self, job_id: str, queue_size: int) -> Job | None:
        """PENDING -> QUEUED unless the queue is full (QueueFull); None if it was not PENDING."""
        with self.pool.connection() as conn, conn.transaction():
            row = self._enqueue(conn, job_id, queue_size)
        return _job(row) if row else None

    @staticmethod
    def _enqueue(conn: Conn, job_id: str, queue_size: int) -> DictRow | None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (QUEUE_LOCK,))
        count = conn.execute(SQL_QUEUED_COUNT).fetchone()
        assert count is not None
        if int(count["count"]) >= queue_size:
            raise QueueFull(f"{count['count']} jobs are queued already")
        return conn.execute(SQL_QUEUE, (job_id,)).fetchone()

    def claim(self, server_id: str) -> Job | None:
        """The oldest QUEUED job, now EXECUTING on this server (None when the queue is empty)."""
        with self.pool.connection() as conn:
            row = conn.execute(SQL_CLAIM, {"server": server_id}).fetchone()
        return _job(row) if row else None

    def complete(
        self, job_id: str, server_id: str, path: str, content_type: str, size: int
    ) -> bool:
        args = {
            "job_id": job_id,
            "server": server_id,
            "path": path,
            "type": content_type,
            "size": size,
        }
        with self.pool.connection() as conn:
            return conn.execute(SQL_COMPLETE, args).rowcount == 1

    def fail(self, job_id: str, server_id: str, message: str, error_type: str = "fatal") -> bool:
        args = {"job_id": job_id, "server": server_id, "message": message, "error_type": error_type}
        with self.pool.connection() as conn:
            return conn.execute(SQL_FAIL, args).rowcount == 1

    def abort(self, job_id: str) -> Job | None:
        """Any not yet final job -> ABORTED; None when the job is final already (or absent)."""
        with self.pool.connection() as conn:
            row = conn.execute(SQL_ABORT, (job_id,)).fetchone()
        return _job(row) if row else None

    # --- housekeeping ---------------------------------------------------------------------
    def register_server(self, server_id: str, host: str, pid: int) -> None:
        with self.pool.connection() as conn:
            conn.execute(SQL_REGISTER, (server_id, host, pid))

    def heartbeat(self, server_id: str) -> None:
        with self.pool.connection() as conn:
            if conn.execute(SQL_HEARTBEAT, (server_id,)).rowcount == 0:
                conn.execute(SQL_REGISTER, (server_id, "", 0))  # declared dead while paused

    def unregister_server(self, server_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(SQL_UNREGISTER, (server_id,))

    def recover(self, stale_s: float, max_attempts: int) -> builtins.list[tuple[str, Phase]]:
        """Forget servers without a recent heartbeat and recover their EXECUTING jobs."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(SQL_DEAD_SERVERS, (stale_s,))
            rows = conn.execute(SQL_RECOVER, {"max_attempts": max_attempts}).fetchall()
        return [(str(r["job_id"]), Phase(str(r["phase"]))) for r in rows]

    def expire_overdue(self, server_id: str) -> builtins.list[str]:
        with self.pool.connection() as conn:
            return [str(r["job_id"]) for r in conn.execute(SQL_EXPIRE_OVERDUE, (server_id,))]

    def requeue_executing(self, server_id: str) -> builtins.list[str]:
        """Give this server's EXECUTING jobs back to the queue (clean shutdown)."""
        with self.pool.connection() as conn:
            return [str(r["job_id"]) for r in conn.execute(SQL_REQUEUE_MINE, (server_id,))]

    def destroy_expired(self) -> builtins.list[tuple[str, str | None]]:
        with self.pool.connection() as conn:
            rows = conn.execute(SQL_DESTROY_EXPIRED).fetchall()
        return [(str(r["job_id"]), r["result_path"]) for r in rows]
