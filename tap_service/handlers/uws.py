"""The UWS 1.1 HTTP layer of TAP async: thin handlers over :class:`JobService`.

Mounted under the TAP base (``/tap``), so the job list is ``/tap/async``. Faults are raised
and rendered by the application's one DALI fault handler: 400 for a bad parameter, 404 for an
unknown job (or one that is not the caller's), 503 when the queue is full.

Who may do what (see ``tap_service.callers``): a job's URL is its capability, so whoever holds
it may read, change or delete the job; with bearer auth the job must also be the caller's.
The job list shows only the caller's own jobs. Text in the place of a job id that is not one
this service issues (``..``, ``.``) names no job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse

from tap_service.callers import OWNER_COOKIE, Caller, caller_of
from tap_service.errors import VOTABLE_CONTENT_TYPE, NotFoundFault, UsageFault, error_votable
from tap_service.handlers.params import RequestParams, read_params
from tap_service.handlers.vosi import tap_base
from tap_service.uws.documents import (
    UWS_CONTENT_TYPE,
    iso_time,
    job_document,
    job_list_document,
    parameters_document,
    parse_iso_time,
    results_document,
)
from tap_service.uws.model import RESULT_ID, Job, Phase
from tap_service.uws.service import JobService
from tap_service.uws.store import Holder

router = APIRouter()
COOKIE_LIFETIME_S = 30 * 86400  # the longest a job may live (XPHA_UWS_DESTRUCTION_MAX_S)


# --- helpers --------------------------------------------------------------------------------
def _service(request: Request) -> JobService:
    return request.app.state.uws


def _job(request: Request, job_id: str) -> Job:
    """The job, if the caller may see it; NotFoundFault otherwise (no hint whether it exists)."""
    job = _service(request).get(job_id)
    caller = caller_of(request)
    if job is None or job.owner_id != caller.user:
        raise NotFoundFault(
            f"there is no async job {job_id[:64]!r} (deleted, past its destruction, or not yours)"
        )
    return job


def _list_url(request: Request) -> str:
    return tap_base(request) + "/async"


def _job_url(request: Request, job_id: str) -> str:
    return f"{_list_url(request)}/{job_id}"


def _result_url(request: Request, job_id: str) -> str:
    return f"{_job_url(request, job_id)}/results/{RESULT_ID}"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _xml(document: bytes) -> Response:
    return Response(document, media_type=UWS_CONTENT_TYPE)


def _text(text: str) -> PlainTextResponse:
    return PlainTextResponse(text)


def _phase(value: str, what: str) -> Phase:
    try:
        return Phase(value.strip().upper())
    except ValueError as exc:
        raise UsageFault(f"{what}={value[:40]!r} is not a UWS phase") from exc


def _set_owner_cookie(request: Request, response: Response, caller: Caller) -> None:
    """Give a new anonymous owner its cookie: its job list is the jobs created with it."""
    list_url = _list_url(request)
    response.set_cookie(
        OWNER_COOKIE,
        caller.cookie or "",
        max_age=COOKIE_LIFETIME_S,
        path=urlsplit(list_url).path,
        httponly=True,
        samesite="lax",
        secure=list_url.startswith("https:"),
    )


# --- job list -------------------------------------------------------------------------------
@router.get("/async", name="uws_job_list")
async def list_jobs(request: Request) -> Response:
    """The caller's jobs, newest first, with the UWS 1.1 PHASE, AFTER and LAST filters."""
    params = await read_params(request)
    phases = [_phase(p, "PHASE") for p in params.values.get("phase", [])]
    after_text, last_text = params.first("after"), params.first("last")
    after: datetime | None = None
    if after_text is not None:
        try:
            after = parse_iso_time(after_text)
        except ValueError as exc:
            raise UsageFault(f"AFTER={after_text[:40]!r} is not an ISO-8601 time") from exc
    last = None
    if last_text is not None:
        if not last_text.strip().isdigit() or int(last_text) < 1:
            raise UsageFault(f"LAST={last_text[:40]!r} is not a positive integer")
        last = int(last_text)
    owner_key = caller_of(request).owner_key
    jobs = await run_in_threadpool(_service(request).list, owner_key, phases, after, last)
    list_url = _list_url(request)
    # up to XPHA_UWS_LIST_LIMIT jobs: built off the event loop
    document = await run_in_threadpool(
        job_list_document, jobs, lambda job_id: f"{list_url}/{job_id}"
    )
    return _xml(document)


