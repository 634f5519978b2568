"""The UWS 1.1 HTTP layer of TAP async: thin handlers over :class:`JobService`.

Mounted by the app factory under the TAP base (``/tap``), so the job list is ``/tap/async``.
Every failure answers a DALI error VOTable (never JSON or HTML) with the fault's status:
400 for a bad parameter, 404 for an unknown job, 503 when the queue is full.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse
from starlette.datastructures import UploadFile

from tap_service.errors import VOTABLE_CONTENT_TYPE, DaliFault, UsageFault, error_votable
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

async_router = APIRouter()


class JobNotFound(DaliFault):
    """No such job (never created, deleted, or destroyed)."""

    fault_name = "UsageFault"
    http_status = 404


# --- helpers --------------------------------------------------------------------------------
def _service(request: Request) -> JobService:
    return request.app.state.uws  # type: ignore[no-any-return]


async def _params(request: Request) -> tuple[dict[str, list[str]], dict[str, bytes]]:
    """Query and form parameters with lower-case names (DALI), and multipart file parts."""
    values: dict[str, list[str]] = {}
    files: dict[str, bytes] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key.lower(), []).append(value)
    if request.method == "POST":
        try:
            form = await request.form()
        except Exception as exc:  # a malformed body is the client's fault
            raise UsageFault(f"the request body could not be read as a form: {exc}") from exc
        for key, item in form.multi_items():
            if isinstance(item, UploadFile):
                files[key] = await item.read()
            else:
                values.setdefault(key.lower(), []).append(item)
    return values, files


def _one(values: Mapping[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[0] if found else None


def _fault_response(fault: DaliFault) -> Response:
    return Response(
        error_votable(str(fault), fault.fault_name),
        status_code=fault.http_status,
        media_type=VOTABLE_CONTENT_TYPE,
    )


def _job_or_404(service: JobService, job_id: str) -> Job:
    job = service.get(job_id)
    if job is None:
        raise JobNotFound(f"there is no async job {job_id!r} (deleted or past its destruction)")
    return job


def _public(request: Request, url: object) -> str:
    """A link as clients must see it: under ``XPHA_TAP_BASE_URL`` when one is configured
    (a proxy in front), else as the request reached us."""
    settings = getattr(request.app.state, "settings", None)
    configured = settings.tap_base_url if settings is not None else None
    if not configured:
        return str(url)
    path = urlsplit(str(url)).path
    return configured.rstrip("/") + path[path.find("/async"):]


def _list_url(request: Request) -> str:
    return _public(request, request.url_for("uws_job_list"))


def _job_url(request: Request, job_id: str) -> str:
    return _public(request, request.url_for("uws_job", job_id=job_id))


def _result_url(request: Request, job_id: str) -> str:
    return _public(request, request.url_for("uws_result", job_id=job_id, result_id=RESULT_ID))


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
        raise UsageFault(f"{what}={value!r} is not a UWS phase") from exc


# --- job list -------------------------------------------------------------------------------
@async_router.get("/async", name="uws_job_list")
async def list_jobs(request: Request) -> Response:
    """UWS 1.1 job list with PHASE (repeatable), AFTER and LAST filters; newest first."""
    try:
        values, _ = await _params(request)
        phases = [_phase(p, "PHASE") for p in values.get("phase", [])]
        after_text, last_text = _one(values, "after"), _one(values, "last")
        after: datetime | None = None
        if after_text is not None:
            try:
                after = parse_iso_time(after_text)
            except ValueError as exc:
                raise UsageFault(f"AFTER={after_text!r} is not an ISO-8601 time") from exc
        last = None
        if last_text is not None:
            if not last_text.strip().isdigit() or int(last_text) < 1:
                raise UsageFault(f"LAST={last_text!r} is not a positive integer")
            last = int(last_text)
        service = _service(request)
        jobs = await run_in_threadpool(service.list, phases, after, last)
    except DaliFault as fault:
        return _fault_response(fault)
    list_url = _list_url(request)  # job URLs are {list}/{id}: one url_for, not one per job
    return _xml(job_list_document(jobs, lambda job_id: f"{list_url}/{job_id}"))


@async_router.post("/async", name="uws_create_job")
async def create_job(request: Request) -> Response:
    """Create a job from TAP parameters (and upload parts): 303 to it. PHASE=RUN starts it.

    TAP parameters are not judged here: a bad QUERY, LANG or MAXREC makes a job that ends in
    ERROR with the UsageFault message, because that is where clients look (pyvo's
    ``run_async`` raises DALQueryError from errorSummary but drops the body of a 400 at
    creation; taplint QAS expects the 303). Only UWS parameters (PHASE, EXECUTIONDURATION,
    DESTRUCTION) and values PostgreSQL cannot store are refused with a 400.
    """
    try:
        values, files = await _params(request)
        params = {name: found[0] for name, found in values.items()}
        run = (params.get("phase") or "").strip().upper() == "RUN"
        if "phase" in params and not run:
            raise UsageFault(f"PHASE={params['phase']!r} at creation: only PHASE=RUN is allowed")
        service = _service(request)
        job = await run_in_threadpool(lambda: service.create(params, files, run=run))
    except DaliFault as fault:
        return _fault_response(fault)
    return _see_other(_job_url(request, job.job_id))


# --- one job ------------------------------------------------------------------------------
@async_router.get("/async/{job_id}", name="uws_job")
async def get_job(request: Request, job_id: str) -> Response:
    """The job document; WAIT=n|-1 blocks (capped) while the job is active, PHASE is a hint."""
    service = _service(request)
    try:
        values, _ = await _params(request)
        wait_text, hint_text = _one(values, "wait"), _one(values, "phase")
        if wait_text is None:
            job = await run_in_threadpool(_job_or_404, service, job_id)
        else:
            try:
                wait = float(wait_text)
            except ValueError as exc:
                raise UsageFault(f"WAIT={wait_text!r} is not a number of seconds") from exc
            timeout = service.limits.wait_max_s if wait < 0 else wait
            hint = _phase(hint_text, "PHASE") if hint_text else None
            found = await service.wait(job_id, timeout, hint)
            if found is None:
                raise JobNotFound(f"there is no async job {job_id!r}")
            job = found
    except DaliFault as fault:
        return _fault_response(fault)
    return _xml(job_document(job, _result_url(request, job.job_id)))


@async_router.delete("/async/{job_id}", name="uws_delete_job")
def delete_job(request: Request, job_id: str) -> Response:
    """Destroy the job and its result: 303 to the job list (then 404 on the job)."""
    if not _service(request).delete(job_id):
        return _fault_response(JobNotFound(f"there is no async job {job_id!r}"))
    return _see_other(_list_url(request))


@async_router.post("/async/{job_id}", name="uws_post_job")
async def post_job(request: Request, job_id: str) -> Response:
    """ACTION=DELETE (for clients that cannot send DELETE)."""
    try:
        values, _ = await _params(request)
        action = (_one(values, "action") or "").strip().upper()
        if action != "DELETE":
            raise UsageFault(f"ACTION={_one(values, 'action')!r}: only ACTION=DELETE is allowed")
    except DaliFault as fault:
        return _fault_response(fault)
    return await run_in_threadpool(delete_job, request, job_id)


@async_router.get("/async/{job_id}/phase", name="uws_phase")
def get_phase(request: Request, job_id: str) -> Response:
    try:
        return _text(_job_or_404(_service(request), job_id).phase.value)
    except DaliFault as fault:
        return _fault_response(fault)


@async_router.post("/async/{job_id}/phase", name="uws_set_phase")
async def post_phase(request: Request, job_id: str) -> Response:
    """PHASE=RUN queues a PENDING job, PHASE=ABORT stops it; 303 to the job."""
    service = _service(request)
    try:
        values, _ = await _params(request)
        wanted = (_one(values, "phase") or "").strip().upper()
        await run_in_threadpool(_job_or_404, service, job_id)
        if wanted == "RUN":
            await run_in_threadpool(service.run, job_id)
        elif wanted == "ABORT":
            await run_in_threadpool(service.abort, job_id)
        else:
            raise UsageFault(f"PHASE={_one(values, 'phase')!r}: only PHASE=RUN or ABORT")
    except DaliFault as fault:
        return _fault_response(fault)
    return _see_other(_job_url(request, job_id))


@async_router.get("/async/{job_id}/parameters", name="uws_parameters")
def get_parameters(request: Request, job_id: str) -> Response:
    try:
        return _xml(parameters_document(_job_or_404(_service(request), job_id)))
    except DaliFault as fault:
        return _fault_response(fault)


@async_router.post("/async/{job_id}/parameters", name="uws_set_parameters")
async def post_parameters(request: Request, job_id: str) -> Response:
    """Add or change parameters (and upload parts) of a PENDING job; 303 to the job."""
    service = _service(request)
    try:
        values, files = await _params(request)
        params = {name: found[0] for name, found in values.items()}
        await run_in_threadpool(_job_or_404, service, job_id)
        await run_in_threadpool(service.set_parameters, job_id, params, files)
    except DaliFault as fault:
        return _fault_response(fault)
    return _see_other(_job_url(request, job_id))


@async_router.get("/async/{job_id}/results", name="uws_results")
def get_results(request: Request, job_id: str) -> Response:
    try:
        job = _job_or_404(_service(request), job_id)
    except DaliFault as fault:
        return _fault_response(fault)
    return _xml(results_document(job, _result_url(request, job_id)))


@async_router.get("/async/{job_id}/results/{result_id}", name="uws_result")
def get_result(request: Request, job_id: str, result_id: str) -> Response:
    """The result file, streamed from disk."""
    service = _service(request)
    try:
        job = _job_or_404(service, job_id)
        path = service.result_file(job) if result_id == RESULT_ID else None
        if path is None:
            raise JobNotFound(
                f"job {job_id!r} has no result {result_id!r} (phase {job.phase.value})"
            )
    except DaliFault as fault:
        return _fault_response(fault)
    return FileResponse(path, media_type=job.result_type or "application/octet-stream")


@async_router.get("/async/{job_id}/error", name="uws_error")
def get_error(request: Request, job_id: str) -> Response:
    """The DALI error VOTable of a job in ERROR (the errorSummary message)."""
    try:
        job = _job_or_404(_service(request), job_id)
        if job.phase != Phase.ERROR:
            raise JobNotFound(f"job {job_id!r} has no error (phase {job.phase.value})")
    except DaliFault as fault:
        return _fault_response(fault)
    message = job.error_message or "the job failed"
    fault_name = message.split(":", 1)[0] if message.split(":", 1)[0].endswith("Fault") else (
        "FatalFault")
    return Response(
        error_votable(message, fault_name, job.parameters.get("query")),
        media_type=VOTABLE_CONTENT_TYPE,
    )


@async_router.get("/async/{job_id}/quote", name="uws_quote")
def get_quote(request: Request, job_id: str) -> Response:
    try:
        job = _job_or_404(_service(request), job_id)
    except DaliFault as fault:
        return _fault_response(fault)
    return _text(iso_time(job.quote))


@async_router.get("/async/{job_id}/owner", name="uws_owner")
def get_owner(request: Request, job_id: str) -> Response:
    try:
        job = _job_or_404(_service(request), job_id)
    except DaliFault as fault:
        return _fault_response(fault)
    return _text(job.owner_id or "")


@async_router.get("/async/{job_id}/executionduration", name="uws_execution_duration")
def get_execution_duration(request: Request, job_id: str) -> Response:
    try:
        job = _job_or_404(_service(request), job_id)
    except DaliFault as fault:
        return _fault_response(fault)
    return _text(str(job.execution_duration))


@async_router.post("/async/{job_id}/executionduration", name="uws_set_execution_duration")
async def post_execution_duration(request: Request, job_id: str) -> Response:
    """Change the duration of a PENDING job (capped by the server); 303 to the job."""
    return await _set(request, job_id, "executionduration", JobService.set_execution_duration)


@async_router.get("/async/{job_id}/destruction", name="uws_destruction")
def get_destruction(request: Request, job_id: str) -> Response:
    try:
        job = _job_or_404(_service(request), job_id)
    except DaliFault as fault:
        return _fault_response(fault)
    return _text(iso_time(job.destruction))


@async_router.post("/async/{job_id}/destruction", name="uws_set_destruction")
async def post_destruction(request: Request, job_id: str) -> Response:
    """Move the destruction time (capped by the server); 303 to the job."""
    return await _set(request, job_id, "destruction", JobService.set_destruction)


async def _set(request: Request, job_id: str, name: str, setter: object) -> Response:
    service = _service(request)
    try:
        values, _ = await _params(request)
        value = _one(values, name)
        if value is None:
            raise UsageFault(f"{name.upper()} is missing")
        await run_in_threadpool(_job_or_404, service, job_id)
        await run_in_threadpool(setter, service, job_id, value)  # type: ignore[arg-type]
    except DaliFault as fault:
        return _fault_response(fault)
    return _see_other(_job_url(request, job_id))
