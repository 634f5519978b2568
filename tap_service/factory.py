"""The TAP service's parts, built from its settings in one place (no module globals).

``build_services(settings)`` makes the engine (a pool of TAP-role connections with the cached
TAP_SCHEMA catalogue), the async job service executing on it, and the per-client query
slots; ``running(services)`` opens and starts them for as long as the web application runs.
Nothing is opened or started while building, so building is cheap and side-effect free.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from sql.database import database_url
from tap_service.client_slots import ClientSlots
from tap_service.query import TapEngine, admit_job
from tap_service.settings import TapSettings
from tap_service.uws.service import JobLimits, JobService, tap_executor
from tap_service.uws.store import JobStore, Quota


@dataclass(frozen=True)
class TapServices:
    """What the handlers run on: one of each per server process."""

    settings: TapSettings
    engine: TapEngine
    jobs: JobService
    client_slots: ClientSlots


def build_services(settings: TapSettings) -> TapServices:
    """The engine, its catalogue, the job service and the client slots (none started)."""
    engine = TapEngine(settings)
    return TapServices(
        settings=settings,
        engine=engine,
        jobs=build_job_service(settings, engine),
        client_slots=ClientSlots(settings.tap_sync_per_client),
    )


def build_job_service(settings: TapSettings, engine: TapEngine) -> JobService:
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
async def running(services: TapServices) -> AsyncIterator[TapServices]:
    """Open the engine's pool and start the job service; stop both on the way out.

    On start-up, jobs left EXECUTING by a server that died are re-queued (or set to ERROR once
    they used their attempts), so none is lost.
    """
    await run_in_threadpool(services.engine.open)
    try:
        await run_in_threadpool(services.jobs.start, asyncio.get_running_loop())
        try:
            yield services
        finally:
            await run_in_threadpool(services.jobs.stop)
    finally:
        await run_in_threadpool(services.engine.close)
