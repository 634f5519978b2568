"""Start and stop the job service with the web application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from sql.database import database_url
from sql.settings import Settings, get_settings
from tap_service.uws.service import JobLimits, JobService
from tap_service.uws.store import JobStore


def build_job_service(settings: Settings) -> JobService:
    """A job service configured from settings (not started)."""
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
    )
    return JobService(
        JobStore(database_url(settings)),
        settings.uws_results_dir,
        limits,
        workers=settings.uws_workers,
        max_attempts=settings.uws_max_attempts,
        housekeeping_s=settings.uws_housekeeping_s,
    )


@asynccontextmanager
async def job_service_lifespan(app: FastAPI) -> AsyncIterator[JobService]:
    """Run the job service (``app.state.uws``) while the app runs.

    Settings come from ``app.state.settings`` when the app factory put them there.
    On start-up, jobs left EXECUTING by a server that died are re-queued (or set to ERROR once
    they used their attempts), so none is lost.
    """
    settings: Settings = getattr(app.state, "settings", None) or get_settings()
    service = build_job_service(settings)
    await run_in_threadpool(service.start, asyncio.get_running_loop())
    app.state.uws = service
    try:
        yield service
    finally:
        await run_in_threadpool(service.stop)
