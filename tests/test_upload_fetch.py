"""Fetching an upload URL (issue 12, item 5) against real local HTTP servers: one name
resolution and a connection to the address that was checked (no DNS rebinding), no proxy from
the environment, no redirects, a byte cap and a deadline for the whole fetch."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tap_service.errors import UsageFault
from tap_service.settings import TapSettings
from tap_service.uploads import fetch_upload

BODY = b"<VOTABLE/>" * 10


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
            return
        body = BODY * (1000 if self.path == "/big" else 1)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.hosts.append(self.headers["Host"])  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        return


@contextmanager
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.hosts = []  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd
    finally:
        httpd.shutdown()


def settings(**values: object) -> TapSettings:
    return TapSettings(_env_file=None, tap_upload_http_private=True, **values)  # type: ignore[call-arg]


def test_the_host_is_resolved_once_and_the_checked_address_is_used(monkeypatch) -> None:
    """A name that answers 127.0.0.1 when checked and elsewhere afterwards (DNS rebinding)
    is fetched from 127.0.0.1, with the name in the Host header."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(host, *args, **kwargs):
        if host == "rebind.example":
            answers.append(host)
            target = "127.0.0.1" if len(answers) == 1 else "192.0.2.1"
            return real(target, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with server() as httpd:
        data = fetch_upload("t", f"http://rebind.example:{httpd.server_port}/t.xml", settings())
    assert data == BODY
    assert answers == ["rebind.example"]
    assert httpd.hosts == [f"rebind.example:{httpd.server_port}"]  # type: ignore[attr-defined]


def test_proxy_variables_are_ignored(monkeypatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    with server() as httpd:
        assert fetch_upload("t", f"http://127.0.0.1:{httpd.server_port}/t.xml", settings()) == BODY


def test_redirects_are_not_followed() -> None:
    with server() as httpd, pytest.raises(UsageFault, match="redirects elsewhere"):
        fetch_upload("t", f"http://127.0.0.1:{httpd.server_port}/redirect", settings())


def test_the_byte_cap_holds_while_reading() -> None:
    with server() as httpd, pytest.raises(UsageFault, match="over the 5000 byte limit"):
        fetch_upload(
            "t", f"http://127.0.0.1:{httpd.server_port}/big", settings(tap_upload_max_bytes=5000)
        )


def test_private_addresses_are_refused_by_default() -> None:
    strict = TapSettings(_env_file=None)  # type: ignore[call-arg]
    for url in (
        "http://127.0.0.1:9/x",
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/x",
    ):
        with pytest.raises(UsageFault, match="loopback, private or reserved"):
            fetch_upload("t", url, strict)


def test_a_silent_server_is_given_up_on_time() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts the connection, never answers
    try:
        t0 = time.monotonic()
        with pytest.raises(UsageFault, match="did not answer in time"):
            fetch_upload(
                "t",
                f"http://127.0.0.1:{listener.getsockname()[1]}/x",
                settings(tap_upload_http_timeout_s=1.0),
            )
        assert time.monotonic() - t0 < 3
    finally:
        listener.close()


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "file:///etc/passwd", "http:///x", "http://example.org:99999/x"]
)
def test_what_is_not_an_http_url_with_a_host_is_refused(url: str) -> None:
    with pytest.raises(UsageFault):
        fetch_upload("t", url, settings())
