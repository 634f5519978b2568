"""DALI parameters: names are case-insensitive (values are not), from the URL and the body.

The one parameter parser of the service (TAP sync, async/UWS and cone search). Urlencoded and
multipart bodies are read the same way; multipart file parts are kept apart, keyed by their
part name, for ``UPLOAD=name,param:part``. The body has passed the size limit of
``request_guard`` by then; a body that breaks off past it raises its 413 fault here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from tap_service.errors import DaliFault, UsageFault

MAX_FILE_PARTS = 32
MAX_FIELDS = 1000


@dataclass
class RequestParams:
    """Every value of every parameter (lower-case names) and the file parts."""

    values: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def first(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[0] if found else None

    def firsts(self) -> dict[str, str]:
        """The first value of each parameter (DALI: a repeated single-valued name)."""
        return {name: found[0] for name, found in self.values.items()}


async def read_params(request: Request) -> RequestParams:
    """The parameters of ``request``; UsageFault when its body is not a readable form."""
    params = RequestParams()
    for key, value in request.query_params.multi_items():
        params.values.setdefault(key.lower(), []).append(value)
    if request.method != "POST":
        return params
    try:
        form = await request.form(max_files=MAX_FILE_PARTS, max_fields=MAX_FIELDS)
        for key, item in form.multi_items():
            if isinstance(item, UploadFile):
                params.files[key] = await item.read()
            else:
                params.values.setdefault(key.lower(), []).append(item)
    except DaliFault:
        raise
    except HTTPException as exc:  # starlette's own limits (a field over 1 MB, too many parts)
        raise UsageFault(f"the request body could not be read as a form: {exc.detail}") from None
    except Exception:  # a malformed body is the client's fault, whatever the parser raised
        raise UsageFault(
            "the request body could not be read as a form (a malformed urlencoded or "
            f"multipart body, or more than {MAX_FIELDS} fields or {MAX_FILE_PARTS} files)"
        ) from None
    return params


async def request_params(request: Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """Parameters with lower-case names (the first value of a repeated name) and file parts."""
    params = await read_params(request)
    return params.firsts(), params.files
