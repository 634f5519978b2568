"""/tap/sync against a live server on a real, seeded database.

Cases are tables: (parameters -> rows, OVERFLOW) for the limits, (parameters -> status,
message) for the faults. Every response is parsed as a client would parse it.
"""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
from astropy.io import votable
from astropy.table import Table
from lxml import etree
from tap_support import live_server, seed_field, tap_settings

N_SOURCES = 2000
MAXREC_DEFAULT = 1000
HARD_LIMIT = 1500
VOT = "{http://www.ivoa.net/xml/VOTable/v1.3}"


@pytest.fixture(scope="module")
def seeded(module_db_url: str) -> dict:
    return seed_field(module_db_url, N_SOURCES)


@pytest.fixture(scope="module")
def tap(module_db_url: str, seeded: dict) -> Iterator[str]:
    settings = tap_settings(
        module_db_url,
        tap_maxrec_default=MAXREC_DEFAULT,
        tap_hard_limit=HARD_LIMIT,
        tap_sync_timeout_s=1.0,
    )
    with live_server(settings) as root:
        yield f"{root}/tap"


def sync(tap: str, method: str = "GET", **params: str) -> httpx.Response:
    if method == "GET":
        return httpx.get(f"{tap}/sync", params=params, timeout=60)
    return httpx.post(f"{tap}/sync", data=params, timeout=60)


def query_status(body: bytes) -> list[tuple[str, str]]:
    """Every QUERY_STATUS INFO in document order: (value, text)."""
    root = etree.fromstring(body)
    return [
        (i.get("value"), (i.text or "").strip())
        for i in root.iter(f"{VOT}INFO")
        if i.get("name") == "QUERY_STATUS"
    ]


def table_of(body: bytes) -> Table:
    return votable.parse_single_table(io.BytesIO(body)).to_table()


# --- MAXREC, TOP and the hard limit, combined --------------------------------------------------
LIMIT_CASES = [
    # (ADQL, MAXREC, rows, overflow)
    ("SELECT TOP 5 source_id FROM xpha.emitter_candidates", None, 5, False),
    ("SELECT TOP 5 source_id FROM xpha.emitter_candidates", "5", 5, False),
    ("SELECT TOP 5 source_id FROM xpha.emitter_candidates", "3", 3, True),
    ("SELECT TOP 1200 source_id FROM xpha.emitter_candidates", None, MAXREC_DEFAULT, True),
    ("SELECT source_id FROM xpha.emitter_candidates", None, MAXREC_DEFAULT, True),
    ("SELECT source_id FROM xpha.emitter_candidates", "5000", HARD_LIMIT, True),
    ("SELECT source_id FROM xpha.emitter_candidates WHERE probability < 0.5", "1500", None, False),
    ("SELECT TOP 1500 source_id FROM xpha.emitter_scores", "1500", HARD_LIMIT, False),
    ("SELECT COUNT(*) AS n FROM xpha.gaia_source", "1", 1, False),
]


@pytest.mark.parametrize(("adql", "maxrec", "rows", "overflow"), LIMIT_CASES)
def test_limits_and_overflow(
    tap: str, seeded: dict, adql: str, maxrec: str | None, rows: int | None, overflow: bool
) -> None:
    params = {"LANG": "ADQL", "QUERY": adql}
    if maxrec is not None:
        params["MAXREC"] = maxrec
    response = sync(tap, **params)
    assert response.status_code == 200, response.text
    statuses = [v for v, _ in query_status(response.content)]
    expected = rows if rows is not None else int((seeded["probability"] < 0.5).sum())
    assert len(table_of(response.content)) == expected
    assert statuses[0] == "OK"
    assert ("OVERFLOW" in statuses) is overflow


def test_overflow_only_when_a_row_was_really_cut(tap: str) -> None:
    """Exactly N rows with MAXREC=N: complete, no OVERFLOW; N-1: OVERFLOW."""
    adql = "SELECT model_id FROM xpha.models"
    exact = sync(tap, LANG="ADQL", QUERY=adql, MAXREC="2")
    cut = sync(tap, LANG="ADQL", QUERY=adql, MAXREC="1")
    assert [v for v, _ in query_status(exact.content)] == ["OK"]
    assert [v for v, _ in query_status(cut.content)] == ["OK", "OVERFLOW"]


