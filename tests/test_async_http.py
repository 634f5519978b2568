"""TAP async (UWS 1.1) over HTTP against a live server on a real database, and real clients.

Checks each resource of vo-protocols.md §3.4 (303s, WAIT, PHASE hint, /phase, /error, DELETE
then 404, list filters, settable duration/destruction), executionDuration enforcement, and the
clients astronomers use: pyvo ``run_async`` and STILTS ``tapquery`` (TOPCAT's engine).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from lxml import etree
from uws_support import (
    SLOW_QUERY,
    UWS,
    LiveServer,
    job_xml,
    phase_of,
    submit,
    votable_status,
    wait_final,
)
from xsd_support import ivoa_schema

SCHEMAS_QUERY = "SELECT schema_name FROM tap_schema.schemas ORDER BY schema_name"
WAIT_CAP_S = 2.0


@pytest.fixture(scope="module")
def server(module_db_url: str, tmp_path_factory: pytest.TempPathFactory):
    live = LiveServer(
        module_db_url, tmp_path_factory.mktemp("async-var"), uws_wait_max_s=WAIT_CAP_S
    ).start()
    yield live
    live.stop()


@pytest.fixture
def client():
    with httpx.Client(timeout=60) as http:
        yield http


def expected_schemas(client: httpx.Client, base: str) -> bytes:
    response = client.post(
        f"{base}/sync", data={"LANG": "ADQL", "QUERY": SCHEMAS_QUERY, "RESPONSEFORMAT": "csv"}
    )
    assert response.status_code == 200
    return response.content


def test_create_answers_303_and_a_pending_uws_11_job(server, client) -> None:
    job_url = submit(client, server.base, SCHEMAS_QUERY, run=False, RUNID="my-run", MAXREC="7")
    assert job_url.startswith(f"{server.base}/async/")
    job = job_xml(client, job_url)
    assert job.tag == f"{UWS}job" and job.get("version") == "1.1"
    assert job.findtext(f"{UWS}jobId") == job_url.rsplit("/", 1)[1]
    assert job.findtext(f"{UWS}runId") == "my-run"
    owner = job.find(f"{UWS}ownerId")
    assert owner.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
    assert phase_of(job) == "PENDING"
    for name in ("creationTime", "destruction", "quote"):
        assert job.findtext(f"{UWS}{name}").endswith("Z"), name
    assert int(job.findtext(f"{UWS}executionDuration")) > 0
    parameters = {p.get("id"): p.text for p in job.find(f"{UWS}parameters")}
    assert parameters["query"] == SCHEMAS_QUERY and parameters["maxrec"] == "7"
    assert all(name == name.lower() for name in parameters)
    assert len(job.find(f"{UWS}results")) == 0
    assert client.get(f"{job_url}/phase").text == "PENDING"
    ordering = [child.tag.removeprefix(UWS) for child in job]
    assert ordering == [
        "jobId",
        "runId",
        "ownerId",
        "phase",
        "quote",
        "creationTime",
        "startTime",
        "endTime",
        "executionDuration",
        "destruction",
        "parameters",
        "results",
    ]


def test_job_runs_to_a_result_equal_to_sync(server, client) -> None:
    job_url = submit(client, server.base, SCHEMAS_QUERY, RESPONSEFORMAT="csv")
    job = wait_final(client, job_url)
    assert phase_of(job) == "COMPLETED"
    result = job.find(f"{UWS}results/{UWS}result")
    assert result.get("id") == "result"
    href = result.get("{http://www.w3.org/1999/xlink}href")
    assert href == f"{job_url}/results/result"
    response = client.get(href)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content == expected_schemas(client, server.base)
    start, end = job.findtext(f"{UWS}startTime"), job.findtext(f"{UWS}endTime")
    assert start.endswith("Z") and end.endswith("Z") and start <= end
    results = etree.fromstring(client.get(f"{job_url}/results").content)
    assert [r.get("id") for r in results] == ["result"]


def test_uws_documents_are_schema_valid(server, client) -> None:
    """Every UWS document a live server sends, in each phase, against the UWS 1.1 XSD."""
    schema = ivoa_schema()
    pending = submit(client, server.base, SCHEMAS_QUERY, run=False, RUNID="a <b> & 'c'")
    done = submit(client, server.base, SCHEMAS_QUERY)
    failed = submit(client, server.base, "SELECT nosuchcolumn FROM tap_schema.tables")
    wait_final(client, done), wait_final(client, failed)
    urls = [server.base + "/async", server.base + "/async?PHASE=COMPLETED&LAST=5"]
    for job_url in (pending, done, failed):
        urls += [job_url, f"{job_url}/results", f"{job_url}/parameters"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        document = etree.fromstring(response.content)
        assert schema.validate(document), (url, schema.error_log)
        assert document.tag.startswith(UWS), url


def test_phase_run_then_votable_result(server, client) -> None:
    job_url = submit(client, server.base, SCHEMAS_QUERY, run=False)
    response = client.post(f"{job_url}/phase", data={"PHASE": "RUN"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == job_url
    assert phase_of(wait_final(client, job_url)) == "COMPLETED"
    body = client.get(f"{job_url}/results/result").content
    assert votable_status(body)[0] == "OK"


def test_wait_blocks_in_active_phases_only_and_is_capped(server, client) -> None:
    job_url = submit(client, server.base, SLOW_QUERY)
    job = job_xml(client, job_url, WAIT="10", PHASE="QUEUED")  # until it leaves QUEUED
    assert phase_of(job) == "EXECUTING"
    t0 = time.monotonic()
    job = job_xml(client, job_url, WAIT="-1")  # capped at the server's maximum
    waited = time.monotonic() - t0
    assert phase_of(job) == "EXECUTING"
    assert WAIT_CAP_S - 0.3 < waited < WAIT_CAP_S + 1.5
    t0 = time.monotonic()
    job = job_xml(client, job_url, WAIT="30", PHASE="QUEUED")  # hint differs: at once
    assert phase_of(job) == "EXECUTING" and time.monotonic() - t0 < 2
    client.post(f"{job_url}/phase", data={"PHASE": "ABORT"})
    t0 = time.monotonic()
    job = job_xml(client, job_url, WAIT="30")  # final phase: at once
    assert phase_of(job) == "ABORTED" and time.monotonic() - t0 < 2


def test_wait_returns_as_soon_as_the_phase_changes(server, client) -> None:
    job_url = submit(client, server.base, SCHEMAS_QUERY, run=False)
    client.post(f"{job_url}/phase", data={"PHASE": "RUN"})
    t0 = time.monotonic()
    job = wait_final(client, job_url)
    assert phase_of(job) == "COMPLETED" and time.monotonic() - t0 < 2


def test_abort_of_an_executing_job(server, client) -> None:
    job_url = submit(client, server.base, SLOW_QUERY)
    job_xml(client, job_url, WAIT="5", PHASE="QUEUED")
    response = client.post(f"{job_url}/phase", data={"phase": "abort"}, follow_redirects=False)
    assert response.status_code == 303
    assert phase_of(job_xml(client, job_url)) == "ABORTED"
    assert client.get(f"{job_url}/results/result").status_code == 404


def test_execution_duration_is_enforced(server, client) -> None:
    job_url = submit(client, server.base, SLOW_QUERY, EXECUTIONDURATION="1")
    t0 = time.monotonic()
    job = wait_final(client, job_url)
    assert phase_of(job) == "ERROR" and time.monotonic() - t0 < 6
    message = job.findtext(f"{UWS}errorSummary/{UWS}message")
    assert "execution duration exceeded" in message
    status, text = votable_status(client.get(f"{job_url}/error").content)
    assert status == "ERROR" and "execution duration exceeded" in text


def test_adql_error_ends_in_error_with_a_dali_document(server, client) -> None:
    job_url = submit(client, server.base, "SELECT nosuchcolumn FROM tap_schema.tables")
    job = wait_final(client, job_url)
    assert phase_of(job) == "ERROR"
    summary = job.find(f"{UWS}errorSummary")
    assert summary.get("type") == "fatal"
    assert summary.findtext(f"{UWS}message").startswith("UsageFault:")
    response = client.get(f"{job_url}/error")
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    status, text = votable_status(response.content)
    assert status == "ERROR" and "nosuchcolumn" in text.lower()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"LANG": "ADQL"}, "QUERY"),
        ({"LANG": "SQL", "QUERY": SCHEMAS_QUERY}, "LANG"),
        ({"QUERY": SCHEMAS_QUERY, "MAXREC": "-4"}, "MAXREC"),
        ({"QUERY": SCHEMAS_QUERY, "RESPONSEFORMAT": "pdf"}, "RESPONSEFORMAT"),
    ],
)
def test_bad_tap_parameters_make_a_job_that_ends_in_error(server, client, data, fragment) -> None:
    response = client.post(
        f"{server.base}/async", data={**data, "PHASE": "RUN"}, follow_redirects=False
    )
    assert response.status_code == 303
    job = wait_final(client, response.headers["location"])
    assert phase_of(job) == "ERROR"
    message = job.findtext(f"{UWS}errorSummary/{UWS}message")
    assert message.startswith("UsageFault:") and fragment in message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"QUERY": "SELECT 1", "PHASE": "EXPLODE"}, "PHASE"),
        ({"QUERY": "SELECT 1", "EXECUTIONDURATION": "soon"}, "EXECUTIONDURATION"),
        ({"QUERY": "SELECT 1", "DESTRUCTION": "never"}, "DESTRUCTION"),
        ({"QUERY": "SELECT '\x00'"}, "NUL"),
    ],
)
def test_bad_uws_parameters_are_refused_at_creation(server, client, data, fragment) -> None:
    response = client.post(f"{server.base}/async", data=data, follow_redirects=False)
    assert response.status_code == 400
    status, text = votable_status(response.content)
    assert status == "ERROR" and text.startswith("UsageFault:") and fragment in text


def test_settable_resources(server, client) -> None:
    job_url = submit(client, server.base, SCHEMAS_QUERY, run=False)
    response = client.post(
        f"{job_url}/executionduration", data={"EXECUTIONDURATION": "42"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get(f"{job_url}/executionduration").text == "42"
    wanted = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    response = client.post(
        f"{job_url}/destruction",
        data={"DESTRUCTION": wanted.strftime("%Y-%m-%dT%H:%M:%SZ")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert client.get(f"{job_url}/destruction").text == wanted.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert client.get(f"{job_url}/quote").text.endswith("Z")
    assert client.get(f"{job_url}/owner").text == ""
    parameters = etree.fromstring(client.get(f"{job_url}/parameters").content)
    assert {p.get("id") for p in parameters} >= {"query", "lang"}
    bad = client.post(f"{job_url}/destruction", data={"DESTRUCTION": "soon"})
    assert bad.status_code == 400 and votable_status(bad.content)[0] == "ERROR"
    response = client.post(
        f"{job_url}/parameters", data={"MAXREC": "3", "QUERY": "SELECT 2"}, follow_redirects=False
    )
    assert response.status_code == 303
    parameters = etree.fromstring(client.get(f"{job_url}/parameters").content)
    values = {p.get("id"): p.text for p in parameters}
    assert values["maxrec"] == "3" and values["query"] == "SELECT 2" and values["lang"] == "ADQL"
    client.post(f"{job_url}/phase", data={"PHASE": "RUN"})
    wait_final(client, job_url)
    late = client.post(f"{job_url}/parameters", data={"MAXREC": "4"})
    assert late.status_code == 400 and "PENDING" in votable_status(late.content)[1]


@pytest.mark.parametrize("how", ["DELETE", "ACTION=DELETE"])
def test_delete_redirects_to_the_list_then_404(server, client, how) -> None:
    job_url = submit(client, server.base, SCHEMAS_QUERY)
    wait_final(client, job_url)
    if how == "DELETE":
        response = client.delete(job_url, follow_redirects=False)
    else:
        response = client.post(job_url, data={"ACTION": "DELETE"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"{server.base}/async"
    for path in ("", "/phase", "/results/result", "/error", "/parameters"):
        gone = client.get(f"{job_url}{path}")
        assert gone.status_code == 404, path
        assert votable_status(gone.content)[0] == "ERROR"
    assert client.delete(job_url).status_code == 404


def test_job_list_filters(server, client) -> None:
    pending = submit(client, server.base, SCHEMAS_QUERY, run=False)
    done = submit(client, server.base, SCHEMAS_QUERY)
    wait_final(client, done)
    created = job_xml(client, pending).findtext(f"{UWS}creationTime")

    def ids(**params: str) -> list[str]:
        response = client.get(f"{server.base}/async", params=params)
        assert response.status_code == 200
        root = etree.fromstring(response.content)
        assert root.tag == f"{UWS}jobs" and root.get("version") == "1.1"
        return [ref.get("{http://www.w3.org/1999/xlink}href") for ref in root]

    assert ids(LAST="2") == [done, pending]
    assert pending in ids(PHASE="PENDING") and done not in ids(PHASE="PENDING")
    assert done in ids(PHASE="COMPLETED")
    assert ids(AFTER=created) == [done]
    for bad in ({"PHASE": "NAPPING"}, {"LAST": "-1"}, {"AFTER": "yesterday"}):
        response = client.get(f"{server.base}/async", params=bad)
        assert response.status_code == 400 and votable_status(response.content)[0] == "ERROR"


def test_pyvo_run_async_and_errors(server) -> None:
    import pyvo

    service = pyvo.dal.TAPService(server.base)
    result = service.run_async(SCHEMAS_QUERY)
    names = [str(n) for n in result["schema_name"]]
    assert names == sorted(names) and "tap_schema" in names
    with pytest.raises(pyvo.dal.DALQueryError, match="nosuchcolumn"):
        service.run_async("SELECT nosuchcolumn FROM tap_schema.tables")
    job = service.submit_job(SCHEMAS_QUERY)
    job.run().wait(timeout=30)
    assert job.phase == "COMPLETED" and len(job.fetch_result()) == len(names)
    job.delete()


@pytest.mark.skipif(shutil.which("stilts") is None, reason="stilts is not installed")
def test_stilts_tapquery_async(server, tmp_path) -> None:
    out = tmp_path / "schemas.csv"
    command = [
        "stilts",
        "tapquery",
        f"tapurl={server.base}",
        f"adql={SCHEMAS_QUERY}",
        "sync=false",
        "poll=200",
        "ofmt=csv",
        f"out={out}",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr
    rows = out.read_text().splitlines()
    assert rows[0] == "schema_name" and "tap_schema" in rows


def test_pyvo_run_async_with_an_upload(server) -> None:
    """TAP_UPLOAD through a job: the multipart part is kept with the job and joined."""
    import pyvo
    from astropy.table import Table

    mine = Table({"name": ["tap_schema", "nothing"], "weight": [1.5, 2.5]})
    service = pyvo.dal.TAPService(server.base)
    result = service.run_async(
        "SELECT u.name, u.weight, s.schema_name FROM TAP_UPLOAD.mine AS u"
        " JOIN tap_schema.schemas AS s ON s.schema_name = u.name",
        uploads={"mine": mine},
    ).to_table()
    assert list(result["name"]) == ["tap_schema"] and list(result["weight"]) == [1.5]


@pytest.mark.skipif(shutil.which("stilts") is None, reason="stilts is not installed")
def test_taplint_async_stages_are_clean(server) -> None:
    """STILTS taplint's async stages (QAS: queries as jobs, UWS: the job protocol)."""
    command = ["stilts", "taplint", f"tapurl={server.base}", "stages=QAS UWS", "report=EWF"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    reports = [line for line in finished.stdout.splitlines() if line[:2] in ("E-", "W-", "F-")]
    assert "Totals: Errors: 0; Warnings: 0;" in finished.stdout, finished.stdout[-3000:]
    assert not reports, reports


def test_links_follow_the_configured_public_base_url(module_db_url, tmp_path) -> None:
    """Behind a proxy (XPHA_TAP_BASE_URL) the 303s and result links name the public URL."""
    public = "https://astro.example.org/xpha/tap"
    live = LiveServer(module_db_url, tmp_path / "var", tap_base_url=public).start()
    try:
        with httpx.Client(timeout=60) as client:
            job_url = submit(client, live.base, SCHEMAS_QUERY)
            assert job_url.startswith(f"{public}/async/")
            local = job_url.replace(public, live.base)
            job = wait_final(client, local)
            href = job.find(f"{UWS}results/{UWS}result").get("{http://www.w3.org/1999/xlink}href")
            assert href == f"{job_url}/results/result"
            gone = client.delete(local, follow_redirects=False)
            assert gone.headers["location"] == f"{public}/async"
    finally:
        live.stop()
