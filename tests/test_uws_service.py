"""The job service against a real database: queue, workers, limits, crash recovery, reaper.

Jobs here run a small executor that sends real SQL to PostgreSQL under the job's
``application_name`` (the hook the service cancels queries by), so timeouts and aborts are
checked on real backends; the TAP path itself is exercised over HTTP in test_async_http.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from lxml import etree

from tap_service.errors import TransientFault, UsageFault
from tap_service.uws.documents import UWS_NS, job_document, job_list_document
from tap_service.uws.model import Phase
from tap_service.uws.service import JobContext, JobLimits, JobService
from tap_service.uws.store import Holder, JobStore, Quota

LIMITS = JobLimits(
    execution_duration_s=60,
    execution_duration_max_s=120,
    destruction_s=3600,
    destruction_max_s=7200,
    queue_size=3,
    wait_max_s=5.0,
    list_limit=50,
)


@dataclass
class Output:
    content_type: str
    body: Iterator[bytes]


def sql_executor(url: str):
    """Run the job's QUERY parameter as SQL (tests only) and stream it as CSV lines."""

    def execute(params: Mapping[str, str], files: Mapping[str, bytes], context: JobContext):
        if params["query"].startswith("usage:"):
            raise UsageFault(params["query"][6:])
        if params["query"].startswith("bug:"):  # an unexpected failure, with private text
            raise OSError(2, "No such file or directory", params["query"][4:])

        def rows() -> Iterator[bytes]:
            with psycopg.connect(url, application_name=context.application_name) as conn:
                for row in conn.execute(params["query"]):
                    yield (",".join(map(str, row)) + "\n").encode()
            for name, content in sorted(files.items()):
                yield name.encode() + b"=" + content + b"\n"

        return Output("text/csv", rows())

    return execute


OWNER = Holder(owner_key="cookie:first", client="ip:192.0.2.1")
OTHER_OWNER = Holder(owner_key="cookie:second", client="ip:192.0.2.2")


def count_jobs(service: JobService) -> int:
    with service.store.pool.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM uws.jobs").fetchone()["n"]


def wait_for(store: JobStore, job_id: str, phases: set[Phase], timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.get(job_id)
        if job is not None and job.phase in phases:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} is {store.get(job_id)}, not in {phases}")


@pytest.fixture
def make_service(db_url: str, tmp_path: Path):
    services: list[JobService] = []

    def make(start: bool = True, **kwargs: object) -> JobService:
        kwargs.setdefault("housekeeping_s", 0.2)
        service = JobService(
            JobStore(db_url), tmp_path / "uws", LIMITS, executor=sql_executor(db_url), **kwargs
        )  # type: ignore[arg-type]
        if start:
            service.start()
        services.append(service)
        return service

    yield make
    for service in services:
        if service._threads:
            service.stop()


def test_job_runs_and_its_result_file_holds_the_rows(make_service) -> None:
    service = make_service()
    job = service.create(
        {"query": "SELECT 1, 'a' UNION ALL SELECT 2, 'b'", "runid": "r1", "upload": "t,param:up"},
        {"up": b"<x/>"},
        run=True,
    )
    assert job.phase == Phase.QUEUED and job.run_id == "r1"
    done = wait_for(service.store, job.job_id, {Phase.COMPLETED})
    assert done.start_time and done.end_time and done.start_time <= done.end_time
    path = service.result_file(done)
    assert path is not None and path.read_bytes() == b"1,a\n2,b\nup=<x/>\n"
    assert done.result_type == "text/csv" and done.result_size == len(path.read_bytes())
    assert not list(path.parent.glob("*.part"))


def test_created_job_is_pending_with_limits_applied(make_service) -> None:
    service = make_service(start=False)
    job = service.create({"query": "SELECT 1", "executionduration": "100000"}, {}, run=False)
    assert job.phase == Phase.PENDING
    assert job.execution_duration == LIMITS.execution_duration_max_s  # capped
    lifetime = (job.destruction - job.creation_time).total_seconds()
    assert lifetime == pytest.approx(LIMITS.destruction_s, abs=2)
    assert job.quote is not None and job.quote > job.creation_time
    service.set_execution_duration(job.job_id, "30")
    assert service.get(job.job_id).execution_duration == 30
    with pytest.raises(UsageFault, match="EXECUTIONDURATION='soon'"):
        service.set_execution_duration(job.job_id, "soon")
    with pytest.raises(UsageFault, match="DESTRUCTION='tomorrow'"):
        service.set_destruction(job.job_id, "tomorrow")


