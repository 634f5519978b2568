"""Responses for result documents: small ones whole, large ones streamed.

Starlette moves every chunk of a synchronous iterator to a worker thread and back; for the
typical small TAP result that costs more than producing it. So the head of the document is
produced in the same worker call as the query, and a document that ends within
``HEAD_BYTES`` is sent as one response (with a Content-Length); a longer one streams on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import chain

from fastapi import Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from tap_service.query import QueryResult

HEAD_BYTES = 1 << 20


def _run_with_head(run: Callable[[], QueryResult]) -> tuple[QueryResult, list[bytes], bool]:
    result = run()
    head: list[bytes] = []
    size = 0
    for chunk in result.body:
        head.append(chunk)
        size += len(chunk)
        if size >= HEAD_BYTES:
            return result, head, False
    return result, head, True


async def result_response(
    run: Callable[[], QueryResult], done: Callable[[], None] = lambda: None
) -> Response:
    """Run ``run`` in a worker thread and answer with its document; ``done`` is called once
    the document is produced, or abandoned, or failed (it frees the caller's query slot)."""
    try:
        result, head, complete = await run_in_threadpool(_run_with_head, run)
    except BaseException:
        done()
        raise
    if complete:
        done()
        return Response(b"".join(head), media_type=result.content_type)
    return StreamingResponse(_then(chain(head, result.body), done), media_type=result.content_type)


def _then(body: Iterator[bytes], done: Callable[[], None]) -> Iterator[bytes]:
    try:
        yield from body
    finally:
        done()
