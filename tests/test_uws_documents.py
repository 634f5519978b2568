"""UWS 1.1 documents (job, job list, results, parameters) against the UWS 1.1 XSD taplint uses.

Data-driven: jobs in every phase, with and without run id, owner, quote, result and error, and
with the values a hostile client may send (markup, quotes, control characters). Each document
must validate and must carry back exactly what the job holds (control characters, which XML 1.0
cannot carry, dropped).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from xsd_support import ivoa_schema

from tap_service.uws.documents import (
    iso_time,
    job_document,
    job_list_document,
    parameters_document,
    results_document,
)
from tap_service.uws.model import Job, JobSummary, Phase

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
T0 = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
JOB_ID = "0123456789abcdef0123456789abcdef"
RESULT_URL = f"https://tap.example.org/tap/async/{JOB_ID}/results/result"
HOSTILE = "a < b & c > \"d\" 'e' ]]> \x00\x01\x1f é 漢 \U0001f600"
HOSTILE_CLEAN = "a < b & c > \"d\" 'e' ]]>  é 漢 \U0001f600"


def job(**changes: object) -> Job:
    fields: dict = {
        "job_id": JOB_ID,
        "phase": Phase.PENDING,
        "parameters": {"lang": "ADQL", "query": "SELECT 1"},
        "creation_time": T0,
        "execution_duration": 3600,
        "destruction": T0 + timedelta(days=7),
    }
    fields.update(changes)
    return Job(**fields)  # type: ignore[arg-type]


JOB_CASES = {
    "pending": job(),
    "queued with quote and run id": job(phase=Phase.QUEUED, quote=T0, run_id="run-7"),
    "executing": job(phase=Phase.EXECUTING, start_time=T0),
    "completed": job(
        phase=Phase.COMPLETED,
        start_time=T0,
        end_time=T0,
        result_path="r.vot",
        result_type="application/x-votable+xml",
        result_size=725,
    ),
    "completed, result size unknown": job(phase=Phase.COMPLETED, result_path="r.vot"),
    "error": job(
        phase=Phase.ERROR,
        end_time=T0,
        error_type="fatal",
        error_message="UsageFault: unknown column 'x'",
    ),
    "transient error without a message": job(phase=Phase.ERROR, error_type="transient"),
    "aborted, with an owner": job(phase=Phase.ABORTED, owner_id="alice"),
    "no parameters": job(parameters={}),
    "hostile values": job(
        run_id=HOSTILE,
        parameters={"query": HOSTILE, HOSTILE: "x", "e": ""},
        phase=Phase.ERROR,
        error_message=HOSTILE,
    ),
}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return ivoa_schema()


def parsed(document: bytes, schema: etree.XMLSchema) -> etree._Element:
    root = etree.fromstring(document)
    schema.assertValid(root)
    return root


@pytest.mark.parametrize("case", JOB_CASES, ids=list(JOB_CASES))
def test_job_document_is_valid_and_says_what_the_job_holds(
    case: str, schema: etree.XMLSchema
) -> None:
    given = JOB_CASES[case]
    root = parsed(job_document(given, RESULT_URL), schema)
    assert root.get("version") == "1.1"
    assert root.findtext(f"{UWS}jobId") == given.job_id
    assert root.findtext(f"{UWS}phase") == given.phase.value
    run_id = root.find(f"{UWS}runId")
    if given.run_id is None:
        assert run_id is None
    else:
        assert run_id.text == _clean(given.run_id)
    owner = root.find(f"{UWS}ownerId")
    assert (owner.get(XSI_NIL) == "true") if given.owner_id is None else owner.text == "alice"
    for name, value in (
        ("quote", given.quote),
        ("startTime", given.start_time),
        ("endTime", given.end_time),
    ):
        element = root.find(f"{UWS}{name}")
        assert element.get(XSI_NIL) == "true" if value is None else element.text == iso_time(value)
    assert root.findtext(f"{UWS}creationTime") == "2026-01-02T03:04:05.678Z"
    assert root.findtext(f"{UWS}destruction") == iso_time(given.destruction)
    assert root.findtext(f"{UWS}executionDuration") == str(given.execution_duration)
    parameters = {p.get("id"): p.text or "" for p in root.find(f"{UWS}parameters")}
    assert parameters == {_clean(k): _clean(v) for k, v in given.parameters.items()}
    results = root.find(f"{UWS}results")
    assert [r.get(XLINK_HREF) for r in results] == ([RESULT_URL] if given.has_result else [])
    summary = root.find(f"{UWS}errorSummary")
    if given.phase == Phase.ERROR:
        assert summary.get("type") == (given.error_type or "fatal")
        assert summary.findtext(f"{UWS}message") == _clean(given.error_message or "the job failed")
    else:
        assert summary is None


@pytest.mark.parametrize("case", JOB_CASES, ids=list(JOB_CASES))
def test_results_and_parameters_documents_are_valid(case: str, schema: etree.XMLSchema) -> None:
    given = JOB_CASES[case]
    results = parsed(results_document(given, RESULT_URL), schema)
    assert results.tag == f"{UWS}results"
    assert [(r.get("id"), r.get(XLINK_HREF)) for r in results] == (
        [("result", RESULT_URL)] if given.has_result else []
    )
    if given.result_size is not None and given.has_result:
        assert results[0].get("size") == str(given.result_size)
    parameters = parsed(parameters_document(given), schema)
    assert parameters.tag == f"{UWS}parameters"
    assert [p.get("id") for p in parameters] == [_clean(k) for k in given.parameters]


LIST_CASES = {
    "empty": [],
    "one of each phase": [
        JobSummary(f"{n:032x}", phase, T0 - timedelta(seconds=n)) for n, phase in enumerate(Phase)
    ],
    "run ids, owners, hostile": [
        JobSummary(JOB_ID, Phase.COMPLETED, T0, run_id=HOSTILE, owner_id="bob"),
        JobSummary("f" * 32, Phase.ERROR, T0, run_id=""),
    ],
}


@pytest.mark.parametrize("case", LIST_CASES, ids=list(LIST_CASES))
def test_job_list_document_is_valid(case: str, schema: etree.XMLSchema) -> None:
    jobs = LIST_CASES[case]
    root = parsed(job_list_document(jobs, lambda job_id: f"https://h/tap/async/{job_id}"), schema)
    assert root.get("version") == "1.1"
    refs = root.findall(f"{UWS}jobref")
    assert [r.get("id") for r in refs] == [j.job_id for j in jobs]
    assert [r.get(XLINK_HREF) for r in refs] == [f"https://h/tap/async/{j.job_id}" for j in jobs]
    assert [r.findtext(f"{UWS}phase") for r in refs] == [j.phase.value for j in jobs]
    assert [r.findtext(f"{UWS}runId") for r in refs] == [
        None if j.run_id is None else _clean(j.run_id) for j in jobs
    ]
    assert [r.findtext(f"{UWS}creationTime") for r in refs] == [
        iso_time(j.creation_time) for j in jobs
    ]


def _clean(text: str) -> str:
    return text.replace(HOSTILE, HOSTILE_CLEAN)