def test_full_queue_is_a_transient_fault(make_service) -> None:
    from tap_service.errors import TransientFault

    service = make_service(start=False)  # no workers: queued jobs stay queued
    for _ in range(LIMITS.queue_size):
        assert service.create({"query": "SELECT 1"}, {}, run=True).phase == Phase.QUEUED
    extra = service.create({"query": "SELECT 1"}, {}, run=False)
    with pytest.raises(TransientFault, match=r"queue is full.*stays PENDING"):
        service.run(extra.job_id)
    assert service.get(extra.job_id).phase == Phase.PENDING
    before = count_jobs(service)
    with pytest.raises(TransientFault, match=r"queue is full.*no job was created"):
        service.create({"query": "SELECT 1"}, {}, run=True)  # PHASE=RUN at creation
    assert count_jobs(service) == before


def test_execution_duration_ends_the_job_and_cancels_its_query(make_service, db_url) -> None:
    service = make_service()
    job = service.create({"query": "SELECT pg_sleep(60)", "executionduration": "1"}, {}, run=True)
    wait_for(service.store, job.job_id, {Phase.EXECUTING})
    t0 = time.monotonic()
    failed = wait_for(service.store, job.job_id, {Phase.ERROR}, timeout=10)
    assert time.monotonic() - t0 < 5
    assert "execution duration exceeded" in failed.error_message
    assert_no_query_of(db_url, job.job_id)


def test_abort_of_an_executing_job_cancels_its_query(make_service, db_url) -> None:
    service = make_service()
    job = service.create({"query": "SELECT pg_sleep(60)"}, {}, run=True)
    wait_for(service.store, job.job_id, {Phase.EXECUTING})
    time.sleep(0.3)
    assert service.abort(job.job_id).phase == Phase.ABORTED
    assert_no_query_of(db_url, job.job_id)
    time.sleep(0.3)
    assert service.get(job.job_id).phase == Phase.ABORTED  # the worker did not overwrite it


def assert_no_query_of(db_url: str, job_id: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            active = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                " AND state = 'active'",
                (f"xpha-uws-{job_id}",),
            ).fetchone()[0]
            if active == 0:
                return
            time.sleep(0.05)
    raise AssertionError(f"the query of job {job_id} still runs")


def test_an_unexpected_failure_reaches_the_client_without_its_text(make_service) -> None:
    service = make_service()
    job = service.create({"query": "bug:/srv/xpha/private/file"}, {}, run=True)
    failed = wait_for(service.store, job.job_id, {Phase.ERROR})
    assert failed.error_message.startswith("FatalFault: the service failed to run this job")
    assert "/srv" not in failed.error_message and "No such file" not in failed.error_message
    assert "OSError" not in failed.error_message


def test_usage_fault_ends_in_error_with_the_message(make_service) -> None:
    service = make_service()
    job = service.create({"query": "usage:column 'x' does not exist"}, {}, run=True)
    failed = wait_for(service.store, job.job_id, {Phase.ERROR})
    assert failed.error_message == "UsageFault: column 'x' does not exist"
    deadline = time.monotonic() + 5
    while (service.results_dir / job.job_id).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not (service.results_dir / job.job_id).exists()  # no result, no directory left
    assert failed.error_type == "fatal"
    document = etree.fromstring(job_document(failed, "http://x/result"))
    message = document.find(f"{{{UWS_NS}}}errorSummary/{{{UWS_NS}}}message")
    assert message.text == failed.error_message


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(0, Phase.COMPLETED), (1, Phase.ERROR)],
)
def test_jobs_of_a_dead_server_are_requeued_or_failed(
    make_service, db_url, attempts, expected
) -> None:
    dead = str(uuid.uuid4())
    store = JobStore(db_url)
    store.register_server(dead, "elsewhere", 1)
    job = store.create(
        uuid.uuid4().hex,
        {"query": "SELECT 42"},
        {},
        run_id=None,
        execution_duration=60,
        lifetime_s=3600,
    )
    store.enqueue(job.job_id, 10)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE uws.jobs SET attempts = %s WHERE job_id = %s", (attempts, job.job_id))
    claimed = store.claim(dead)
    assert claimed.phase == Phase.EXECUTING and claimed.attempts == attempts + 1
    with psycopg.connect(db_url, autocommit=True) as conn:  # its heartbeat stopped long ago
        conn.execute("UPDATE uws.servers SET heartbeat = now() - interval '1 hour'")
    service = make_service(max_attempts=2)
    ended = wait_for(service.store, job.job_id, {Phase.COMPLETED, Phase.ERROR})
    assert ended.phase == expected
    if expected == Phase.ERROR:
        assert "stopped (crash or kill) 2 times" in ended.error_message
        assert ended.error_type == "transient"
    store.close()


