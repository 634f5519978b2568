"""kill -9 of the TAP server with async jobs in flight, then a restart on the same database.

Nothing of the killed process's shutdown code runs. After the restart every job must end
COMPLETED or ERROR (re-queued on the way when it was interrupted), none lost and none stuck
EXECUTING, and completed results must be fetchable from the new process.
"""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest
from uws_support import (
    SLOW_QUERY,
    LiveServer,
    job_xml,
    phase_of,
    submit,
    votable_status,
    wait_final,
)

FAST_QUERY = "SELECT TOP 5 table_name FROM tap_schema.tables ORDER BY table_name"


def phases(db_url: str) -> dict[str, str]:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute("SELECT job_id, phase FROM uws.jobs").fetchall())


@pytest.fixture
def var_dir(tmp_path):
    return tmp_path / "var"


def test_kill_9_with_jobs_in_flight_then_restart(db_url: str, var_dir) -> None:
    first = LiveServer(db_url, var_dir, uws_workers=2).start()
    client = httpx.Client(timeout=60)
    try:
        # Two runaway jobs occupy both workers; fast jobs queue behind them; one stays PENDING.
        slow = [submit(client, first.base, SLOW_QUERY, EXECUTIONDURATION="6") for _ in range(2)]
        for url in slow:
            job_xml(client, url, WAIT="5", PHASE="QUEUED")
        fast = [submit(client, first.base, FAST_QUERY, RESPONSEFORMAT="csv") for _ in range(4)]
        pending = submit(client, first.base, FAST_QUERY, run=False)
        before = phases(db_url)
        assert sorted(before.values()) == sorted(
            ["EXECUTING"] * 2 + ["QUEUED"] * 4 + ["PENDING"]
        ), before
        first.kill()
    finally:
        first.stop()

    assert phases(db_url) == before  # the crash changed nothing by itself
    second = LiveServer(db_url, var_dir, uws_workers=2).start()
    try:
        ids = {url.rsplit("/", 1)[1] for url in [*slow, *fast, pending]}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = phases(db_url)
            if all(now[i] in ("COMPLETED", "ERROR") for i in ids - {pending.rsplit("/", 1)[1]}):
                break
            time.sleep(0.2)
        now = phases(db_url)
        assert set(now) == set(before), "a job was lost"
        assert now[pending.rsplit("/", 1)[1]] == "PENDING"
        base = second.base
        for url in fast:
            job = job_xml(client, f"{base}/async/{url.rsplit('/', 1)[1]}")
            assert phase_of(job) == "COMPLETED"
            rows = client.get(f"{base}/async/{url.rsplit('/', 1)[1]}/results/result")
            assert rows.status_code == 200 and rows.text.startswith("table_name")
        for url in slow:
            job_id = url.rsplit("/", 1)[1]
            assert now[job_id] == "ERROR"  # re-queued, re-run, then stopped by its duration
            status, text = votable_status(client.get(f"{base}/async/{job_id}/error").content)
            assert status == "ERROR" and "execution duration exceeded" in text
            with psycopg.connect(db_url) as conn:
                attempts = conn.execute(
                    "SELECT attempts FROM uws.jobs WHERE job_id = %s", (job_id,)
                ).fetchone()[0]
            assert attempts == 2  # interrupted once by the kill, run again after the restart
        # The pending job still runs when asked.
        client.post(f"{base}/async/{pending.rsplit('/', 1)[1]}/phase", data={"PHASE": "RUN"})
        job = wait_final(client, f"{base}/async/{pending.rsplit('/', 1)[1]}")
        assert phase_of(job) == "COMPLETED"
    finally:
        second.stop()
        client.close()


def test_two_servers_share_the_queue_and_the_survivor_recovers(db_url: str, var_dir) -> None:
    """Two processes on one database (uvicorn --workers, or replicas): each job runs once;
    when one is killed, the other takes over its jobs after the heartbeat goes stale."""
    servers = [LiveServer(db_url, var_dir, uws_workers=1).start() for _ in range(2)]
    client = httpx.Client(timeout=60)
    try:
        fast = [
            submit(client, servers[i % 2].base, FAST_QUERY, RESPONSEFORMAT="csv") for i in range(10)
        ]
        for url in fast:  # WAIT on either server sees the job, whoever executes it
            other = servers[1].base if url.startswith(servers[0].base) else servers[0].base
            job = wait_final(client, url.replace(url.split("/async/")[0], other))
            assert phase_of(job) == "COMPLETED"
        with psycopg.connect(db_url) as conn:
            attempts = conn.execute("SELECT attempts, count(*) FROM uws.jobs GROUP BY 1").fetchall()
        assert attempts == [(1, 10)]  # each job executed exactly once
        slow = [
            submit(client, servers[0].base, SLOW_QUERY, EXECUTIONDURATION="4") for _ in range(2)
        ]
        for url in slow:
            job_xml(client, url, WAIT="5", PHASE="QUEUED")
        with psycopg.connect(db_url) as conn:
            executors = conn.execute(
                "SELECT count(DISTINCT executor) FROM uws.jobs WHERE phase = 'EXECUTING'"
            ).fetchone()[0]
        assert executors == 2  # one runaway job on each server
        servers[0].kill()
        survivor = servers[1].base
        for url in slow:
            job = wait_final(client, f"{survivor}/async/{url.rsplit('/', 1)[1]}", timeout=60)
            assert phase_of(job) == "ERROR"
            assert "execution duration exceeded" in job.findtext(
                "{http://www.ivoa.net/xml/UWS/v1.0}errorSummary/"
                "{http://www.ivoa.net/xml/UWS/v1.0}message"
            )
        with psycopg.connect(db_url) as conn:
            by_attempts = dict(
                conn.execute(
                    "SELECT attempts, count(*) FROM uws.jobs WHERE job_id = ANY(%s) GROUP BY 1",
                    ([u.rsplit("/", 1)[1] for u in slow],),
                ).fetchall()
            )
            live = conn.execute("SELECT count(*) FROM uws.servers").fetchone()[0]
        assert by_attempts == {1: 1, 2: 1}  # the killed server's job ran again on the survivor
        assert live == 1
    finally:
        for server in servers:
            server.stop()
        client.close()
