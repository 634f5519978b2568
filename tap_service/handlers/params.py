"""DALI parameters: names are case-insensitive (values are not), from the URL and the body.

Urlencoded and multipart bodies are read the same way; multipart file parts are kept apart,
keyed by their part name, for ``UPLOAD=name,param:part``.
"""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile

from tap_service.errors import UsageFault


async def request_params(request: Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """Parameters with lower-case names (the first value of a repeated name) and file parts."""
    params: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key.lower(), value)
    if request.method == "POST":
        try:
            form = await request.form()
        except Exception as exc:  # a malformed body is the client's fault, whatever raised
            raise UsageFault(f"the request body could not be read as a form: {exc}") from exc
        for key, item in form.multi_items():
            if isinstance(item, UploadFile):
                files[key] = await item.read()
            else:
                params.setdefault(key.lower(), item)
    return params, files
