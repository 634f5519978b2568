"""Start and stop the job service with the web application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from sql.database import database_url
from sql.settings import Settings
from tap_service.query import TapEngine, admit_job
from tap_service.uws.service import JobLimits, JobService, tap_executor
from tap_service.uws.store import JobStore, Quota


def build_job_service(settings: Settings, engine: TapEngine) -> JobService:
    """A job service configured from settings, executing on ``engine`` (not started)."""
    limits = JobLimits(
        execution_duration_s=min(
            settings.uws_execution_duration_s, settings.uws_execution_duration_max_s
        ),
        execution_duration_max_s=settings.uws_execution_duration_max_s,
        destruction_s=min(settings.uws_destruction_s, settings.uws_destruction_max_s),
        destruction_max_s=settings.uws_destruction_max_s,
        queue_size=settings.uws_queue_size,
        wait_max_s=settings.uws_wait_max_s,
        list_limit=settings.uws_list_limit,
        quota=Quota(
            jobs_per_client=settings.uws_pending_per_client,
            jobs=settings.uws_pending_max,
            upload_bytes_per_client=settings.uws_upload_bytes_per_client,
            upload_bytes=settings.uws_upload_bytes_max,
        ),
    )
    return JobService(
        JobStore(database_url(settings)),
        settings.uws_results_dir,
        limits,
        workers=settings.uws_workers,
        max_attempts=settings.uws_max_attempts,
        housekeeping_s=settings.uws_housekeeping_s,
        executor=tap_executor(engine),
        admit=admit_job(settings),
    )


@asynccontextmanager
async def job_service_lifespan(app: FastAPI) -> AsyncIterator[JobService]:
    """Run the job service (``app.state.uws``) while the app runs, on ``app.state.engine``.

    On start-up, jobs left EXECUTING by a server that died are re-queued (or set to ERROR once
    they used their attempts), so none is lost.
    """
    settings: Settings = app.state.settings
    service = build_job_service(settings, app.state.engine)
    await run_in_threadpool(service.start, asyncio.get_running_loop())
    app.state.uws = service
    try:
        yield service
    finally:
        await run_in_threadpool(service.stop)