def test_maxrec_zero_is_metadata_only(tap: str) -> None:
    response = sync(tap, LANG="ADQL", QUERY="SELECT * FROM xpha.xp_continuous", MAXREC="0")
    assert response.status_code == 200
    table = votable.parse_single_table(io.BytesIO(response.content))
    assert len(table.array) == 0
    fields = {f.name: f for f in table.fields}
    assert fields["bp_coefficients"].arraysize == "55"
    assert fields["bp_coefficient_correlations"].arraysize == "1485"
    assert [v for v, _ in query_status(response.content)] == ["OK"]


# --- parameters: names case-insensitive, GET/POST, urlencoded/multipart -----------------------
ADQL_3 = "SELECT TOP 3 source_id, ra, dec FROM xpha.emitter_candidates ORDER BY source_id"
PARAM_CASES = [
    ("GET", {"LANG": "ADQL", "QUERY": ADQL_3}),
    ("GET", {"lang": "ADQL-2.0", "query": ADQL_3}),
    ("GET", {"LaNg": "ADQL-2.1", "qUeRy": ADQL_3, "ReQuEsT": "doQuery"}),
    ("POST", {"LANG": "ADQL", "QUERY": ADQL_3, "REQUEST": "doQuery"}),
    ("POST", {"lang": "adql", "Query": ADQL_3, "responseformat": "votable/td"}),
    ("POST", {"LANG": "ADQL", "QUERY": ADQL_3, "FORMAT": "votable"}),
    ("MULTIPART", {"LANG": "ADQL", "QUERY": ADQL_3}),
    ("MULTIPART", {"lAnG": "ADQL", "QuErY": ADQL_3, "maxREC": "3", "RunId": "tag-1"}),
]


@pytest.mark.parametrize(("method", "params"), PARAM_CASES)
def test_parameters(tap: str, seeded: dict, method: str, params: dict[str, str]) -> None:
    if method == "MULTIPART":
        files = {k: (None, v) for k, v in params.items()}
        response = httpx.post(f"{tap}/sync", files=files, timeout=30)
    else:
        response = sync(tap, method, **params)
    assert response.status_code == 200, response.text
    table = table_of(response.content)
    assert list(table["source_id"]) == sorted(int(s) for s in seeded["source_id"])[:3]
    runid = next((v for k, v in params.items() if k.lower() == "runid"), None)
    if runid is not None:
        assert f'name="RUNID" value="{runid}"'.encode() in response.content


# --- formats ---------------------------------------------------------------------------------
FORMAT_CASES = [
    ("votable", "application/x-votable+xml", "BINARY2"),
    ("votable/td", "application/x-votable+xml", "TABLEDATA"),
    ("votable/b", "application/x-votable+xml", "BINARY"),
    ("application/x-votable+xml", "application/x-votable+xml", "BINARY2"),
    ("csv", "text/csv", None),
    ("tsv", "text/tab-separated-values", None),
    ("fits", "application/fits", None),
]


@pytest.mark.parametrize(("fmt", "content_type", "serialization"), FORMAT_CASES)
def test_formats(tap: str, fmt: str, content_type: str, serialization: str | None) -> None:
    adql = (
        "SELECT TOP 4 source_id, bp_coefficients, bp_n_parameters FROM xpha.xp_continuous"
        " ORDER BY source_id"
    )
    response = sync(tap, LANG="ADQL", QUERY=adql, RESPONSEFORMAT=fmt)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(content_type)
    if serialization is not None:
        assert f"<{serialization}>".encode() in response.content
        table = table_of(response.content)
        assert table["bp_coefficients"].shape[1:] == (55,)
    elif fmt == "fits":
        table = Table.read(io.BytesIO(response.content), format="fits")
        assert len(table) == 4
    else:
        lines = response.text.strip().splitlines()
        assert len(lines) == 5 and "source_id" in lines[0]


