"""Hostile HTTP (issue 12): the corpus in tests/data/http/hostile.yaml, sent over a raw socket
to a live server, then canaries; and the attacks that need more than one request: another
client's jobs, a slow-drip upload URL, one client taking every slot, bearer-token owners.

Every answer must be the status the corpus names with a DALI error VOTable (never a 500, a
stack trace, a local path or what the attack tried to read), and afterwards the files beside
and above the results directory, and another client's job, must all still be there.
"""

from __future__ import annotations

import gzip
import http.client
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from lxml import etree
from uws_support import (
    SLOW_QUERY,
    UWS,
    LiveServer,
    create_query_targets,
    phase_of,
    votable_status,
    wait_final,
)

CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "http" / "hostile.yaml").read_text())
FIELD = '<FIELD name="ra" datatype="double"/>'
VOTABLE = (
    '<?xml version="1.0"?>\n<VOTABLE version="1.4" '
    'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE type="results"><TABLE>'
    "{fields}<DATA>{data}</DATA></TABLE></RESOURCE></VOTABLE>"
)
UPLOADS = {
    "binary2_href_file": VOTABLE.format(
        fields=FIELD, data='<BINARY2><STREAM href="file://{secret_file}"/></BINARY2>'
    ),
    "binary_href_file": VOTABLE.format(
        fields=FIELD, data='<BINARY><STREAM href="file://{secret_file}"/></BINARY>'
    ),
    "binary2_href_loopback": VOTABLE.format(
        fields=FIELD, data='<BINARY2><STREAM href="{loopback}/tap/availability"/></BINARY2>'
    ),
    "binary2_href_gzip": VOTABLE.format(
        fields=FIELD,
        data='<BINARY2><STREAM encoding="gzip" href="file://{secret_file}"/></BINARY2>',
    ),
    "fits_href": VOTABLE.format(
        fields=FIELD, data='<FITS><STREAM href="file://{secret_file}"/></FITS>'
    ),
    "doctype_entity": '<?xml version="1.0"?><!DOCTYPE VOTABLE [<!ENTITY s SYSTEM '
    '"file://{secret_file}">]>'
    + VOTABLE.format(
        fields='<FIELD name="a" datatype="char" arraysize="*"/>',
        data="<TABLEDATA><TR><TD>&s;</TD></TR></TABLEDATA>",
    ),
    "many_columns": VOTABLE.format(
        fields="".join(f'<FIELD name="c{i}" datatype="int"/>' for i in range(600)),
        data="<TABLEDATA></TABLEDATA>",
    ),
}
BODY_LIMIT = 25_000_000


def gzip_bomb() -> bytes:
    """A VOTable of 150 MB of whitespace, about 150 kB gzipped."""
    plain = VOTABLE.format(fields=FIELD, data="<TABLEDATA>{pad}</TABLEDATA>")
    head, tail = plain.split("{pad}")
    out = gzip.compress(head.encode() + b" " * 150_000_000 + tail.encode(), compresslevel=9)
    assert len(out) < 1_000_000
    return out


@pytest.fixture(scope="module")
def secret(tmp_path_factory) -> tuple[Path, str]:
    """A server-side file no request may read."""
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text("the-server-side-secret-8f3a\n")
    return path, "the-server-side-secret-8f3a"


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory) -> Path:
    var = tmp_path_factory.mktemp("hostile-http-var")
    for canary in ("canary.txt", "pgdata/PG_VERSION", "uws/canary.txt", "secrets/x.password"):
        (var / canary).parent.mkdir(parents=True, exist_ok=True)
        (var / canary).write_text("still here")
    return var