@router.post("/async", name="uws_create_job")
async def create_job(request: Request) -> Response:
    """Create a job from TAP parameters (and upload parts): 303 to it. PHASE=RUN starts it.

    What the job may store is checked now (sizes, named parts, quotas: 400); what its query
    means is judged when it runs, so a bad QUERY, LANG or MAXREC makes a job that ends in
    ERROR with the UsageFault message, where clients look (pyvo's ``run_async`` raises
    DALQueryError from errorSummary but drops the body of a 400 at creation; taplint QAS
    expects the 303).
    """
    params = await read_params(request)
    values = params.firsts()
    run = (values.get("phase") or "").strip().upper() == "RUN"
    if "phase" in values and not run:
        raise UsageFault(f"PHASE={values['phase'][:40]!r} at creation: only PHASE=RUN is allowed")
    caller = caller_of(request)
    new_owner = caller.user is None and caller.cookie is None
    if new_owner:
        caller = caller.with_new_cookie()
    holder = Holder(owner_id=caller.user, owner_key=caller.owner_key, client=caller.quota_key)
    service = _service(request)
    job = await run_in_threadpool(
        lambda: service.create(values, params.files, run=run, holder=holder)
    )
    response = _see_other(_job_url(request, job.job_id))
    if new_owner:
        _set_owner_cookie(request, response, caller)
    return response


# --- one job ------------------------------------------------------------------------------
@router.get("/async/{job_id}", name="uws_job")
async def get_job(request: Request, job_id: str) -> Response:
    """The job document; WAIT=n|-1 blocks (capped) while the job is active, PHASE is a hint."""
    service = _service(request)
    params = await read_params(request)
    job = await run_in_threadpool(_job, request, job_id)
    wait_text, hint_text = params.first("wait"), params.first("phase")
    if wait_text is not None:
        try:
            wait = float(wait_text)
        except ValueError as exc:
            raise UsageFault(f"WAIT={wait_text[:40]!r} is not a number of seconds") from exc
        timeout = service.limits.wait_max_s if wait < 0 or wait != wait else wait
        hint = _phase(hint_text, "PHASE") if hint_text else None
        found = await service.wait(job_id, timeout, hint)
        if found is None:
            raise NotFoundFault(f"there is no async job {job_id!r}")
        job = found
    return _xml(job_document(job, _result_url(request, job.job_id)))


@router.delete("/async/{job_id}", name="uws_delete_job")
def delete_job(request: Request, job_id: str) -> Response:
    """Destroy the job and its result: 303 to the job list (then 404 on the job)."""
    _job(request, job_id)
    if not _service(request).delete(job_id):
        raise NotFoundFault(f"there is no async job {job_id!r}")
    return _see_other(_list_url(request))


@router.post("/async/{job_id}", name="uws_post_job")
async def post_job(request: Request, job_id: str) -> Response:
    """ACTION=DELETE (for clients that cannot send DELETE)."""
    action = (await read_params(request)).first("action")
    if (action or "").strip().upper() != "DELETE":
        raise UsageFault(f"ACTION={(action or '')[:40]!r}: only ACTION=DELETE is allowed")
    return await run_in_threadpool(delete_job, request, job_id)


@router.get("/async/{job_id}/phase", name="uws_phase")
def get_phase(request: Request, job_id: str) -> Response:
    return _text(_job(request, job_id).phase.value)


@router.post("/async/{job_id}/phase", name="uws_set_phase")
async def post_phase(request: Request, job_id: str) -> Response:
    """PHASE=RUN queues a PENDING job, PHASE=ABORT stops it; 303 to the job."""
    service = _service(request)
    wanted = (await read_params(request)).first("phase") or ""
    await run_in_threadpool(_job, request, job_id)
    if wanted.strip().upper() == "RUN":
        await run_in_threadpool(service.run, job_id)
    elif wanted.strip().upper() == "ABORT":
        await run_in_threadpool(service.abort, job_id)
    else:
        raise UsageFault(f"PHASE={wanted[:40]!r}: only PHASE=RUN or ABORT")
    return _see_other(_job_url(request, job_id))


