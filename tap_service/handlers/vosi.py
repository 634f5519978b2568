"""``/tap/capabilities``, ``/availability``, ``/tables[/{name}]`` and ``/examples``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from tap_service import vosi
from tap_service.catalog import Catalog
from tap_service.errors import DaliFault, NotFoundFault, UsageFault
from tap_service.query import TapEngine

router = APIRouter()


def tap_base(request: Request) -> str:
    """The public TAP base URL: configured, or derived from the request."""
    configured = request.app.state.settings.tap_base_url
    base = configured or str(request.base_url)
    return base.rstrip("/") + ("" if configured else "/tap")


def _xml(body: bytes) -> Response:
    return Response(body, media_type=vosi.XML_CONTENT_TYPE)


@router.get("/capabilities")
async def capabilities(request: Request) -> Response:
    return _xml(vosi.capabilities_document(tap_base(request), request.app.state.settings))


@router.get("/availability")
async def availability(request: Request) -> Response:
    engine = request.app.state.engine

    def check() -> tuple[bool, str]:
        try:
            conn = engine.getconn()
        except DaliFault as fault:
            return False, str(fault)
        try:
            return vosi.database_available(conn)
        finally:
            engine.putconn(conn)

    available, note = await run_in_threadpool(check)
    return _xml(vosi.availability_document(available, note))


async def _catalog(request: Request) -> Catalog:
    """The published catalogue, as cached by the engine (read again after its TTL)."""
    engine: TapEngine = request.app.state.engine
    return await run_in_threadpool(engine.catalog)


@router.get("/tables")
async def tables(request: Request) -> Response:
    detail = {k.lower(): v for k, v in request.query_params.items()}.get("detail", "max")
    if detail.lower() not in ("min", "max"):
        raise UsageFault(f"detail={detail!r} must be min or max")
    catalog = await _catalog(request)
    return _xml(await run_in_threadpool(vosi.tableset_document, catalog, detail.lower()))


@router.get("/tables/{name}")
async def table(request: Request, name: str) -> Response:
    found = (await _catalog(request)).published_table(name)
    if found is None:
        raise NotFoundFault(f"no table {name!r}; /tap/tables lists the published tables")
    return _xml(vosi.table_document(found))


@router.get("/examples")
async def examples() -> Response:
    return Response(vosi.examples_document(), media_type=vosi.XHTML_CONTENT_TYPE)
