"""``/scs``: Simple Cone Search over emitter candidates, and its capabilities."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tap_service import scs, vosi
from tap_service.callers import caller_of
from tap_service.errors import DaliFault
from tap_service.handlers.params import request_params
from tap_service.handlers.streaming import result_response
from tap_service.handlers.vosi import tap_base

router = APIRouter()


@router.api_route("/scs", methods=["GET", "POST"])
async def cone_search(request: Request) -> Response:
    """RA, DEC, SR (deg), VERB, MAXREC, RESPONSEFORMAT; errors as SCS error VOTables."""
    settings = request.app.state.settings
    try:
        params, _ = await request_params(request)
        cone = scs.parse_cone_request(params, settings.scs_max_sr_deg)
        engine = request.app.state.engine
        release = request.app.state.client_slots.take(caller_of(request).quota_key)
        return await result_response(lambda: scs.run_cone(cone, engine), release)
    except DaliFault as fault:
        return Response(
            scs.scs_error_votable(f"{fault.fault_name}: {fault}"),
            status_code=fault.http_status,
            media_type="application/x-votable+xml",
        )


@router.get("/scs/capabilities")
async def scs_capabilities(request: Request) -> Response:
    root = tap_base(request).removesuffix("/tap")
    body = vosi.scs_capabilities_document(f"{root}/scs", request.app.state.settings)
    return Response(body, media_type=vosi.XML_CONTENT_TYPE)
