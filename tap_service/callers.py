"""Who is calling: the authenticated user (optional bearer tokens), the anonymous owner
cookie, and the key that per-client limits count by.

Anonymous TAP (the default) keeps the protocol's own model: a job's URL, with its 128-bit
random id, is the secret that lets its holder read, change or delete it, and pyvo, TOPCAT and
STILTS carry it without help. The job *list* must then show nobody else's jobs: it shows the
jobs created with the caller's owner cookie (set on the creating 303; pyvo's session keeps it),
and nothing to a caller without one. With ``XPHA_TAP_AUTH=bearer`` every request names its user
with ``Authorization: Bearer TOKEN``; jobs belong to that user and other users get 404.

Tokens live in ``settings.tap_tokens_path`` as ``NAME SHA256(TOKEN)`` lines (0600), written by
``xpha tap token add NAME``: the file never holds a usable token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from tap_service.errors import DaliFault

OWNER_COOKIE = "xpha_jobs"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_USER_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class Unauthenticated(DaliFault):
    """No or an unknown bearer token where the service requires one."""

    fault_name = "UsageFault"
    http_status = 401


@dataclass(frozen=True)
class Caller:
    """One request's caller."""

    address: str
    user: str | None = None
    cookie: str | None = None  # the anonymous owner cookie it sent (well-formed), if any

    @property
    def quota_key(self) -> str:
        """What per-client limits count by: the user, else the client address."""
        return f"user:{self.user}" if self.user else f"ip:{self.address}"

    @property
    def owner_key(self) -> str | None:
        """Whose job list a new job joins; None: the caller has no list (yet)."""
        if self.user:
            return f"user:{self.user}"
        if self.cookie:
            return "cookie:" + hashlib.sha256(self.cookie.encode()).hexdigest()
        return None

    def with_new_cookie(self) -> Caller:
        """The same caller holding a fresh owner cookie (to be set on the response)."""
        return Caller(self.address, self.user, secrets.token_urlsafe(32))


def caller_of(request: Request) -> Caller:
    """The caller of ``request``; the user was put there by the auth middleware, if any."""
    address = request.client.host if request.client else "unknown"
    user = getattr(request.state, "user", None)
    cookie = request.cookies.get(OWNER_COOKIE)
    if cookie is not None and not _COOKIE_VALUE.fullmatch(cookie):
        cookie = None
    return Caller(address, user, cookie)


# --- bearer tokens ---------------------------------------------------------------------------
def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_tokens(path: Path) -> dict[str, str]:
    """``digest -> user`` from the tokens file; an absent file holds none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    tokens = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and not line.startswith("#"):
            tokens[fields[1]] = fields[0]
    return tokens


def user_of_token(tokens: dict[str, str], token: str) -> str | None:
    """The user a token belongs to, compared in constant time."""
    digest = token_digest(token)
    found = None
    for known, user in tokens.items():
        if hmac.compare_digest(known, digest):
            found = user
    return found


def add_token(path: Path, user: str) -> str:
    """Make a token for ``user``, store its digest (file mode 0600) and return the token."""
    if not _USER_NAME.fullmatch(user):
        raise ValueError(f"user name {user!r}: use 1-64 letters, digits, or _ . @ -")
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(f"{user} {token_digest(token)}\n")
    os.chmod(path, 0o600)
    return token
