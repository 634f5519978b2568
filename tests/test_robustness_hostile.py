"""The hostile ADQL corpus (tests/data/adql/hostile.yaml) over HTTP, to /sync and to /async.

The ADQL engineer's corpus names ``xpha.adqltest_stars`` and ``public.adqltest_secret``; this
module creates both (uws_support.QUERY_TARGETS: the first published in TAP_SCHEMA and readable
by the TAP role, the second not) so that each query is refused for what it tries, not for a missing table. A positive
control shows the table answers a plain query, and canaries after the corpus show nothing was
written, dropped, slept on or read.

/sync answers every hostile query with 400 and a DALI error VOTable (UsageFault). /async
accepts the job (303: a job whose parameters are well-formed is created, so that pyvo's
``run_async`` can report the message as DALQueryError) and the job ends in ERROR with a
UsageFault errorSummary; its /error resource is the same DALI VOTable.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from uws_support import (
    UWS,
    LiveServer,
    create_query_targets,
    job_xml,
    phase_of,
    votable_status,
    wait_final,
)

HOSTILE = yaml.safe_load(
    (Path(__file__).parent / "data" / "adql" / "hostile.yaml").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
def server(module_db_url: str, test_settings, tmp_path_factory):
    create_query_targets(module_db_url, test_settings.published_schema, test_settings.tap_role)
    live = LiveServer(
        module_db_url, tmp_path_factory.mktemp("hostile-var"), tap_catalog_ttl_s=0
    ).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=60) as http:
        yield http


def test_the_target_table_answers_a_plain_query(server, client) -> None:
    response = client.post(
        f"{server.base}/sync",
        data={
            "LANG": "ADQL",
            "QUERY": "SELECT ra FROM xpha.adqltest_stars ORDER BY ra",
            "RESPONSEFORMAT": "csv",
        },
    )
    assert response.status_code == 200, response.text
    assert response.text.splitlines() == ["ra", "10.0", "10.001", "10.5", "200.0", "359.9"]


@pytest.mark.parametrize("case", HOSTILE, ids=[c["name"] for c in HOSTILE])
def test_hostile_query_is_refused_by_sync(server, client, case) -> None:
    t0 = time.monotonic()
    response = client.post(f"{server.base}/sync", data={"LANG": "ADQL", "QUERY": case["adql"]})
    assert time.monotonic() - t0 < 2.0, "the query reached the database and slept"
    assert response.status_code == 400, response.text[:500]
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    status, message = votable_status(response.content)
    assert status == "ERROR" and message.startswith("UsageFault:"), message
    assert "the-canary-secret" not in response.text


def test_hostile_corpus_is_refused_by_async(server, client) -> None:
    jobs = {}
    for case in HOSTILE:
        response = client.post(
            f"{server.base}/async",
            data={"LANG": "ADQL", "QUERY": case["adql"], "PHASE": "RUN"},
            follow_redirects=False,
        )
        if response.status_code == 303:
            jobs[case["name"]] = response.headers["location"]
        else:  # refused outright (a NUL character cannot even be stored): 400 UsageFault
            assert response.status_code == 400, case["name"]
            status, text = votable_status(response.content)
            assert status == "ERROR" and text.startswith("UsageFault:"), case["name"]
    assert len(jobs) >= len(HOSTILE) - 2
    for name, job_url in jobs.items():
        job = wait_final(client, job_url)
        assert phase_of(job) == "ERROR", name
        message = job.findtext(f"{UWS}errorSummary/{UWS}message")
        assert message.startswith("UsageFault:"), (name, message)
        error = client.get(f"{job_url}/error")
        assert error.status_code == 200
        status, text = votable_status(error.content)
        assert status == "ERROR" and text.startswith("UsageFault:"), name
        assert client.get(f"{job_url}/results/result").status_code == 404


def test_nothing_was_changed_or_leaked(server, client, module_db_url, test_settings) -> None:
    schema = test_settings.published_schema
    with psycopg.connect(module_db_url) as conn:
        rows = conn.execute(
            f"SELECT source_id, mag FROM {schema}.adqltest_stars ORDER BY 1"
        ).fetchall()
        evil = conn.execute("SELECT to_regclass(%s)", (f"{schema}.evil",)).fetchone()[0]
        secret = conn.execute("SELECT count(*) FROM public.adqltest_secret").fetchone()[0]
        sleepers = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE '%pg_sleep%'"
            " AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert (
        rows == [(1, 12.5), (2, 13.0), (3, 14.25), (4, 15.0), (5, None)]
        and evil is None
        and secret == 1
        and sleepers == 0
    )


FORM = "application/x-www-form-urlencoded"
#: Hostile requests rather than hostile ADQL: (name, body, content type). Each must get a
#: result or a 4xx DALI VOTable, never a 5xx, a hang or a non-VOTable error body.
HOSTILE_REQUESTS = [
    (
        "nested_parentheses",
        {"QUERY": "SELECT " + "(" * 5000 + "1" + ")" * 5000 + " FROM xpha.adqltest_stars"},
        None,
    ),
    (
        "long_or_chain",
        {"QUERY": "SELECT ra FROM xpha.adqltest_stars WHERE " + " OR ".join(["ra = 1"] * 5000)},
        None,
    ),
    (
        "huge_in_list",
        {
            "QUERY": "SELECT ra FROM xpha.adqltest_stars WHERE source_id IN ("
            + ",".join(map(str, range(50_000)))
            + ")"
        },
        None,
    ),
    (
        "query_over_one_mebibyte",
        {"QUERY": "SELECT ra FROM xpha.adqltest_stars WHERE name = '" + "a" * 2_000_000 + "'"},
        None,
    ),
    ("invalid_utf8", b"LANG=ADQL&QUERY=SELECT%20%FF%FE%20FROM%20xpha.adqltest_stars", FORM),
    (
        "truncated_multipart",
        b'--xx\r\nContent-Disposition: form-data; name="QUERY"\r\n\r\nSEL',
        "multipart/form-data; boundary=xx",
    ),
    ("multipart_without_boundary", b"abc", "multipart/form-data"),
    (
        "thousands_of_fields",
        {**{f"p{i}": "x" for i in range(3000)}, "QUERY": "SELECT ra FROM xpha.adqltest_stars"},
        None,
    ),
    ("upload_of_garbage", {"QUERY": "SELECT * FROM TAP_UPLOAD.t", "UPLOAD": "t,param:t"}, "upload"),
]


@pytest.mark.parametrize("endpoint", ["sync", "async"])
@pytest.mark.parametrize(
    ("name", "body", "content_type"), HOSTILE_REQUESTS, ids=[r[0] for r in HOSTILE_REQUESTS]
)
def test_hostile_request_gets_a_dali_answer(
    server, client, endpoint, name, body, content_type
) -> None:
    url = f"{server.base}/{endpoint}"
    if content_type == "upload":
        response = client.post(
            url,
            data={**body, "LANG": "ADQL", "PHASE": "RUN"},
            files={"t": ("t.xml", b"<VOTABLE><oops", "text/xml")},
            follow_redirects=False,
        )
    elif isinstance(body, dict):
        response = client.post(
            url, data={**body, "LANG": "ADQL", "PHASE": "RUN"}, follow_redirects=False
        )
    else:
        body = body + (b"&PHASE=RUN" if content_type == FORM else b"")
        response = client.post(
            url, content=body, headers={"content-type": content_type}, follow_redirects=False
        )
    assert response.status_code < 500, response.text[:300]
    if response.status_code == 303:  # an async job: it must end, in ERROR with a UsageFault
        job_url = response.headers["location"]
        if phase_of(job_xml(client, job_url)) == "PENDING":  # the cut-off body lost PHASE=RUN
            run = client.post(f"{job_url}/phase", data={"PHASE": "RUN"}, follow_redirects=False)
            assert run.status_code == 303
        job = wait_final(client, job_url, timeout=60)
        if phase_of(job) == "ERROR":
            message = job.findtext(f"{UWS}errorSummary/{UWS}message")
            assert message.startswith("UsageFault:"), message
        else:
            assert phase_of(job) == "COMPLETED", name
    elif response.status_code != 200:
        assert response.headers["content-type"].startswith("application/x-votable+xml")
        status, message = votable_status(response.content)
        assert status == "ERROR" and message.startswith("UsageFault:"), message


# Found by test_fuzz_tap: "SELECT-- ..." once translated to a bare SQL "SELECT" (no select
# list), PostgreSQL returned a zero-column row and the service answered 500.
@pytest.mark.parametrize(
    "query", ["SELECT-- TOP 2 source_id FROM xpha.adqltest_stars", "SELECT --\n"]
)
def test_comment_that_swallows_the_select_list_is_a_usage_fault(server, client, query) -> None:
    response = client.post(f"{server.base}/sync", data={"LANG": "ADQL", "QUERY": query})
    assert response.status_code == 400, response.text[:300]
    assert votable_status(response.content)[1].startswith("UsageFault:")
