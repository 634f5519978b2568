"""``/tap/sync``: run a query now and stream its result."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tap_service.callers import caller_of
from tap_service.handlers.params import request_params
from tap_service.handlers.streaming import result_response
from tap_service.query import parse_tap_request, run_query

router = APIRouter()


@router.api_route("/sync", methods=["GET", "POST"])
async def sync_query(request: Request) -> Response:
    """TAP 1.1 sync: GET or POST, urlencoded or multipart; faults become DALI VOTables."""
    params, files = await request_params(request)
    request.state.query = params.get("query")
    engine = request.app.state.engine
    tap_request = parse_tap_request(params, files, engine.settings.tap_query_max_chars)
    release = request.app.state.client_slots.take(caller_of(request).quota_key)
    return await result_response(lambda: run_query(tap_request, engine, sync=True), release)
