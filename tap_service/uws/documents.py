"""UWS 1.1 XML documents (job, job list, results, parameters) from the typed `vo-models` models.

The models put the elements in the schema's order, which strict parsers (pyvo's
``pyvo.io.uws``, STILTS) read positionally, and lxml escapes whatever a client sent; characters
XML 1.0 cannot carry at all are dropped first. Documents are serialised with
``exclude_unset``: an element is written when the model was given it, so an optional element
without a value (``runId``) is left out while a nillable one given as None (``ownerId``,
``quote``, ``startTime``, ``endTime``) is written ``xsi:nil``, as the schema wants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic_xml import BaseXmlModel, element
from vo_models.uws import ErrorSummary, Jobs, JobSummary, ResultReference, Results
from vo_models.uws import Parameter as UwsParameter
from vo_models.uws import ShortJobDescription as UwsJobRef
from vo_models.uws.models import NSMAP
from vo_models.uws.types import ErrorType, ExecutionPhase, UWSVersion
from vo_models.xlink import XlinkType

from tap_service.uws.model import RESULT_ID, Job, Phase
from tap_service.uws.model import JobSummary as JobRow

UWS_NS = NSMAP["uws"]
UWS_CONTENT_TYPE = "application/xml"


class JobParameters(BaseXmlModel, tag="parameters", ns="uws", nsmap=NSMAP):
    """``uws:parameters`` as a list: a TAP job's parameters are whatever the client sent, so
    not vo-models' one-field-per-key ``Parameters`` (which wants the keys known in advance)."""

    parameter: list[UwsParameter] = element(tag="parameter", default_factory=list)


TapJob = JobSummary[JobParameters]


def iso_time(value: datetime | None) -> str:
    """ISO-8601 UTC with a ``Z``, to the millisecond (what UWS clients parse)."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_iso_time(text: str) -> datetime:
    """An ISO-8601 time as clients send it (``Z`` or an offset; naive means UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _xml_text(text: str) -> str:
    """Drop characters XML 1.0 cannot carry."""
    return "".join(
        ch
        for ch in text
        if ch in "\t\n\r"
        or 0x20 <= ord(ch) < 0xD800
        or 0xE000 <= ord(ch) < 0xFFFE
        or ord(ch) >= 0x10000
    )


def _serialise(document: BaseXmlModel) -> bytes:
    xml = document.to_xml(
        exclude_unset=True, xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    assert isinstance(xml, bytes)  # with an encoding, never str
    return xml


def _parameters(job: Job) -> JobParameters:
    return JobParameters(
        parameter=[
            UwsParameter(id=_xml_text(name), value=_xml_text(value))
            for name, value in job.parameters.items()
        ]
    )


def _results(job: Job, result_url: str) -> Results:
    if not job.has_result:
        return Results(results=[])
    reference: dict[str, Any] = {"id": RESULT_ID, "type": XlinkType.SIMPLE, "href": result_url}
    if job.result_type:
        reference["mime_type"] = job.result_type
    if job.result_size is not None:
        reference["size"] = job.result_size
    return Results(results=[ResultReference(**reference)])


def _optional(name: str, value: str | None) -> dict[str, Any]:
    """An element that the schema lets us leave out, given only when it has a value."""
    return {} if value is None else {name: _xml_text(value)}


def job_document(job: Job, result_url: str) -> bytes:
    """The UWS 1.1 ``uws:job`` document of a job."""
    error: dict[str, Any] = {}
    if job.phase == Phase.ERROR:
        error["error_summary"] = ErrorSummary(
            type=ErrorType(job.error_type or "fatal"),
            has_detail=True,
            message=_xml_text(job.error_message or "the job failed"),
        )
    return _serialise(
        TapJob(
            version=UWSVersion.V1_1,
            job_id=job.job_id,
            **_optional("run_id", job.run_id),
            owner_id=job.owner_id,  # nil without bearer auth
            phase=ExecutionPhase(job.phase.value),
            quote=job.quote,
            creation_time=job.creation_time,
            start_time=job.start_time,
            end_time=job.end_time,
            execution_duration=job.execution_duration,
            destruction=job.destruction,
            parameters=_parameters(job),
            results=_results(job, result_url),
            **error,
        )
    )


def job_list_document(jobs: Iterable[JobRow], job_url: Callable[[str], str]) -> bytes:
    """The UWS 1.1 ``uws:jobs`` list: one ``jobref`` per job, newest first."""
    refs = [
        UwsJobRef(
            job_id=job.job_id,
            type=XlinkType.SIMPLE,
            href=job_url(job.job_id),
            phase=ExecutionPhase(job.phase.value),
            **_optional("run_id", job.run_id),
            owner_id=job.owner_id,
            creation_time=job.creation_time,
        )
        for job in jobs
    ]
    return _serialise(Jobs(version=UWSVersion.V1_1, jobref=refs))


def results_document(job: Job, result_url: str) -> bytes:
    """The ``uws:results`` list of a job (empty until it COMPLETED)."""
    return _serialise(_results(job, result_url))


def parameters_document(job: Job) -> bytes:
    """The ``uws:parameters`` list of a job."""
    return _serialise(_parameters(job))