def test_a_live_server_keeps_its_jobs(make_service, db_url) -> None:
    """Recovery must not steal the jobs of another server whose heartbeat is fresh."""
    alive = str(uuid.uuid4())
    store = JobStore(db_url)
    store.register_server(alive, "elsewhere", 1)
    job = store.create(
        uuid.uuid4().hex,
        {"query": "SELECT 1"},
        {},
        run_id=None,
        execution_duration=60,
        lifetime_s=3600,
    )
    store.enqueue(job.job_id, 10)
    store.claim(alive)
    make_service()
    time.sleep(1.0)
    assert store.get(job.job_id).phase == Phase.EXECUTING
    store.close()


def test_destruction_removes_the_job_and_its_files(make_service) -> None:
    service = make_service()
    job = service.create({"query": "SELECT 1"}, {}, run=True)
    done = wait_for(service.store, job.job_id, {Phase.COMPLETED})
    path = service.result_file(done)
    assert path is not None and path.exists()
    service.set_destruction(job.job_id, "2000-01-01T00:00:00Z")
    deadline = time.monotonic() + 5
    while service.get(job.job_id) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.get(job.job_id) is None
    time.sleep(0.1)
    assert not path.parent.exists()


def test_job_list_filters(make_service) -> None:
    service = make_service(start=False)
    first = service.create({"query": "SELECT 1"}, {}, run=False, holder=OWNER)
    time.sleep(0.01)
    second = service.create({"query": "SELECT 2"}, {}, run=True, holder=OWNER)
    service.create({"query": "SELECT 3"}, {}, run=True, holder=OTHER_OWNER)
    service.create({"query": "SELECT 4"}, {}, run=True)  # nobody's list
    ids = lambda jobs: [j.job_id for j in jobs]  # noqa: E731
    mine = OWNER.owner_key
    assert ids(service.list(mine, [], None, None)) == [second.job_id, first.job_id]
    assert ids(service.list(mine, [Phase.PENDING], None, None)) == [first.job_id]
    assert ids(service.list(mine, [], first.creation_time, None)) == [second.job_id]
    assert ids(service.list(mine, [], None, 1)) == [second.job_id]
    assert service.list(None, [], None, None) == []  # a caller without a key has no list
    document = etree.fromstring(job_list_document(service.list(mine, [], None, None), str))
    assert document.get("version") == "1.1"
    assert [r.get("id") for r in document] == [second.job_id, first.job_id]


def test_clean_shutdown_requeues_running_jobs_without_using_an_attempt(
    make_service, db_url
) -> None:
    service = make_service()
    job = service.create({"query": "SELECT pg_sleep(60)"}, {}, run=True)
    wait_for(service.store, job.job_id, {Phase.EXECUTING})
    t0 = time.monotonic()
    service.stop()
    assert time.monotonic() - t0 < 5  # the query was cancelled, not waited for
    assert_no_query_of(db_url, job.job_id)
    store = JobStore(db_url)
    requeued = store.get(job.job_id)
    assert requeued.phase == Phase.QUEUED and requeued.attempts == 0
    assert requeued.start_time is None
    store.close()


class SlowClaimStore(JobStore):
    """A store whose workers pause between claiming a job and running it."""

    def claim(self, server_id: str):  # type: ignore[override]
        job = super().claim(server_id)
        if job is not None:
            time.sleep(0.5)
        return job


def test_a_job_claimed_as_the_server_stops_is_requeued_not_run(db_url, tmp_path) -> None:
    """The stop lands between the claim and the query: the job must not run (or be waited
    for) after the server has begun stopping."""
    service = JobService(
        SlowClaimStore(db_url),
        tmp_path / "uws",
        LIMITS,
        executor=sql_executor(db_url),
        housekeeping_s=0.2,
    )
    service.start()
    job = service.create({"query": "SELECT pg_sleep(60)"}, {}, run=True)
    wait_for(service.store, job.job_id, {Phase.EXECUTING})  # claimed, still in the pause
    t0 = time.monotonic()
    service.stop()
    assert time.monotonic() - t0 < 5
    assert_no_query_of(db_url, job.job_id)
    store = JobStore(db_url)
    requeued = store.get(job.job_id)
    assert requeued.phase == Phase.QUEUED and requeued.attempts == 0
    store.close()


