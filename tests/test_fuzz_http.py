"""Hypothesis fuzzing of the HTTP layer (issue 12): parameter and multipart shapes, not ADQL
(test_fuzz_tap does that), against /tap/sync, /tap/async (and a job's sub-resources) and /scs.

Property: whatever the method, path, parameter names and values, encoding and file parts, the
answer is never a 5xx, an error is a VOTable, and no answer carries a traceback or a local path.
200 cases run by default; the slow run sends 5,000.
"""

from __future__ import annotations

import gzip
from collections import Counter

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uws_support import LiveServer, create_query_targets

VOTABLE = (
    b'<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/'
    b'v1.3"><RESOURCE><TABLE><FIELD name="ra" datatype="double"/><FIELD name="dec" '
    b'datatype="double"/><DATA><TABLEDATA><TR><TD>56.7</TD><TD>24.1</TD></TR>'
    b"</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"
)
CONTENTS = [
    VOTABLE,
    gzip.compress(VOTABLE),
    VOTABLE[:80],
    b"",
    b"\x00\xff" * 50,
    b"<VOTABLE/>",
    VOTABLE.replace(
        b"<TABLEDATA>", b'<BINARY2><STREAM href="file:///etc/passwd"/></BINARY2><TABLEDATA>'
    ),
    b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + VOTABLE,
    b"<?xml version='1.0'?><a>&b;</a>",
]
NAMES = [
    "query",
    "QUERY",
    "lang",
    "request",
    "maxrec",
    "responseformat",
    "format",
    "upload",
    "runid",
    "phase",
    "ra",
    "dec",
    "sr",
    "verb",
    "action",
    "wait",
    "executionduration",
    "destruction",
    "last",
    "after",
    "Query",
    "\u00e9",
    "x" * 300,
    "",
]
VALUES = [
    "SELECT TOP 3 ra FROM xpha.adqltest_stars",
    "ADQL",
    "doQuery",
    "RUN",
    "ABORT",
    "DELETE",
    "votable",
    "csv",
    "fits",
    "0",
    "1",
    "-1",
    "1e309",
    "nan",
    "inf",
    "56.75",
    "24.12",
    "0.5",
    "99999999999999999999999",
    "t,param:t",
    "t,param:nope",
    "t,http://127.0.0.1:1/x",
    "t,file:///etc/passwd",
    ";;,",
    "2030-01-01T00:00:00Z",
    "yesterday",
    "",
    " ",
    "\u202e",
    "'; DROP TABLE uws.jobs; --",
    "\u00e9\u4e2d",
    "a" * 5000,
]
PATHS = [
    "/tap/sync",
    "/tap/async",
    "/scs",
    "/tap/async/{job}",
    "/tap/async/{job}/phase",
    "/tap/async/{job}/parameters",
    "/tap/async/{job}/results/result",
    "/tap/async/{job}/error",
    "/tap/async/{job}/destruction",
    "/tap/async/{job}/executionduration",
    "/tap/async/%2e%2e",
    "/tap/async/.",
    "/tap/async/{junk}",
    "/tap/async/{junk}/phase",
    "/tap/tables/{junk}",
]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)

requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "POST", "DELETE"]),
        "path": st.sampled_from(PATHS),
        "junk": TEXT.filter(lambda t: "/" not in t and "?" not in t and "#" not in t),
        "params": st.lists(
            st.tuples(
                st.one_of(st.sampled_from(NAMES), TEXT), st.one_of(st.sampled_from(VALUES), TEXT)
            ),
            max_size=6,
        ),
        "encoding": st.sampled_from(["query", "form", "multipart"]),
        "files": st.lists(
            st.tuples(st.one_of(st.sampled_from(["t", "u"]), TEXT), st.sampled_from(CONTENTS)),
            max_size=3,
        ),
    }
)


@pytest.fixture(scope="module")
def fuzz(module_db_url: str, test_settings, tmp_path_factory):
    create_query_targets(module_db_url, test_settings.published_schema, test_settings.tap_role)
    live = LiveServer(
        module_db_url,
        tmp_path_factory.mktemp("fuzz-http-var"),
        tap_sync_timeout_s=5,
        uws_pending_per_client=100_000,
        uws_pending_max=100_000,
    ).start()
    client = httpx.Client(timeout=60)
    job = (
        client.post(f"{live.base}/async", data={"QUERY": "SELECT 1 AS x"}, follow_redirects=False)
        .headers["location"]
        .rsplit("/", 1)[1]
    )
    yield live, client, job
    client.close()
    live.stop()


def send(fuzz, request: dict) -> httpx.Response:
    server, client, job = fuzz
    from urllib.parse import quote

    path = request["path"].replace("{job}", job).replace("{junk}", quote(request["junk"]) or "x")
    url = server.base.removesuffix("/tap") + path
    params = [(name, value) for name, value in request["params"]]
    files = [(name, ("t.xml", content, "text/xml")) for name, content in request["files"]]
    if request["method"] == "GET" or request["encoding"] == "query":
        return client.request(request["method"], url, params=params, follow_redirects=False)
    if request["encoding"] == "form" and not files:
        return client.request(request["method"], url, data=dict(params), follow_redirects=False)
    return client.request(
        request["method"],
        url,
        data=dict(params),
        files=files or [("t", ("t.xml", VOTABLE, "text/xml"))],
        follow_redirects=False,
    )


def check(response: httpx.Response, request: dict) -> None:
    assert response.status_code < 500, (request, response.text[:500])
    assert "Traceback" not in response.text and "/work/" not in response.text, request
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/x-votable+xml"), (
            request,
            response.headers["content-type"],
        )
        assert b"QUERY_STATUS" in response.content or b'name="Error"' in response.content


def run_fuzz(fuzz, examples: int, derandomize: bool) -> Counter[int]:
    seen: Counter[int] = Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests)
    def one(request: dict) -> None:
        response = send(fuzz, request)
        seen[response.status_code] += 1
        check(response, request)
        if request["path"] == "/tap/async" and response.status_code == 303:
            fuzz[1].delete(response.headers["location"])  # keep the quota free

    one()
    print(f"\n{sum(seen.values())} HTTP fuzz requests: statuses {dict(sorted(seen.items()))}")
    return seen


def test_fuzz_http_200(fuzz) -> None:
    seen = run_fuzz(fuzz, 200, derandomize=True)
    assert sum(seen.values()) >= 200 and not any(status >= 500 for status in seen)
    assert len(seen) >= 3  # successes, redirects and refusals were all reached


@pytest.mark.slow
def test_fuzz_http_5000(fuzz) -> None:
    seen = run_fuzz(fuzz, 5000, derandomize=False)
    assert sum(seen.values()) >= 5000 and not any(status >= 500 for status in seen)