# --- faults: DALI error VOTables, 400 with our message ----------------------------------------
FAULT_CASES = [
    ({"LANG": "ADQL"}, 400, "QUERY parameter is missing"),
    ({"LANG": "SQL", "QUERY": "SELECT 1"}, 400, "LANG='SQL' is not supported"),
    ({"LANG": "ADQL", "QUERY": ADQL_3, "MAXREC": "-1"}, 400, "MAXREC='-1'"),
    ({"LANG": "ADQL", "QUERY": ADQL_3, "MAXREC": "lots"}, 400, "MAXREC='lots'"),
    ({"LANG": "ADQL", "QUERY": ADQL_3, "RESPONSEFORMAT": "xls"}, 400, "RESPONSEFORMAT='xls'"),
    ({"REQUEST": "getCapabilities", "QUERY": ADQL_3}, 400, "REQUEST='getCapabilities'"),
    ({"LANG": "ADQL", "QUERY": "SELECT nope FROM xpha.models"}, 400, "unknown column 'nope'"),
    ({"LANG": "ADQL", "QUERY": "SELECT * FROM gaia.source"}, 400, "not published"),
    ({"LANG": "ADQL", "QUERY": "SELECT * FROM ml.models"}, 400, "not published"),
    ({"LANG": "ADQL", "QUERY": "SELEC 1"}, 400, "line 1"),
    ({"LANG": "ADQL", "QUERY": "SELECT 1/0 AS x FROM xpha.models"}, 400, "division by zero"),
    ({"LANG": "ADQL", "QUERY": ADQL_3, "UPLOAD": "t,param:missing"}, 400, "no file part"),
    ({"LANG": "ADQL", "QUERY": ADQL_3, "UPLOAD": "t,ftp://x/y"}, 400, "neither param:part"),
    ({"LANG": "ADQL", "QUERY": ADQL_3, "UPLOAD": "1t,param:a"}, 400, "not an ADQL identifier"),
    (
        {
            "LANG": "ADQL",
            "QUERY": "SELECT COUNT(*) AS n FROM xpha.gaia_source AS a CROSS JOIN xpha.gaia_source"
            " AS b CROSS JOIN xpha.gaia_source AS c",
        },
        400,
        "time limit",
    ),
]


@pytest.mark.parametrize(("params", "status", "message"), FAULT_CASES)
def test_faults_are_dali_error_documents(
    tap: str, params: dict[str, str], status: int, message: str
) -> None:
    for method in ("GET", "POST"):
        response = sync(tap, method, **params)
        assert response.status_code == status
        assert response.headers["content-type"].startswith("application/x-votable+xml")
        [(value, text)] = query_status(response.content)
        assert value == "ERROR"
        assert text.startswith("UsageFault: ")
        assert message in text
        assert "Traceback" not in response.text


def test_sync_timeout_points_to_async(tap: str) -> None:
    adql = (
        "SELECT COUNT(*) AS n FROM xpha.gaia_source AS a CROSS JOIN xpha.gaia_source AS b"
        " CROSS JOIN xpha.gaia_source AS c"
    )
    [(_, text)] = query_status(sync(tap, LANG="ADQL", QUERY=adql).content)
    assert "async" in text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/tap/nowhere", 404),
        ("DELETE", "/tap/sync", 405),
        ("PUT", "/tap/capabilities", 405),
    ],
)
def test_unknown_paths_and_methods_answer_votables(
    tap: str, method: str, path: str, status: int
) -> None:
    response = httpx.request(method, tap.removesuffix("/tap") + path)
    assert response.status_code == status
    [(value, _)] = query_status(response.content)
    assert value == "ERROR"


