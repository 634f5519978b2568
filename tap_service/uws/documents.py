"""UWS 1.1 XML documents (job, job list) and the plain-text resources of a job.

Built with lxml so that any parameter value a client sends (quotes, ``<``, control characters)
still yields a well-formed document. Element order follows the UWS 1.1 schema, because strict
parsers (pyvo's ``pyvo.io.uws``, STILTS) read it positionally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from lxml import etree

from tap_service.uws.model import RESULT_ID, Job, JobSummary, Phase

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"uws": UWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
UWS_CONTENT_TYPE = "application/xml"


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
    return "".join(ch for ch in text if ch in "\t\n\r" or 0x20 <= ord(ch) < 0xD800
                   or 0xE000 <= ord(ch) < 0xFFFE or ord(ch) >= 0x10000)


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{UWS_NS}}}{name}", attrs)
    if text is None:
        element.set(f"{{{XSI_NS}}}nil", "true")
    else:
        element.text = _xml_text(text)
    return element


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def job_document(job: Job, result_url: str) -> bytes:
    """The UWS 1.1 ``uws:job`` document of a job."""
    root = etree.Element(f"{{{UWS_NS}}}job", nsmap=NSMAP, version="1.1")
    _el(root, "jobId", job.job_id)
    if job.run_id is not None:
        _el(root, "runId", job.run_id)
    _el(root, "ownerId", job.owner_id)
    _el(root, "phase", job.phase.value)
    _el(root, "quote", iso_time(job.quote) if job.quote else None)
    _el(root, "creationTime", iso_time(job.creation_time))
    _el(root, "startTime", iso_time(job.start_time) if job.start_time else None)
    _el(root, "endTime", iso_time(job.end_time) if job.end_time else None)
    _el(root, "executionDuration", str(job.execution_duration))
    _el(root, "destruction", iso_time(job.destruction))
    parameters = etree.SubElement(root, f"{{{UWS_NS}}}parameters")
    for name, value in job.parameters.items():
        _el(parameters, "parameter", value, id=_xml_text(name))
    results = etree.SubElement(root, f"{{{UWS_NS}}}results")
    if job.has_result:
        result = _el(results, "result", "", id=RESULT_ID)
        result.text = None
        result.set(f"{{{XLINK_NS}}}type", "simple")
        result.set(f"{{{XLINK_NS}}}href", result_url)
        if job.result_type:
            result.set("mime-type", job.result_type)
        if job.result_size is not None:
            result.set("size", str(job.result_size))
    if job.phase == Phase.ERROR:
        summary = etree.SubElement(
            root, f"{{{UWS_NS}}}errorSummary", type=job.error_type or "fatal", hasDetail="true"
        )
        _el(summary, "message", job.error_message or "the job failed")
    return _serialise(root)


def job_list_document(jobs: Iterable[JobSummary], job_url: Callable[[str], str]) -> bytes:
    """The UWS 1.1 ``uws:jobs`` list: one ``jobref`` per job, newest first."""
    root = etree.Element(f"{{{UWS_NS}}}jobs", nsmap=NSMAP, version="1.1")
    for job in jobs:
        ref = etree.SubElement(root, f"{{{UWS_NS}}}jobref", id=job.job_id)
        ref.set(f"{{{XLINK_NS}}}type", "simple")
        ref.set(f"{{{XLINK_NS}}}href", job_url(job.job_id))
        _el(ref, "phase", job.phase.value)
        if job.run_id is not None:
            _el(ref, "runId", job.run_id)
        _el(ref, "ownerId", job.owner_id)
        _el(ref, "creationTime", iso_time(job.creation_time))
    return _serialise(root)


def results_document(job: Job, result_url: str) -> bytes:
    """The ``uws:results`` list of a job (empty until it COMPLETED)."""
    root = etree.Element(f"{{{UWS_NS}}}results", nsmap=NSMAP)
    if job.has_result:
        result = etree.SubElement(root, f"{{{UWS_NS}}}result", id=RESULT_ID)
        result.set(f"{{{XLINK_NS}}}type", "simple")
        result.set(f"{{{XLINK_NS}}}href", result_url)
    return _serialise(root)


def parameters_document(job: Job) -> bytes:
    """The ``uws:parameters`` list of a job."""
    root = etree.Element(f"{{{UWS_NS}}}parameters", nsmap=NSMAP)
    for name, value in job.parameters.items():
        _el(root, "parameter", value, id=_xml_text(name))
    return _serialise(root)