@router.get("/async/{job_id}/parameters", name="uws_parameters")
def get_parameters(request: Request, job_id: str) -> Response:
    return _xml(parameters_document(_job(request, job_id)))


@router.post("/async/{job_id}/parameters", name="uws_set_parameters")
async def post_parameters(request: Request, job_id: str) -> Response:
    """Add or change parameters (and upload parts) of a PENDING job; 303 to the job."""
    params = await read_params(request)
    await run_in_threadpool(_job, request, job_id)
    await run_in_threadpool(_service(request).set_parameters, job_id, params.firsts(), params.files)
    return _see_other(_job_url(request, job_id))


@router.get("/async/{job_id}/results", name="uws_results")
def get_results(request: Request, job_id: str) -> Response:
    return _xml(results_document(_job(request, job_id), _result_url(request, job_id)))


@router.get("/async/{job_id}/results/{result_id}", name="uws_result")
def get_result(request: Request, job_id: str, result_id: str) -> Response:
    """The result file, streamed from disk."""
    job = _job(request, job_id)
    path = _service(request).result_file(job) if result_id == RESULT_ID else None
    if path is None:
        raise NotFoundFault(
            f"job {job_id!r} has no result {result_id[:40]!r} (phase {job.phase.value})"
        )
    return FileResponse(path, media_type=job.result_type or "application/octet-stream")


@router.get("/async/{job_id}/error", name="uws_error")
def get_error(request: Request, job_id: str) -> Response:
    """The DALI error VOTable of a job in ERROR (the errorSummary message)."""
    job = _job(request, job_id)
    if job.phase != Phase.ERROR:
        raise NotFoundFault(f"job {job_id!r} has no error (phase {job.phase.value})")
    message = job.error_message or "the job failed"
    prefix = message.split(":", 1)[0]
    fault_name = prefix if prefix.endswith("Fault") else "FatalFault"
    return Response(
        error_votable(message, fault_name, job.parameters.get("query")),
        media_type=VOTABLE_CONTENT_TYPE,
    )


@router.get("/async/{job_id}/quote", name="uws_quote")
def get_quote(request: Request, job_id: str) -> Response:
    return _text(iso_time(_job(request, job_id).quote))


@router.get("/async/{job_id}/owner", name="uws_owner")
def get_owner(request: Request, job_id: str) -> Response:
    return _text(_job(request, job_id).owner_id or "")


@router.get("/async/{job_id}/executionduration", name="uws_execution_duration")
def get_execution_duration(request: Request, job_id: str) -> Response:
    return _text(str(_job(request, job_id).execution_duration))


@router.post("/async/{job_id}/executionduration", name="uws_set_execution_duration")
async def post_execution_duration(request: Request, job_id: str) -> Response:
    """Change the duration of a PENDING job (capped by the server); 303 to the job."""
    return await _set_value(request, job_id, "executionduration", JobService.set_execution_duration)


@router.get("/async/{job_id}/destruction", name="uws_destruction")
def get_destruction(request: Request, job_id: str) -> Response:
    return _text(iso_time(_job(request, job_id).destruction))


@router.post("/async/{job_id}/destruction", name="uws_set_destruction")
async def post_destruction(request: Request, job_id: str) -> Response:
    """Move the destruction time (capped by the server); 303 to the job."""
    return await _set_value(request, job_id, "destruction", JobService.set_destruction)


async def _set_value(
    request: Request, job_id: str, name: str, setter: Callable[[JobService, str, str], None]
) -> Response:
    """POST one UWS job property: its value, the job checked, the service's setter, 303."""
    params: RequestParams = await read_params(request)
    value = params.first(name)
    if value is None:
        raise UsageFault(f"{name.upper()} is missing")
    await run_in_threadpool(_job, request, job_id)
    await run_in_threadpool(setter, _service(request), job_id, value)
    return _see_other(_job_url(request, job_id))