# --- uploads -----------------------------------------------------------------------------------
def upload_votable(seeded: dict, picks: list[int]) -> tuple[bytes, list[int]]:
    """A client table: positions 0.5 arcsec from some seeded sources, plus one far away."""
    ra = [float(seeded["ra"][i]) + 0.5 / 3600 for i in picks] + [10.0]
    dec = [float(seeded["dec"][i]) for i in picks] + [-60.0]
    table = Table(
        {
            "id": np.arange(len(ra), dtype=np.int32),
            "ra": ra,
            "dec": dec,
            "name": [f"star {i}" for i in range(len(ra))],
        }
    )
    table["ra"].unit = "deg"
    buffer = io.BytesIO()
    votable.from_table(table).to_xml(buffer)
    return buffer.getvalue(), [int(seeded["source_id"][i]) for i in picks]


UPLOAD_JOIN = (
    "SELECT u.id, u.name, c.source_id FROM TAP_UPLOAD.mine AS u"
    " JOIN xpha.emitter_candidates AS c"
    " ON 1 = CONTAINS(POINT('ICRS', c.ra, c.dec), CIRCLE('ICRS', u.ra, u.dec, 1.0/3600))"
)


def test_inline_upload_joins_with_q3c(tap: str, seeded: dict) -> None:
    data, expected = upload_votable(seeded, [3, 50, 700])
    response = httpx.post(
        f"{tap}/sync",
        data={"LANG": "ADQL", "QUERY": UPLOAD_JOIN, "UPLOAD": "mine,param:part1"},
        files={"part1": ("mine.xml", data, "application/x-votable+xml")},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    table = table_of(response.content)
    assert sorted(table["source_id"]) == sorted(expected)
    assert set(table["name"]) == {"star 0", "star 1", "star 2"}


@contextmanager
def served_file(directory: Path) -> Iterator[str]:
    """A real HTTP server over ``directory``; yields its root URL."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_http_upload(module_db_url: str, seeded: dict, tmp_path: Path) -> None:
    data, expected = upload_votable(seeded, [9, 10])
    (tmp_path / "mine.vot").write_bytes(data)
    settings = tap_settings(module_db_url, tap_upload_http_private=True)  # served on loopback
    with served_file(tmp_path) as files, live_server(settings) as root:
        response = sync(
            f"{root}/tap", "POST", LANG="ADQL", QUERY=UPLOAD_JOIN, UPLOAD=f"mine,{files}/mine.vot"
        )
    assert response.status_code == 200, response.text
    assert sorted(table_of(response.content)["source_id"]) == sorted(expected)


SSRF_CASES = [
    # (upload URL template, phrase of the refusal); {files} is a server on 127.0.0.1
    ("{files}/mine.vot", "loopback, private or reserved"),
    ("http://localhost:1/x.vot", "loopback, private or reserved"),
    ("http://169.254.169.254/latest/meta-data", "loopback, private or reserved"),
    ("http://10.1.2.3/x.vot", "loopback, private or reserved"),
    ("http://[::1]/x.vot", "loopback, private or reserved"),
]


@pytest.mark.parametrize(("template", "phrase"), SSRF_CASES)
def test_http_upload_to_the_servers_own_network_is_refused(
    tap: str, seeded: dict, tmp_path: Path, template: str, phrase: str
) -> None:
    """Server-side request forgery: no URL that resolves to a non-public address is fetched."""
    data, _ = upload_votable(seeded, [9, 10])
    (tmp_path / "mine.vot").write_bytes(data)
    with served_file(tmp_path) as files:
        url = template.format(files=files)
        response = sync(tap, "POST", LANG="ADQL", QUERY=UPLOAD_JOIN, UPLOAD=f"mine,{url}")
    assert response.status_code == 400
    [(_, text)] = query_status(response.content)
    assert phrase in text and "param:" in text


def test_http_upload_can_be_switched_off(module_db_url: str, seeded: dict) -> None:
    settings = tap_settings(module_db_url, tap_upload_http=False)
    with live_server(settings) as root:
        response = sync(
            f"{root}/tap",
            "POST",
            LANG="ADQL",
            QUERY=UPLOAD_JOIN,
            UPLOAD="mine,https://example.org/mine.vot",
        )
    assert response.status_code == 400
    [(_, text)] = query_status(response.content)
    assert "does not fetch uploads from URLs" in text


def test_upload_that_is_not_a_votable(tap: str) -> None:
    response = httpx.post(
        f"{tap}/sync",
        data={"LANG": "ADQL", "QUERY": "SELECT * FROM TAP_UPLOAD.t", "UPLOAD": "t,param:p"},
        files={"p": ("t.xml", b"<not a votable", "text/xml")},
    )
    assert response.status_code == 400
    [(_, text)] = query_status(response.content)
    assert "UPLOAD t: not a readable VOTable" in text


# --- the read-only role -----------------------------------------------------------------------
ROLE_REFUSALS = [
    ("SELECT count(*) FROM gaia.source", "permission denied"),
    ("SELECT count(*) FROM ml.models", "permission denied"),
    ("INSERT INTO tap_schema.schemas (schema_name) VALUES ('x')", "read-only transaction"),
    ("CREATE TABLE xpha.t (a int)", "read-only transaction"),
    ("SELECT pg_read_file('/etc/passwd')", "permission denied"),
]


@pytest.mark.parametrize(("statement", "message"), ROLE_REFUSALS)
def test_tap_role_is_read_only_and_confined(
    module_db_url: str, statement: str, message: str
) -> None:
    """Even SQL that bypassed the ADQL allow-list could only read what TAP publishes."""
    from tap_service.query import tap_conninfo

    conninfo = tap_conninfo(tap_settings(module_db_url))
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "xpha_tap"
        with pytest.raises(psycopg.Error, match=message):
            conn.execute(statement)


def test_tap_role_reads_published_views(module_db_url: str, seeded: dict) -> None:
    from tap_service.query import tap_conninfo

    with psycopg.connect(tap_conninfo(tap_settings(module_db_url))) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
        count = conn.execute("SELECT count(*) FROM xpha.emitter_candidates").fetchone()[0]
        assert count == N_SOURCES


def test_empty_result_keeps_its_fields(tap: str) -> None:
    response = sync(
        tap,
        LANG="ADQL",
        QUERY="SELECT source_id, bp_coefficients FROM xpha.xp_continuous WHERE source_id < 0",
    )
    table = votable.parse_single_table(io.BytesIO(response.content))
    assert len(table.array) == 0
    assert [f.name for f in table.fields] == ["source_id", "bp_coefficients"]
    assert table.fields[1].arraysize == "55"


def test_large_results_stream_small_ones_arrive_whole(tap: str) -> None:
    """Over 1 MB the document is streamed (chunked); a small one has a Content-Length."""
    big = sync(tap, LANG="ADQL", QUERY="SELECT * FROM xpha.xp_continuous ORDER BY source_id")
    assert big.status_code == 200 and len(big.content) > 1 << 20
    assert "content-length" not in big.headers
    table = table_of(big.content)
    assert len(table) == 200 and table["bp_coefficient_correlations"].shape[1:] == (1485,)
    assert int(np.ma.count_masked(table["bp_coefficients"][:, 0])) == 12  # BP missing: NULL
    small = sync(tap, LANG="ADQL", QUERY="SELECT TOP 1 model_id FROM xpha.models")
    assert int(small.headers["content-length"]) == len(small.content)


def test_cors_lets_browser_clients_in(tap: str) -> None:
    response = httpx.get(
        f"{tap}/sync",
        params={"LANG": "ADQL", "QUERY": ADQL_3},
        headers={"Origin": "https://example.org"},
    )
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = httpx.options(
        f"{tap}/sync",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200


def test_delimited_size_column_of_tap_schema(tap: str) -> None:
    """TAP_SCHEMA names it '"size"' (ADQL reserves SIZE); ADQL's "size" reads it."""
    response = sync(
        tap,
        LANG="ADQL",
        RESPONSEFORMAT="votable/td",
        QUERY=(
            'SELECT column_name, "size" FROM tap_schema.columns'
            " WHERE table_name = 'xpha.xp_continuous' AND arraysize IS NOT NULL"
        ),
    )
    assert response.status_code == 200, response.text
    sizes = {r["column_name"]: int(r["size"]) for r in table_of(response.content)}
    assert sizes["bp_coefficients"] == 55 and sizes["rp_coefficient_correlations"] == 1485
