"""`xpha serve`: the real command, in its own process, configured only by XPHA_* variables."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from lxml import etree

from sql.cluster import free_port

REPO = Path(__file__).resolve().parent.parent


def test_xpha_serve_answers_on_loopback(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "XPHA_DATABASE_URL": db_url,
        "XPHA_TAP_PORT": str(port),
        "XPHA_VAR_DIR": str(tmp_path),
    }
    server = subprocess.Popen(
        [sys.executable, "-c", "from xpha.cli import main; main()", "serve"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/tap/availability", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "xpha serve did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        available = etree.fromstring(response.content).findtext(
            "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}available"
        )
        assert available == "true"
        sync = httpx.get(
            f"http://127.0.0.1:{port}/tap/sync",
            params={"LANG": "ADQL", "QUERY": "SELECT COUNT(*) AS n FROM tap_schema.tables"},
        )
        assert sync.status_code == 200 and b'value="OK"' in sync.content
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode is not None
