"""A live TAP server in a subprocess for the async and robustness tests.

A subprocess (not a thread) because the robustness tests kill it with SIGKILL and start it
again on the same database, exactly as a crash and a restart would happen in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from lxml import etree

from sql.cluster import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
ADQL_DATA = REPO_ROOT / "tests" / "data" / "adql"
UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
VOTABLE_NS = "{http://www.ivoa.net/xml/VOTable/v1.3}"
APP_FACTORY = "from tap_service.app import create_app"
LAUNCH = (
    f"import uvicorn; from tap_service.settings import get_settings; {APP_FACTORY};"
    " s = get_settings();"
    " uvicorn.run(create_app(s), host='127.0.0.1', port=s.tap_port, log_level='warning')"
)
#: A query that keeps PostgreSQL busy for many seconds through plain ADQL (a 4-way cross join
#: of TAP_SCHEMA.columns): what a user's runaway query looks like.
SLOW_QUERY = (
    "SELECT COUNT(*) AS n FROM tap_schema.columns AS a, tap_schema.columns AS b,"
    " tap_schema.columns AS c, tap_schema.columns AS d, tap_schema.columns AS e"
)


class LiveServer:
    """``xpha``'s FastAPI app under uvicorn, on a free port, against a given database."""

    def __init__(self, db_url: str, var_dir: Path, **settings: object) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/tap"
        self.env = dict(os.environ)
        self.env.update(
            XPHA_DATABASE_URL=db_url,
            XPHA_VAR_DIR=str(var_dir),
            XPHA_TAP_PORT=str(self.port),
            XPHA_UWS_HOUSEKEEPING_S="0.5",
        )
        self.env.update({f"XPHA_{k.upper()}": str(v) for k, v in settings.items()})
        self.process: subprocess.Popen[bytes] | None = None
        self.log = var_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 60.0) -> LiveServer:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCH],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/availability", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


# --- UWS client helpers ----------------------------------------------------------------------
def submit(client: httpx.Client, base: str, query: str, run: bool = True, **params: str) -> str:
    """POST a job (303 expected); returns the job URL."""
    data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query, **params}
    if run:
        data["PHASE"] = "RUN"
    response = client.post(f"{base}/async", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def job_xml(client: httpx.Client, job_url: str, **params: str) -> etree._Element:
    response = client.get(job_url, params=params)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def phase_of(document: etree._Element) -> str:
    return document.findtext(f"{UWS}phase")


def wait_final(client: httpx.Client, job_url: str, timeout: float = 30.0) -> etree._Element:
    """Block with WAIT until the job leaves the active phases."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = job_xml(client, job_url, WAIT="5")
        if phase_of(document) not in ("PENDING", "QUEUED", "EXECUTING"):
            return document
    raise AssertionError(f"{job_url} still active after {timeout} s")


def votable_status(body: bytes) -> tuple[str, str]:
    """The last QUERY_STATUS INFO of a VOTable (what pyvo reads): (value, text)."""
    root = etree.fromstring(body)
    infos = [i for i in root.iter(f"{VOTABLE_NS}INFO") if i.get("name") == "QUERY_STATUS"]
    assert infos, body[:500]
    return infos[-1].get("value"), (infos[-1].text or "")


# --- query targets ----------------------------------------------------------------------------
#: The two small tables tests/data/adql/*.yaml name (tests/data/adql/targets.sql, as test_adql.py), published
#: with TAP_SCHEMA rows and readable by the TAP role, plus an unpublished canary table.
QUERY_TARGETS = (
    (ADQL_DATA / "targets.sql").read_text(encoding="utf-8")
    + """
CREATE TABLE public.adqltest_secret (x double precision, secret text);
INSERT INTO public.adqltest_secret VALUES (10.0, 'the-canary-secret');
"""
)


def create_query_targets(db_url: str, schema: str, role: str) -> None:
    """Create the ADQL corpus tables (QUERY_TARGETS) in a test database."""
    with psycopg.connect(db_url) as conn:
        conn.execute(QUERY_TARGETS.format(schema=schema, role=role))
