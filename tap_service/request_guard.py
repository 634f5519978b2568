"""What a request must be before any handler reads it: a Host this service answers to, a
bearer token where the deployment asks for one, and a body within the size limit.

Pure ASGI, so the body limit holds before a byte is buffered: a declared ``Content-Length``
over the limit is refused at once (413), and a body sent without one (chunked) is cut off as
soon as it passes the limit (:class:`RequestTooLarge`, raised from ``receive`` into whatever is
reading it). Refusals are DALI error VOTables like every other failure.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tap_service.callers import read_tokens, user_of_token
from tap_service.errors import VOTABLE_CONTENT_TYPE, DaliFault, error_votable
from tap_service.settings import TapSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Reachable without a token when ``tap_auth`` is bearer: what a client needs to find the
#: service and learn that it must authenticate.
PUBLIC_PATHS = frozenset(
    {"/", "/tap", "/tap/", "/tap/availability", "/tap/capabilities", "/scs/capabilities"}
)
_HOST = re.compile(r"(?P<name>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?")


class RequestTooLarge(DaliFault):
    """The request body passed ``tap_request_max_bytes``."""

    fault_name = "UsageFault"
    http_status = 413


def host_name(host_header: str) -> str | None:
    """The host name of a Host header (lower case, IPv6 without brackets); None if malformed."""
    match = _HOST.fullmatch(host_header.strip())
    if match is None:
        return None
    return match["name"].strip("[]").lower()


class RequestGuard:
    """The checks above, in front of the whole application."""

    def __init__(self, app: ASGIApp, settings: TapSettings) -> None:
        self.app = app
        self.settings = settings
        self.allowed_hosts = {
            name.strip().strip("[]").lower()
            for name in settings.tap_allowed_hosts.split(",")
            if name.strip()
        }
        self._tokens_cache: dict[str, str] = {}
        self._tokens_stamp: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        refusal = self._host_refusal(headers) or self._auth_refusal(scope, headers)
        if refusal is not None:
            await _refuse(send, *refusal)
            return
        limit = self.settings.tap_request_max_bytes
        declared = headers.get("content-length", "").strip()
        if declared and (not declared.isdigit() or int(declared) > limit):
            await _refuse(
                send,
                413,
                f"the request body is {declared} bytes, over the limit of "
                f"{limit} bytes (XPHA_TAP_REQUEST_MAX_BYTES); send large tables as "
                "an upload URL or split the request",
                {},
            )
            return
        await self.app(scope, _limited(receive, limit), send)

    def _host_refusal(self, headers: dict[str, str]) -> tuple[int, str, dict] | None:
        """Links are built from the Host header unless a base URL is configured: only a
        Host this service answers to may reach them (no forged links, no cache poisoning)."""
        if self.settings.tap_base_url or "host" not in headers:
            return None
        name = host_name(headers["host"])
        if name is None or name not in self.allowed_hosts:
            return (
                400,
                f"this service does not answer to the host {headers['host'][:100]!r}; "
                "the operator can add it to XPHA_TAP_ALLOWED_HOSTS or set "
                "XPHA_TAP_BASE_URL",
                {},
            )
        return None

    def _auth_refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, dict] | None:
        if self.settings.tap_auth != "bearer" or scope["path"] in PUBLIC_PATHS:
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        user = None
        if scheme.lower() == "bearer" and token.strip():
            user = user_of_token(self._tokens(), token.strip())
        if user is None:
            return (
                401,
                "this service needs a bearer token: send 'Authorization: Bearer "
                "TOKEN' (ask the operator for one)",
                {"www-authenticate": 'Bearer realm="xpha"'},
            )
        scope.setdefault("state", {})["user"] = user
        return None

    def _tokens(self) -> dict[str, str]:
        """The tokens file, re-read when it changes (``xpha tap token add`` while serving)."""
        path = self.settings.tap_tokens_path
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if stamp != self._tokens_stamp:
            self._tokens_cache, self._tokens_stamp = read_tokens(path), stamp
        return self._tokens_cache


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises RequestTooLarge once the body passes ``limit`` bytes."""
    seen = 0

    async def receive_within_limit() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise RequestTooLarge(
                    f"the request body passed the limit of {limit} bytes "
                    "(XPHA_TAP_REQUEST_MAX_BYTES); send large tables as an upload URL"
                )
        return message

    return receive_within_limit


async def _refuse(send: Send, status: int, message: str, extra: dict[str, str]) -> None:
    body = error_votable(message, "UsageFault")
    headers = [
        (b"content-type", VOTABLE_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *((k.encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
