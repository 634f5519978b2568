"""The web application: TAP 1.1 under ``/tap``, cone search at ``/scs``, a landing page at ``/``.

Every failure a client can see is a VOTable: DALI faults with their status (400 usage, 503
transient, 500 fatal), unknown paths and bad methods as UsageFaults, and anything unexpected
as a FatalFault without a traceback (the traceback goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException

from tap_service.errors import VOTABLE_CONTENT_TYPE, DaliFault, error_votable, fault_document
from tap_service.factory import build_services, running
from tap_service.handlers import landing, scs, sync, uws, vosi
from tap_service.request_guard import RequestGuard
from tap_service.settings import TapSettings, get_settings

log = logging.getLogger(__name__)


def create_app_from_environment() -> FastAPI:
    """The application configured from ``XPHA_*`` (``xpha serve --workers N``: each process)."""
    return create_app(get_settings())


def create_app(settings: TapSettings) -> FastAPI:
    """The TAP + SCS application over the database the settings name."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(build_services(settings)) as services:
            app.state.engine = services.engine
            app.state.uws = services.jobs  # async jobs: workers, recovery, reaper
            app.state.client_slots = services.client_slots
            yield

    app = FastAPI(
        title="xpha TAP service",
        description="IVOA TAP 1.1 and Simple Cone Search over H-alpha emitter candidates.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["*"],
        expose_headers=["Location"],
    )
    app.add_middleware(RequestGuard, settings=settings)  # outermost: before anything is read
    app.include_router(sync.router, prefix="/tap")
    app.include_router(vosi.router, prefix="/tap")
    app.include_router(uws.router, prefix="/tap")
    app.include_router(scs.router)
    app.include_router(landing.router)
    _install_error_handlers(app)
    return app


def _votable(message: str, fault_name: str, status: int) -> Response:
    return Response(
        error_votable(message, fault_name), status_code=status, media_type=VOTABLE_CONTENT_TYPE
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DaliFault)
    async def dali_fault(request: Request, exc: DaliFault) -> Response:
        document = fault_document(exc, getattr(request.state, "query", None))
        return Response(document, status_code=exc.http_status, media_type=VOTABLE_CONTENT_TYPE)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return _votable(message, "UsageFault", exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        names = sorted({str(e.get("loc", ("?",))[-1]) for e in exc.errors()})
        return _votable(f"bad request parameters: {', '.join(names)}", "UsageFault", 400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected failure serving %s", request.url.path)
        return _votable(
            "the service failed unexpectedly; this is a bug, reported in the server log",
            "FatalFault",
            500,
        )