def test_job_list_is_capped_newest_first(make_service, db_url) -> None:
    service = make_service(start=False)
    with psycopg.connect(db_url) as conn:  # many old jobs, as a long-lived service has
        conn.execute(
            "INSERT INTO uws.jobs (job_id, owner_key, parameters, creation_time,"
            " execution_duration, destruction) SELECT 'old' || n, %s, '{}',"
            " now() - n * interval '1 s', 60, now() + interval '1 day'"
            " FROM generate_series(1, 80) AS n",
            (OWNER.owner_key,),
        )
    listed = service.list(OWNER.owner_key, [], None, None)
    assert len(listed) == LIMITS.list_limit
    assert [j.job_id for j in listed[:3]] == ["old1", "old2", "old3"]
    assert len(service.list(OWNER.owner_key, [], None, 5)) == 5


# --- what a client may name and hold (issue 12) ---------------------------------------------
@pytest.mark.parametrize(
    "job_id",
    ["..", ".", "../..", "%2e%2e", "", "/", "uws", "0" * 31, "0" * 33, "G" * 32, "../" + "0" * 29],
)
def test_text_that_is_not_a_job_id_names_no_job_and_removes_nothing(
    make_service, tmp_path, job_id
) -> None:
    service = make_service(start=False)
    service.results_dir.mkdir(parents=True)
    bystander = service.create({"query": "SELECT 1"}, {}, run=False)
    kept = [
        tmp_path / "canary",
        service.results_dir / "canary",
        service.results_dir / bystander.job_id / "result",
    ]
    for path in kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("still here")
    assert service.get(job_id) is None
    assert service.delete(job_id) is False
    assert all(path.read_text() == "still here" for path in kept)
    assert service.get(bystander.job_id) is not None


def test_deleting_a_job_that_does_not_exist_removes_no_files(make_service) -> None:
    service = make_service(start=False)
    stray = service.results_dir / ("a" * 32)
    stray.mkdir(parents=True)
    (stray / "result").write_text("not a job's")
    assert service.delete("a" * 32) is False
    assert (stray / "result").exists()


def test_issued_job_ids_are_32_random_hex_digits(make_service) -> None:
    service = make_service(start=False)
    ids = {service.create({"query": "SELECT 1"}, {}, run=False).job_id for _ in range(20)}
    assert len(ids) == 20 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


QUOTA = Quota(jobs_per_client=3, jobs=5, upload_bytes_per_client=100, upload_bytes=150)


def test_waiting_jobs_and_stored_uploads_are_capped_per_client_and_overall(make_service):
    from dataclasses import replace

    service = make_service(start=False)
    service.limits = replace(LIMITS, quota=QUOTA)
    first = Holder(owner_key="cookie:a", client="ip:192.0.2.1")
    second = Holder(owner_key="cookie:b", client="ip:192.0.2.2")
    third = Holder(owner_key="cookie:c", client="ip:192.0.2.3")
    for _ in range(3):
        service.create({"query": "SELECT 1"}, {}, run=False, holder=first)
    with pytest.raises(UsageFault, match="you hold 3 PENDING or QUEUED jobs"):
        service.create({"query": "SELECT 1"}, {}, run=True, holder=first)
    service.create(
        {"query": "SELECT 1", "upload": "t,param:t"}, {"t": b"x" * 90}, run=False, holder=second
    )
    with pytest.raises(UsageFault, match="bytes one client may store"):
        service.create(
            {"query": "SELECT 1", "upload": "t,param:t"}, {"t": b"x" * 20}, run=False, holder=second
        )
    with pytest.raises(TransientFault, match="stores as many job uploads"):
        service.create(
            {"query": "SELECT 1", "upload": "t,param:t"}, {"t": b"x" * 70}, run=False, holder=third
        )
    service.create({"query": "SELECT 1"}, {}, run=False, holder=third)
    with pytest.raises(TransientFault, match="holds 5 PENDING or QUEUED jobs"):
        service.create({"query": "SELECT 1"}, {}, run=False, holder=third)
    assert count_jobs(service) == 5


def test_an_ended_job_keeps_no_uploads(make_service, db_url) -> None:
    service = make_service()
    job = service.create({"query": "SELECT 1", "upload": "t,param:t"}, {"t": b"<x/>"}, run=True)
    wait_for(service.store, job.job_id, {Phase.COMPLETED})
    with psycopg.connect(db_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM uws.job_uploads WHERE job_id = %s", (job.job_id,)
        ).fetchone()[0]
        held = conn.execute(
            "SELECT upload_bytes FROM uws.jobs WHERE job_id = %s", (job.job_id,)
        ).fetchone()[0]
    assert left == 0 and held == 0