@pytest.fixture(scope="module")
def server(module_db_url: str, test_settings, var_dir: Path):
    create_query_targets(module_db_url, test_settings.published_schema, test_settings.tap_role)
    live = LiveServer(
        module_db_url,
        var_dir,
        tap_catalog_ttl_s=0,
        tap_sync_per_client=2,
        tap_sync_timeout_s=8,
        uws_pending_per_client=5,
    ).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def bystander(server: LiveServer) -> str:
    """Another client's completed job, with its result on disk."""
    with httpx.Client(timeout=60, headers={"X-Forwarded-For": "203.0.113.9"}) as other:
        response = other.post(
            f"{server.base}/async",
            data={"LANG": "ADQL", "QUERY": "SELECT ra FROM xpha.adqltest_stars", "PHASE": "RUN"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        job_url = response.headers["location"]
        assert phase_of(wait_final(other, job_url)) == "COMPLETED"
    return job_url


# --- sending exactly what the corpus says ---------------------------------------------------------
def raw_request(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes, chunked: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """One request over a plain socket: the path is sent verbatim, the body as far as the
    server reads it (a server may answer and close before the end of a refused body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        head = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
        head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
        head.append("Connection: close")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        step = 1 << 20
        try:
            for start in range(0, len(body), step):
                piece = body[start : start + step]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-body: the answer is already on its way
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        sock.close()


def build(
    case: dict, server: LiveServer, job_url: str, secret: tuple[Path, str]
) -> tuple[str, dict[str, str], bytes]:
    """The case's path, headers and body, placeholders filled."""
    job_id = job_url.rsplit("/", 1)[1]
    fill = {
        "job": job_id,
        "JOB": job_id.upper(),
        "secret_file": str(secret[0]),
        "loopback": f"http://127.0.0.1:{server.port}",
        "digits": "9" * 5000,
        "hexdigits": "f" * 100,
    }

    def filled(text: str) -> str:
        for key, value in fill.items():
            text = text.replace("{" + key + "}", value)
        return text

    path = filled(case["path"])
    form = {k: filled(str(v)) for k, v in case.get("form", {}).items()}
    files: dict[str, tuple[str, bytes, str]] = {
        name: (name, filled(content).encode(), "text/xml")
        for name, content in case.get("parts", {}).items()
    }
    if "upload" in case:
        name = case["upload"]
        document = gzip_bomb() if name == "gzip_bomb" else filled(UPLOADS[name]).encode()
        files["t"] = ("t.xml", document, "application/x-votable+xml")
        form.update({"LANG": "ADQL", "QUERY": "SELECT * FROM TAP_UPLOAD.t", "UPLOAD": "t,param:t"})
        if case["path"].endswith("/async"):
            form["PHASE"] = "RUN"
    for n in range(case.get("many_parts", 0)):
        files[f"p{n}"] = (f"p{n}.xml", b"<VOTABLE/>", "text/xml")
    if "long_query" in case:
        clause = " OR ".join(["ra = 1"] * (case["long_query"] // 9 + 1))
        form.update({"LANG": "ADQL", "QUERY": f"SELECT ra FROM xpha.adqltest_stars WHERE {clause}"})
    headers = {"Host": f"127.0.0.1:{server.port}", **case.get("headers", {})}
    if "body_bytes" in case:  # one file part (no field-size limit applies to it)
        files = {"t": ("t.xml", b"x" * case["body_bytes"], "application/octet-stream")}
        form = {"UPLOAD": "t,param:t"}
    if not form and not files:
        return path, headers, b""
    request = httpx.Request(case["method"], "http://x/", data=form or None, files=files or None)
    headers["Content-Type"] = request.headers["content-type"]
    return path, headers, request.read()


def _without_query_echo(text: str) -> str:
    """The answer without the INFO that echoes the client's own QUERY back."""
    return re.sub(r'<INFO name="QUERY" value="[^"]*"/>', "", text)


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_hostile_request(server: LiveServer, bystander: str, secret, case: dict) -> None:
    path, headers, body = build(case, server, bystander, secret)
    t0 = time.monotonic()
    status, answer_headers, answer = raw_request(
        server.port, case["method"], path, headers, body, case.get("chunked", False)
    )
    assert time.monotonic() - t0 < 30
    assert status < 500, answer[:500]
    text = _without_query_echo(answer.decode("utf-8", "replace"))
    for forbidden in (
        "Traceback",
        "/work/",
        "/tmp/",
        str(secret[0]),
        secret[1],
        case.get("never") or secret[1],
    ):
        assert forbidden not in text, (forbidden, text[:500])
    if "async_error" in case:  # the job is created and ends in ERROR with the message
        assert status == 303, text[:500]
        with httpx.Client(timeout=60) as client:
            job = wait_final(client, answer_headers["location"])
            assert phase_of(job) == "ERROR"
            message = job.findtext(f"{UWS}errorSummary/{UWS}message")
            assert case["async_error"] in message and secret[1] not in message
        return
    assert status == case["status"], text[:500]
    if status >= 400:
        assert answer_headers["content-type"].startswith("application/x-votable+xml")
        fault, message = votable_status(answer)
        assert fault == "ERROR" and message.startswith("UsageFault:"), message
        assert case.get("says", "") in message, message


def test_every_canary_survived_the_corpus(server: LiveServer, bystander: str, var_dir: Path):
    """Runs after the corpus (file order): nothing beside or above a job's files is gone,
    and the other client's job and its result are still served."""
    for canary in ("canary.txt", "pgdata/PG_VERSION", "uws/canary.txt", "secrets/x.password"):
        assert (var_dir / canary).read_text() == "still here", canary
    with httpx.Client(timeout=30) as client:
        assert phase_of(etree.fromstring(client.get(bystander).content)) == "COMPLETED"
        result = client.get(f"{bystander}/results/result")
        assert result.status_code == 200 and b"VOTABLE" in result.content


# --- another client's jobs -------------------------------------------------------------------------
def job_ids(client: httpx.Client, base: str) -> set[str]:
    listing = etree.fromstring(client.get(f"{base}/async").content)
    return {ref.get("id") for ref in listing.iter(f"{UWS}jobref")}


def test_two_clients_see_only_their_own_jobs(server: LiveServer, bystander: str) -> None:
    data = {"LANG": "ADQL", "QUERY": "SELECT TOP 1 ra FROM xpha.adqltest_stars"}
    with (
        httpx.Client(timeout=30) as alice,
        httpx.Client(timeout=30) as bob,
        httpx.Client(timeout=30) as stranger,
    ):
        mine = alice.post(f"{server.base}/async", data=data, follow_redirects=False)
        theirs = bob.post(f"{server.base}/async", data=data, follow_redirects=False)
        assert "xpha_jobs" in mine.cookies and "HttpOnly" in mine.headers["set-cookie"]
        alice_id = mine.headers["location"].rsplit("/", 1)[1]
        bob_id = theirs.headers["location"].rsplit("/", 1)[1]
        assert job_ids(alice, server.base) == {alice_id}
        assert job_ids(bob, server.base) == {bob_id}
        assert job_ids(stranger, server.base) == set()  # no cookie: no list at all
        assert bystander.rsplit("/", 1)[1] not in job_ids(alice, server.base)
        forged = httpx.Client(timeout=30, cookies={"xpha_jobs": "A" * 43})
        assert job_ids(forged, server.base) == set()
        forged.close()
        # The job URL itself is the capability: who holds it may use it, as pyvo and STILTS do.
        assert stranger.get(mine.headers["location"]).status_code == 200
        for client, job_url in (
            (alice, mine.headers["location"]),
            (bob, theirs.headers["location"]),
        ):
            assert client.delete(job_url, follow_redirects=False).status_code == 303


def test_pyvo_sessions_list_only_their_own_jobs(server: LiveServer) -> None:
    import pyvo

    first, second = pyvo.dal.TAPService(server.base), pyvo.dal.TAPService(server.base)
    query = "SELECT TOP 2 ra FROM xpha.adqltest_stars"
    one = first.submit_job(query)
    two = second.submit_job(query)
    first_ids = {job.jobid for job in first.get_job_list()}
    second_ids = {job.jobid for job in second.get_job_list()}
    assert one.job_id in first_ids and two.job_id not in first_ids
    assert two.job_id in second_ids and one.job_id not in second_ids
    one.run().wait(timeout=30)  # the job URL works as it always did
    assert len(one.fetch_result().to_table()) == 2
    one.delete()
    two.delete()


def test_loopback_upload_urls_are_refused(server: LiveServer) -> None:
    response = httpx.post(
        f"{server.base}/sync",
        data={
            "LANG": "ADQL",
            "QUERY": "SELECT * FROM TAP_UPLOAD.t",
            "UPLOAD": f"t,http://127.0.0.1:{server.port}/tap/availability",
        },
        timeout=30,
    )
    assert response.status_code == 400
    assert "loopback, private or reserved" in votable_status(response.content)[1]


# --- limits per client --------------------------------------------------------------------------
def test_one_client_cannot_take_every_query_slot(server: LiveServer) -> None:
    """Two queries at once per client (this server's setting): a third waits its turn (503),
    while another client is served."""
    answers: list[int] = []

    def slow() -> None:
        answers.append(
            httpx.post(
                f"{server.base}/sync", timeout=60, data={"LANG": "ADQL", "QUERY": SLOW_QUERY}
            ).status_code
        )

    threads = [threading.Thread(target=slow) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # both are running now
    third = httpx.post(
        f"{server.base}/sync", data={"LANG": "ADQL", "QUERY": "SELECT 1 AS x"}, timeout=30
    )
    other = httpx.post(
        f"{server.base}/sync",
        data={"LANG": "ADQL", "QUERY": "SELECT 1 AS x"},
        timeout=30,
        headers={"X-Forwarded-For": "198.51.100.77"},
    )
    for thread in threads:
        thread.join()
    assert third.status_code == 503, third.text[:300]
    assert "queries at once" in votable_status(third.content)[1]
    assert other.status_code == 200
    assert answers == [400, 400]  # the slow ones ran into the 8 s limit of this server
    assert (
        httpx.post(
            f"{server.base}/sync", data={"LANG": "ADQL", "QUERY": "SELECT 1 AS x"}, timeout=30
        ).status_code
        == 200
    )  # slots come back


def test_waiting_jobs_per_client_are_capped(server: LiveServer) -> None:
    data = {"LANG": "ADQL", "QUERY": "SELECT 1 AS x"}
    mine = httpx.Client(timeout=30, headers={"X-Forwarded-For": "198.51.100.20"})
    created = [
        mine.post(f"{server.base}/async", data=data, follow_redirects=False) for _ in range(5)
    ]
    assert all(r.status_code == 303 for r in created)
    refused = mine.post(f"{server.base}/async", data=data, follow_redirects=False)
    assert refused.status_code == 400
    assert "you hold 5 PENDING or QUEUED jobs" in votable_status(refused.content)[1]
    other = httpx.post(
        f"{server.base}/async",
        data=data,
        follow_redirects=False,
        headers={"X-Forwarded-For": "198.51.100.21"},
        timeout=30,
    )
    assert other.status_code == 303
    for response in [*created, other]:
        mine.delete(response.headers["location"])
    assert mine.post(f"{server.base}/async", data=data, follow_redirects=False).status_code == 303
    mine.close()


# --- a slow-drip upload URL --------------------------------------------------------------------------
class DripHandler(BaseHTTPRequestHandler):
    """Answers 200 and then one byte every half second, forever (or until the peer leaves)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-votable+xml")
        self.end_headers()
        try:
            while True:
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            return

    def log_message(self, *args: object) -> None:
        return


def test_a_slow_drip_upload_url_holds_no_connection_and_ends_on_time(
    module_db_url: str, tmp_path: Path
) -> None:
    drip = ThreadingHTTPServer(("127.0.0.1", 0), DripHandler)
    threading.Thread(target=drip.serve_forever, daemon=True).start()
    live = LiveServer(
        module_db_url,
        tmp_path,
        tap_upload_http_private=True,
        tap_upload_http_timeout_s=2,
        tap_pool_size=1,
        tap_pool_wait_s=1,
    ).start()
    try:
        outcome: dict[str, object] = {}

        def dripping() -> None:
            t0 = time.monotonic()
            response = httpx.post(
                f"{live.base}/sync",
                timeout=60,
                data={
                    "LANG": "ADQL",
                    "QUERY": "SELECT * FROM TAP_UPLOAD.t",
                    "UPLOAD": f"t,http://127.0.0.1:{drip.server_port}/t.xml",
                },
            )
            outcome.update(
                status=response.status_code,
                seconds=time.monotonic() - t0,
                message=votable_status(response.content)[1],
            )

        thread = threading.Thread(target=dripping)
        thread.start()
        time.sleep(0.8)  # the fetch is under way; the only database connection must be free
        t0 = time.monotonic()
        meanwhile = httpx.post(
            f"{live.base}/sync", timeout=30, data={"LANG": "ADQL", "QUERY": "SELECT 1 AS x"}
        )
        assert meanwhile.status_code == 200 and time.monotonic() - t0 < 1.0
        thread.join(30)
        assert outcome["status"] == 400
        assert "did not arrive within 2 s" in str(outcome["message"])
        assert float(outcome["seconds"]) < 2 + 5 + 1  # the deadline, at most one read late
    finally:
        live.stop()
        drip.shutdown()


# --- bearer tokens ----------------------------------------------------------------------------------
def test_bearer_tokens_make_jobs_their_users(module_db_url: str, tmp_path: Path) -> None:
    import pyvo
    import requests

    from tap_service.callers import add_token

    tokens = tmp_path / "tokens"
    alice, bob = add_token(tokens, "alice"), add_token(tokens, "bob")
    assert "alice" in tokens.read_text() and alice not in tokens.read_text()
    live = LiveServer(
        module_db_url, tmp_path, tap_auth="bearer", tap_tokens_file=str(tokens)
    ).start()
    try:
        anonymous = httpx.post(f"{live.base}/sync", data={"LANG": "ADQL", "QUERY": "SELECT 1"})
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert votable_status(anonymous.content)[1].startswith("UsageFault:")
        wrong = httpx.get(f"{live.base}/async", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        capabilities = httpx.get(f"{live.base}/capabilities")  # public: how to authenticate
        assert capabilities.status_code == 200
        assert b'securityMethod standardID="ivo://ivoa.net/sso#token"' in capabilities.content

        def service(token: str) -> pyvo.dal.TAPService:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            return pyvo.dal.TAPService(live.base, session=session)

        job = service(alice).submit_job("SELECT 1 AS x")
        assert {j.jobid for j in service(alice).get_job_list()} == {job.job_id}
        assert service(bob).get_job_list() == []
        as_bob = httpx.get(job.url, headers={"Authorization": f"Bearer {bob}"})
        assert as_bob.status_code == 404  # not "forbidden": bob learns nothing of it
        assert (
            httpx.get(f"{job.url}/owner", headers={"Authorization": f"Bearer {alice}"}).text
            == "alice"
        )
        job.run().wait(timeout=30)
        assert job.fetch_result().to_table()["x"][0] == 1
        job.delete()
    finally:
        live.stop()
