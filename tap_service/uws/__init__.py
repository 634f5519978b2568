"""TAP async: UWS 1.1 jobs persisted in PostgreSQL, executed by a worker pool.

``async_router`` serves ``/async...`` (mount it under the TAP base) and
``job_service_lifespan(app)`` runs the job service while the app runs.
"""

from tap_service.uws.lifespan import build_job_service, job_service_lifespan
from tap_service.uws.router import async_router

__all__ = ["async_router", "build_job_service", "job_service_lifespan"]
