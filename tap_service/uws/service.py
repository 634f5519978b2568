"""The job service: creates jobs, runs them on a worker pool, enforces their limits.

Workers are threads: a job spends its time waiting on PostgreSQL and writing a file, both of
which release the GIL, and threads share one connection pool. The queue itself is the
``uws.jobs`` table (see store.py); an in-process event only wakes idle workers at once, and a
one-second poll picks up jobs queued by another server process. A housekeeping thread beats
the heart of this server, recovers the jobs of servers that died (kill -9), ends jobs past their
executionDuration (cancelling their database queries) and destroys jobs past their destruction
time with their files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tap_service.errors import DaliFault, TransientFault, UsageFault
from tap_service.uws.model import Job, JobSummary, Phase, is_job_id, new_job_id
from tap_service.uws.store import Holder, JobStore, OverQuota, QueueFull, Quota

if TYPE_CHECKING:
    from tap_service.query import TapEngine

log = logging.getLogger(__name__)

RESULT_FILE = "result"
CHUNK_CHECK_BYTES = 1 << 20  # how often a streaming job looks at its cancel flag
STATEMENT_TIMEOUT_MARGIN_S = 2  # the database stops a query this long after the job's deadline


class QueryOutput(Protocol):
    """What a job execution yields: ``tap_service.query.QueryResult``."""

    content_type: str
    body: Iterator[bytes]


#: Runs one TAP request given its parameters and upload parts (see :func:`tap_executor`).
Executor = Callable[[Mapping[str, str], Mapping[str, bytes], "JobContext"], QueryOutput]
#: Judges what a job may store before it is stored (sizes, named parts), not what it means:
#: a bad QUERY makes a job that ends in ERROR, where clients look for the message.
Admission = Callable[[Mapping[str, str], Mapping[str, bytes]], None]


@dataclass
class JobContext:
    """What the worker hands an execution: the job and a flag raised to stop it."""

    job: Job
    cancelled: threading.Event
    application_name: str


def tap_executor(engine: TapEngine) -> Executor:
    """Jobs executed through the TAP query path (``tap_service.query.run_query``) on ``engine``.

    The backend is tagged with the job's application_name, so ABORT and the executionDuration
    check can cancel the query; the statement timeout backs them up a little later.
    """
    from tap_service.query import parse_tap_request, run_query

    def execute(
        params: Mapping[str, str], files: Mapping[str, bytes], context: JobContext
    ) -> QueryOutput:
        return run_query(
            parse_tap_request(params, files, engine.settings.tap_query_max_chars),
            engine,
            timeout_s=context.job.execution_duration + STATEMENT_TIMEOUT_MARGIN_S,
            application_name=context.application_name,
        )

    return execute


def admit_nothing_special(params: Mapping[str, str], uploads: Mapping[str, bytes]) -> None:
    """The admission of a generic job service: anything storable is admitted."""


@dataclass(frozen=True)
class JobLimits:
    """The client-visible limits of jobs, from settings."""

    execution_duration_s: int
    execution_duration_max_s: int
    destruction_s: int
    destruction_max_s: int
    queue_size: int
    wait_max_s: float
    list_limit: int
    quota: Quota | None = None


class JobService:
    """Everything the UWS handlers do, with no HTTP in it."""

    def __init__(
        self,
        store: JobStore,
        results_dir: Path,
        limits: JobLimits,
        *,
        workers: int = 2,
        max_attempts: int = 2,
        housekeeping_s: float = 1.0,
        executor: Executor,
        admit: Admission = admit_nothing_special,
    ) -> None:
        self.store = store
        self.results_dir = results_dir
        self.limits = limits
        self.server_id = str(uuid.uuid4())
        self._workers = workers
        self._max_attempts = max_attempts
        self._housekeeping_s = housekeeping_s
        self._executor = executor
        self._admit = admit
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, JobContext] = {}
        self._running_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}

    # --- life cycle -----------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Register this server, recover jobs of dead servers, start workers and housekeeping."""
        self._loop = loop
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.store.register_server(self.server_id, socket.gethostname(), os.getpid())
        self._recover()
        for n in range(self._workers):
            self._spawn(self._work, f"uws-worker-{n}")
        self._spawn(self._housekeep, "uws-housekeeping")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs, cancel running ones; they are re-queued by the next start."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            while thread.is_alive() and time.monotonic() < deadline:
                # Every pass: a job claimed just before the stop registers itself, and its
                # query starts, only after an earlier pass may have looked.
                self._cancel_running()
                thread.join(0.2)
        self._threads.clear()
        # Jobs interrupted by a clean shutdown go back to the queue without using an attempt.
        for job_id in self.store.requeue_executing(self.server_id):
            self._remove_files(job_id)
        self.store.unregister_server(self.server_id)
        self.store.close()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # --- requests -------------------------------------------------------------------------
    def create(
        self,
        params: Mapping[str, str],
        uploads: Mapping[str, bytes],
        *,
        run: bool,
        holder: Holder = Holder(),
    ) -> Job:
        """A new PENDING job (QUEUED at once when ``run``; see :meth:`run`)."""
        params = {k: v for k, v in params.items() if k not in ("phase",)}
        _refuse_nul(params, uploads)
        self._admit(params, uploads)
        duration = self._duration(params.pop("executionduration", None))
        lifetime = self._lifetime(params.pop("destruction", None))
        try:
            job = self.store.create(
                new_job_id(),
                params,
                uploads,
                run_id=params.get("runid"),
                execution_duration=duration,
                lifetime_s=lifetime,
                queue_size=self.limits.queue_size if run else None,
                holder=holder,
                quota=self.limits.quota,
            )
        except QueueFull as exc:
            raise self._queue_full("no job was created: submit it again later") from exc
        except OverQuota as exc:
            raise _quota_fault(exc, "no job was created") from exc
        if run:
            self._queued(job.job_id)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, or None when there is none (including for text that is not a job id)."""
        return self.store.get(job_id) if is_job_id(job_id) else None

    def list(
        self,
        owner_key: str | None,
        phases: list[Phase],
        after: datetime | None,
        last: int | None,
    ) -> list[JobSummary]:
        """The caller's jobs; a caller without an owner key has none."""
        if owner_key is None:
            return []
        return self.store.list(owner_key, phases, after, last, self.limits.list_limit)

    def run(self, job_id: str) -> Job:
        """PENDING -> QUEUED. A full queue is a TransientFault and the job stays PENDING."""
        try:
            queued = self.store.enqueue(job_id, self.limits.queue_size)
        except QueueFull as exc:
            raise self._queue_full("the job stays PENDING: send PHASE=RUN again later") from exc
        if queued is None:  # not PENDING: RUN changes nothing (UWS)
            job = self.store.get(job_id)
            if job is None:
                raise KeyError(job_id)
            return job
        self._queued(job_id)
        return queued

    def _queue_full(self, what_now: str) -> TransientFault:
        return TransientFault(
            f"the job queue is full ({self.limits.queue_size} jobs waiting); {what_now}"
        )

    def _queued(self, job_id: str) -> None:
        self._changed(job_id)
        with self._wake:
            self._wake.notify()

    def abort(self, job_id: str) -> Job | None:
        aborted = self.store.abort(job_id)
        if aborted is not None:
            self._cancel(job_id)
            self._changed(job_id)
        return aborted

    def delete(self, job_id: str) -> bool:
        """Destroy a job: abort it if running, drop its row and its files.

        Files are removed only for a job that existed (a client cannot name a directory).
        """
        if not is_job_id(job_id):
            return False
        self._cancel(job_id)
        existed = self.store.delete(job_id)
        if existed:
            self._remove_files(job_id)
            self._changed(job_id)
        return existed

    def set_parameters(
        self, job_id: str, params: Mapping[str, str], uploads: Mapping[str, bytes]
    ) -> None:
        """UWS: parameters of a PENDING job may change; afterwards they are fixed."""
        job = self.store.get(job_id)
        if job is None:
            raise KeyError(job_id)
        _refuse_nul(params, uploads)
        merged = {**job.parameters, **{k: v for k, v in params.items() if k != "phase"}}
        self._admit(merged, {**dict.fromkeys(self.store.upload_names(job_id), b""), **uploads})
        if job.phase != Phase.PENDING:
            raise UsageFault(
                f"job {job_id!r} is {job.phase.value}: parameters change only while PENDING"
            )
        params = dict(params)
        if "executionduration" in params:
            self.set_execution_duration(job_id, params.pop("executionduration"))
        if "destruction" in params:
            self.set_destruction(job_id, params.pop("destruction"))
        params.pop("phase", None)
        try:
            changed = self.store.set_parameters(job_id, params, uploads, self.limits.quota)
        except OverQuota as exc:
            raise _quota_fault(exc, "the parameters were not changed") from exc
        if not changed:
            raise UsageFault(f"job {job_id!r} left PENDING: its parameters are fixed now")

    def set_execution_duration(self, job_id: str, value: str) -> None:
        """Only a PENDING job's duration may change (UWS); the server caps the value."""
        self.store.set_execution_duration(job_id, self._duration(value))

    def set_destruction(self, job_id: str, value: str) -> None:
        from tap_service.uws.documents import parse_iso_time

        try:
            wanted = parse_iso_time(value)
        except ValueError as exc:
            raise UsageFault(f"DESTRUCTION={value!r} is not an ISO-8601 time") from exc
        latest = datetime.now(UTC) + timedelta(seconds=self.limits.destruction_max_s)
        self.store.set_destruction(job_id, min(wanted, latest))

    def result_file(self, job: Job) -> Path | None:
        if not job.has_result or job.result_path is None:
            return None
        path = Path(job.result_path)
        return path if path.is_file() else None

    def _duration(self, value: str | None) -> int:
        if value is None:
            return self.limits.execution_duration_s
        try:
            seconds = int(float(value))
        except ValueError as exc:
            raise UsageFault(f"EXECUTIONDURATION={value!r} is not a number of seconds") from exc
        if seconds < 0:
            raise UsageFault(f"EXECUTIONDURATION={value!r} is negative")
        # 0 asks for "unlimited", which this service does not grant: the maximum it is.
        return min(
            seconds or self.limits.execution_duration_max_s, self.limits.execution_duration_max_s
        )

    def _lifetime(self, value: str | None) -> int:
        if value is None:
            return self.limits.destruction_s
        from tap_service.uws.documents import parse_iso_time

        try:
            wanted = parse_iso_time(value)
        except ValueError as exc:
            raise UsageFault(f"DESTRUCTION={value!r} is not an ISO-8601 time") from exc
        seconds = (wanted - datetime.now(UTC)).total_seconds()
        return int(max(1, min(seconds, self.limits.destruction_max_s)))

    # --- WAIT -----------------------------------------------------------------------------
    async def wait(self, job_id: str, timeout: float, phase_hint: Phase | None) -> Job | None:
        """UWS 1.1 blocking GET: return when the phase changes, the timeout passes, or at once
        when the job is not active or its phase differs from the hint."""
        from fastapi.concurrency import run_in_threadpool

        if not is_job_id(job_id):
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout, self.limits.wait_max_s)
        event = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)  # before reading: no change missed
        try:
            job = await run_in_threadpool(self.store.get, job_id)
            if job is None or not job.is_active or (phase_hint and job.phase != phase_hint):
                return job
            start_phase = job.phase
            while (remaining := deadline - loop.time()) > 0 and not self._stopping.is_set():
                # The event is set by this process's workers; the 1 s re-read also notices
                # changes made by another server process.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(remaining, 1.0))
                event.clear()
                job = await run_in_threadpool(self.store.get, job_id)
                if job is None or job.phase != start_phase:
                    return job
            return job
        finally:
            self._waiters.get(job_id, set()).discard(event)
            if not self._waiters.get(job_id, True):
                self._waiters.pop(job_id, None)

    def _changed(self, job_id: str) -> None:
        """Wake the WAITs on this job (called from any thread; the waiters are only ever
        touched on the event loop's thread)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                self._loop.call_soon_threadsafe(self._wake_waiters, job_id)

    def _wake_waiters(self, job_id: str) -> None:
        for event in self._waiters.get(job_id, ()):
            event.set()

    # --- workers --------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self.store.claim(self.server_id)
            except Exception:
                log.exception("claiming a job failed")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(timeout=1.0)
                continue
            self._changed(job.job_id)
            self._execute(job)
            self._changed(job.job_id)

    def _execute(self, job: Job) -> None:
        context = JobContext(job, threading.Event(), f"xpha-uws-{job.job_id}")
        with self._running_lock:
            self._running[job.job_id] = context
        if self._stopping.is_set():
            context.cancelled.set()  # claimed as the server stopped: re-queued by stop()
        job_dir = self.results_dir / job.job_id
        kept = False  # whether the job COMPLETED with its result file
        try:
            job_dir.mkdir(parents=True, exist_ok=True)
            partial = job_dir / f"{RESULT_FILE}.part"
            uploads = self.store.uploads(job.job_id) if "upload" in job.parameters else {}
            if context.cancelled.is_set():
                return
            output = self._executor(job.parameters, uploads, context)
            size = self._stream(output.body, partial, context.cancelled)
            if context.cancelled.is_set():
                return  # aborted, timed out or shutting down: the store says which
            final = job_dir / RESULT_FILE
            partial.replace(final)
            # False when deleted, aborted or recovered meanwhile (perhaps by another server)
            kept = self.store.complete(
                job.job_id, self.server_id, str(final), output.content_type, size
            )
        except DaliFault as fault:
            if context.cancelled.is_set():
                return  # the cancelled query's error: the canceller set the phase
            kind = "transient" if fault.http_status == 503 else "fatal"
            self.store.fail(job.job_id, self.server_id, fault_text(fault), kind)
        except Exception:
            if not context.cancelled.is_set():
                log.exception("job %s failed", job.job_id)  # the details stay in the log
                self.store.fail(
                    job.job_id,
                    self.server_id,
                    "FatalFault: the service failed to run this job; this is a bug, reported "
                    "in the server log",
                )
        finally:
            with self._running_lock:
                self._running.pop(job.job_id, None)
            if not kept:  # no result: no file or directory left behind
                self._remove_files(job.job_id)

    @staticmethod
    def _stream(body: Iterator[bytes], path: Path, cancelled: threading.Event) -> int:
        """Write the body to ``path`` chunk by chunk (flat memory); stop early when cancelled."""
        size = since_check = 0
        try:
            with path.open("wb") as out:
                for chunk in body:
                    out.write(chunk)
                    size += len(chunk)
                    since_check += len(chunk)
                    if since_check >= CHUNK_CHECK_BYTES or not chunk:
                        since_check = 0
                        if cancelled.is_set():
                            break
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()  # release the database cursor of an abandoned stream
        return size

    def _cancel(self, job_id: str) -> None:
        """Stop a job running on this server: its stream and its database query."""
        with self._running_lock:
            context = self._running.get(job_id)
        if context is None:
            return
        context.cancelled.set()
        self._cancel_queries(context.application_name)

    def _cancel_running(self) -> None:
        """Cancel every job running on this server (shutdown)."""
        with self._running_lock:
            running = list(self._running)
        for job_id in running:
            self._cancel(job_id)

    def _recancel(self) -> None:
        """Cancel again the queries of cancelled jobs still running: a cancel that arrived
        between the claim and the start of the query found nothing to cancel."""
        with self._running_lock:
            names = [c.application_name for c in self._running.values() if c.cancelled.is_set()]
        for name in names:
            self._cancel_queries(name)

    def _cancel_queries(self, application_name: str) -> None:
        try:
            with self.store.pool.connection() as conn:
                conn.execute(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = %s",
                    (application_name,),
                )
        except Exception:
            log.exception("cancelling the queries of %s failed", application_name)

    # --- housekeeping ---------------------------------------------------------------------
    def _housekeep(self) -> None:
        while not self._stopping.wait(self._housekeeping_s):
            try:
                self.store.heartbeat(self.server_id)
                self._recancel()
                self._recover()
                for job_id in self.store.expire_overdue(self.server_id):
                    self._cancel(job_id)
                    self._changed(job_id)
                for job_id, _ in self.store.destroy_expired():
                    self._cancel(job_id)
                    self._remove_files(job_id)
                    self._changed(job_id)
            except Exception:
                log.exception("UWS housekeeping failed")

    def _recover(self) -> None:
        stale = max(5.0, 5 * self._housekeeping_s)
        recovered = self.store.recover(stale_s=stale, max_attempts=self._max_attempts)
        for job_id, phase in recovered:
            log.warning("job %s of a stopped server is now %s", job_id, phase.value)
            self._remove_files(job_id)
            self._changed(job_id)
        if any(phase == Phase.QUEUED for _, phase in recovered):
            with self._wake:
                self._wake.notify_all()

    def _remove_files(self, job_id: str) -> None:
        """Remove a job's result directory: only an id-shaped name directly inside
        ``results_dir`` (checked on the resolved path), never anything above or beside it."""
        if not is_job_id(job_id):
            log.error("refusing to remove files for the malformed job id %r", job_id)
            return
        root = self.results_dir.resolve()
        directory = (root / job_id).resolve()
        if directory.parent != root:
            log.error("refusing to remove %s: not directly inside %s", directory, root)
            return
        shutil.rmtree(directory, ignore_errors=True)


def _refuse_nul(params: Mapping[str, str], uploads: Mapping[str, bytes]) -> None:
    """PostgreSQL text cannot hold NUL: such a parameter is the client's error, not a 500."""
    for name, value in [*params.items(), *((n, "") for n in uploads)]:
        if "\x00" in name or "\x00" in value:
            raise UsageFault(f"parameter {name.upper()!r} contains a NUL character")


def _quota_fault(exc: OverQuota, what_now: str) -> DaliFault:
    """A client over its own quota must change what it does (UsageFault); a full service is
    a TransientFault: the same request may work later."""
    if exc.everyone:
        return TransientFault(f"{exc}; {what_now}: try again later")
    return UsageFault(f"{exc}; {what_now}")


def fault_text(fault: DaliFault) -> str:
    """The errorSummary message of a fault: its DALI name first."""
    from tap_service.errors import fault_message

    return fault_message(str(fault), fault.fault_name)
