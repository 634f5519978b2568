"""Run one TAP request: parameters in, a streamed result document out.

Both ``/sync`` and async jobs come through here. The order matters for clients: everything
that can fail for a reason the client can fix (parameters, uploads, ADQL, the first rows from
the database) happens *before* the first byte is sent, so it becomes a proper DALI error with
HTTP 400; a failure later in the stream is closed into the same document as a trailing
``QUERY_STATUS=ERROR`` (never a second document).

Queries run on connections opened *as* the read-only TAP role (never ``SET ROLE``, which a
query could undo), read-only with a statement timeout (``TapEngine.begin``), fetched in
batches (binary COPY into numpy columns where every column is fixed-width, see
``tap_service.columnar``; row tuples otherwise), with ``LIMIT limit+1`` so OVERFLOW is
reported only when a row was really cut.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, islice
from typing import Any, cast

import psycopg
import psycopg.sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from sql.database import database_url, tap_role_password
from tap_service import columnar
from tap_service.adql import AdqlError, Translation, translate
from tap_service.adql.cone_shape import ConeShapes
from tap_service.catalog import Catalog, CatalogCache, load_catalog
from tap_service.errors import DaliFault, FatalFault, TransientFault, UsageFault
from tap_service.memo import Memo
from tap_service.settings import TapSettings
from tap_service.uploads import (
    UploadedTable,
    check_part_sizes,
    load_uploads,
    parse_upload_param,
    read_uploads,
    refuse_unnamed_parts,
)
from tap_service.writers import FieldSpec, ResultStatus, field_specs, get_writer
from tap_service.writers.base import RowsOrColumns

log = logging.getLogger(__name__)

LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")
DEFAULT_FORMAT = "votable"
MEMO_QUERY_CHARS = 8_000  # longer queries are translated afresh (they are rarely repeated)


# --- the request ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TapRequest:
    """A validated TAP query request (TAP 1.1 parameters, names already case-folded)."""

    query: str
    lang: str = "ADQL"
    maxrec: int | None = None
    responseformat: str = DEFAULT_FORMAT
    uploads: Mapping[str, bytes | str] = field(default_factory=dict)  # name -> VOTable or URL
    runid: str | None = None


def parse_tap_request(
    params: Mapping[str, str], files: Mapping[str, bytes], max_query_chars: int
) -> TapRequest:
    """Validate TAP parameters (names case-insensitive, values not); UsageFault on a bad one."""
    p = {k.lower(): v for k, v in params.items()}
    request = p.get("request")
    if request is not None and request.lower() != "doquery":
        raise UsageFault(f"REQUEST={request!r} is not supported; use REQUEST=doQuery or omit it")
    lang = p.get("lang", "ADQL").strip() or "ADQL"
    if lang.upper() not in LANGUAGES:
        raise UsageFault(f"LANG={lang!r} is not supported; use one of {', '.join(LANGUAGES)}")
    query = p.get("query")
    if query is None or not query.strip():
        raise UsageFault("the QUERY parameter is missing or empty")
    _check_query_length(query, max_query_chars)
    maxrec = _maxrec(p.get("maxrec"))
    responseformat = (p.get("responseformat") or p.get("format") or DEFAULT_FORMAT).strip()
    if get_writer(responseformat) is None:
        raise UsageFault(
            f"RESPONSEFORMAT={responseformat!r} is not supported; see /tap/capabilities "
            "for the output formats"
        )
    uploads = parse_upload_param(p.get("upload"), files)
    return TapRequest(query, lang.upper(), maxrec, responseformat, uploads, p.get("runid"))


def admit_job(settings: TapSettings) -> Callable[[Mapping[str, str], Mapping[str, bytes]], None]:
    """What an async job may store, judged as for /sync: the QUERY length, upload parts that
    UPLOAD names and that are within the byte limit. (What the query means is judged when the
    job runs, so that the message lands in the job's errorSummary.)"""

    def admit(params: Mapping[str, str], files: Mapping[str, bytes]) -> None:
        query = params.get("query")
        if query is not None:
            _check_query_length(query, settings.tap_query_max_chars)
        refuse_unnamed_parts(params.get("upload"), files)
        check_part_sizes(files, settings.tap_upload_max_bytes)

    return admit


def _check_query_length(query: str, max_chars: int) -> None:
    if len(query) > max_chars:
        raise UsageFault(
            f"the QUERY is {len(query)} characters, over the limit of {max_chars}; "
            "send long lists of ids or positions as a TAP_UPLOAD table and join it"
        )


def _maxrec(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        maxrec = int(value)
    except ValueError:
        raise UsageFault(f"MAXREC={value!r} is not a non-negative integer") from None
    if maxrec < 0:
        raise UsageFault(f"MAXREC={value!r} is not a non-negative integer")
    return maxrec


# --- the engine: pool + catalogue ------------------------------------------------------------
def tap_conninfo(settings: TapSettings, url: str | None = None) -> str:
    """The database URL with the TAP role as user (its password when the operator set one)."""
    url = url or database_url(settings)
    params = conninfo_to_dict(url)
    params["user"] = settings.tap_role
    password = tap_role_password(settings, url)
    if password is not None:
        params["password"] = password
    else:
        params.pop("password", None)
    params.setdefault("application_name", "xpha-tap")
    # The role has it too (migration 040); on the connection it holds for any role setup.
    readonly = "-c default_transaction_read_only=on"
    params["options"] = f"{params['options']} {readonly}" if params.get("options") else readonly
    return make_conninfo("", **params)


class TapEngine:
    """What running queries needs: a pool of TAP-role connections and the catalogue."""

    def __init__(self, settings: TapSettings, url: str | None = None) -> None:
        self.settings = settings
        self.pool = ConnectionPool(
            tap_conninfo(settings, url),
            min_size=1,
            max_size=settings.tap_pool_size,
            timeout=settings.tap_pool_wait_s,
            kwargs={"autocommit": True, "prepare_threshold": None},
            open=False,
            name="xpha-tap",
        )
        # result descriptions by query shape (a cone is described once, not per request),
        # translations by query text and row limit
        self.descriptions: Memo[list[tuple[str, int]] | None] = Memo(1024)
        self.translations: Memo[Translation] = Memo(256)
        self.cone_shapes = ConeShapes(256)  # cone queries, whatever their centre
        self._timeouts: weakref.WeakKeyDictionary[psycopg.Connection, int] = (
            weakref.WeakKeyDictionary()
        )
        self.catalogue = CatalogCache(
            self._read_catalog, settings.tap_catalog_ttl_s, on_reload=self._forget
        )

    def _forget(self) -> None:
        """The catalogue was read again: what was worked out from it may differ now."""
        self.descriptions.clear()
        self.translations.clear()
        self.cone_shapes.clear()

    def open(self) -> None:
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close()

    def getconn(self) -> psycopg.Connection:
        """A pooled connection as the TAP role; a 503 TransientFault when none frees up."""
        try:
            return self.pool.getconn()
        except PoolTimeout as exc:
            raise TransientFault("the service is busy (no free database connection)") from exc

    def putconn(self, conn: psycopg.Connection, *, discard: bool = False) -> None:
        """Give a connection back, its transaction ended (a broken one is dropped).

        Queries change no session state (their settings are transaction-local), so only a
        connection that held uploads needs ``DISCARD ALL`` to drop its temp tables.
        """
        _rollback(conn)
        if discard:
            self._timeouts.pop(conn, None)  # DISCARD ALL resets the session's timeout
        if discard and not conn.closed:
            try:
                conn.execute("DISCARD ALL")
            except psycopg.Error:
                conn.close()
        self.pool.putconn(conn)

    def begin(self, conn: psycopg.Connection, timeout: float, app_name: str | None) -> None:
        """Make ``conn`` ready to run one query read-only under ``timeout``.

        A sync query runs as one autocommit statement: the TAP role's transactions are
        read-only by default, and the statement timeout is a session setting, sent only when
        it changes, so a small query costs one round trip rather than three (BEGIN, the
        query, ROLLBACK). A tagged (async) query gets an explicit read-only transaction with
        transaction-local settings, as its application_name must not outlive it.
        """
        ms = int(timeout * 1000)
        if app_name:
            conn.execute(
                psycopg.sql.SQL(
                    "BEGIN READ ONLY; SET LOCAL statement_timeout = {}; SET LOCAL application_name = {}"
                ).format(ms, app_name)
            )
            return
        if self._timeouts.get(conn) != ms:
            conn.execute(psycopg.sql.SQL("SET statement_timeout = {}").format(ms))
            self._timeouts[conn] = ms

    def catalog(self) -> Catalog:
        """TAP_SCHEMA as ADQL, VOSI and the landing page see it, re-read after
        ``tap_catalog_ttl_s``."""
        return self.catalogue.get()

    def _read_catalog(self) -> Catalog:
        conn = self.getconn()
        try:
            return load_catalog(conn, self.settings.published_schema)  # '"size"' comes as size
        finally:
            self.putconn(conn)


# --- running ----------------------------------------------------------------------------------
@dataclass
class QueryResult:
    """A result document ready to stream."""

    content_type: str
    body: Iterator[bytes]


def run_query(
    request: TapRequest,
    engine: TapEngine,
    *,
    sync: bool = False,
    timeout_s: float | None = None,
    application_name: str | None = None,
) -> QueryResult:
    """Execute ``request`` and return its streamed document; DaliFault before the first byte.

    ``sync`` selects the /sync statement timeout (and an error that points to async);
    ``application_name`` tags the backend so an async job's query can be cancelled.
    """
    settings = engine.settings
    writer = get_writer(request.responseformat)
    if writer is None:  # parse_tap_request checks too; a hand-built request may not have
        raise UsageFault(f"RESPONSEFORMAT={request.responseformat!r} is not supported")
    limit = min(
        settings.tap_maxrec_default if request.maxrec is None else request.maxrec,
        settings.tap_hard_limit,
    )
    timeout = timeout_s or (settings.tap_sync_timeout_s if sync else settings.tap_async_timeout_s)
    # Everything that waits on the client or only needs the CPU (URL uploads, parsing them,
    # translating the ADQL) happens before a pooled connection is taken.
    try:
        parsed = read_uploads(request.uploads, settings) if request.uploads else []
        catalog = engine.catalog().with_tables(p.info for p in parsed)
        translation = _translation(engine, request.query, catalog, limit + 1 if limit > 0 else 0,
                                   {p.name: p.relation for p in parsed})  # fmt: skip
    except DaliFault:
        raise
    except AdqlError as exc:
        raise UsageFault(str(exc)) from exc
    except psycopg.Error as exc:  # reading the catalogue
        raise database_fault(exc, timeout, sync) from exc
    except Exception as exc:
        log.exception("preparing a TAP query failed")
        raise FatalFault("the service failed to prepare the query; this is a bug") from exc
    conn = engine.getconn()
    uploaded: list[UploadedTable] = []
    fetch: _Fetch | None = None
    try:
        uploaded = load_uploads(conn, parsed)

        def begin() -> None:
            engine.begin(conn, timeout, application_name)

        fetch = (
            _fetch_columns(
                conn,
                translation,
                begin,
                settings.tap_fetch_rows,
                engine,
                None if uploaded else catalog,  # upload tables differ per request
            )
            if settings.tap_copy_fetch
            else None
        )
        fetch = fetch or _fetch_rows(conn, translation, begin, settings.tap_fetch_rows)
        first = next(fetch.batches, [])  # execution errors surface here
    except BaseException as exc:
        if fetch is not None:
            fetch.close()
        engine.putconn(conn, discard=bool(uploaded))
        if isinstance(exc, DaliFault | KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        if isinstance(exc, psycopg.Error):
            raise database_fault(exc, timeout, sync) from exc
        log.exception("TAP query failed before streaming")
        raise FatalFault("the service failed to run the query; this is a bug") from exc

    status = ResultStatus()
    infos = {
        "QUERY": request.query,
        "REQUEST_DATE": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SERVICE_PROTOCOL": "ivo://ivoa.net/std/TAP",
    }
    if request.runid:  # TAP 1.1 2.3.9: the client's tag comes back with the result
        infos["RUNID"] = request.runid
    batches = limited_batches(fetch.batches, first, limit, status, timeout, sync)

    def body() -> Iterator[bytes]:
        try:
            yield from writer.write(fetch.fields, batches, status, infos)
        finally:
            fetch.close()  # a client that went away: the rest of the query is cancelled
            engine.putconn(conn, discard=bool(uploaded))

    return QueryResult(writer.content_type, body())


@dataclass
class _Fetch:
    """A running query: its FIELDs, its batches (lazily fetched) and how to stop it early."""

    fields: list[FieldSpec]
    batches: Iterator[RowsOrColumns]
    close: Callable[[], None]


def _translation(
    engine: TapEngine, adql: str, catalog: Catalog, row_limit: int, uploads: Mapping[str, str]
) -> Translation:
    """The query's translation; one without uploads is kept (by text and row limit) until the
    catalogue is read again, so a repeated query is not parsed and checked again, and a cone
    query at a new centre is written from its kept shape (``adql.cone_shape``)."""
    if uploads or len(adql) > MEMO_QUERY_CHARS:
        return translate(adql, catalog, row_limit=row_limit, uploads=uploads)
    return engine.translations.get(
        (adql, row_limit), catalog, lambda: engine.cone_shapes.translate(adql, catalog, row_limit)
    )


def _fetch_columns(
    conn: psycopg.Connection,
    translation: Translation,
    begin: Callable[[], None],
    size: int,
    engine: TapEngine | None = None,
    catalog: Catalog | None = None,
) -> _Fetch | None:
    """Stream a result by binary COPY into column batches (see columnar); None when a column
    has a type it does not decode (or the server refuses it: the row path says why). With a
    ``catalog`` the engine keeps the description by the query's shape (a cone is described
    once)."""
    sql = translation.sql
    if engine is not None and catalog is not None:
        description = engine.descriptions.get(
            columnar.shape(sql), catalog, lambda: columnar.describe(conn, sql)
        )
    else:
        description = columnar.describe(conn, sql)
    if description is None:
        return None
    fields = field_specs(description, translation.columns)
    layout = columnar.copy_layout(description, fields)
    if layout is None:
        return None
    begin()
    block = conn.cursor().copy(layout.statement(translation.sql))
    copy = block.__enter__()  # the COPY starts (errors at its start raise here)
    decoded = layout.stream(columnar.copy_blocks(conn), size)
    batches = (layout.batch(fields, arrays) for arrays in decoded)

    def close() -> None:
        """Deterministically, before the connection goes back to the pool: ``Copy`` cancels
        a COPY it thinks is running, and the pool's next user must not be the one hit."""
        decoded.close()
        copy.finish(_ABANDONED)  # cancels the COPY only if it is still running
        block.__exit__(None, None, None)

    return _Fetch(fields, batches, close)


_ABANDONED = RuntimeError("the result stream was closed before its end")


def _fetch_rows(
    conn: psycopg.Connection, translation: Translation, begin: Callable[[], None], size: int
) -> _Fetch:
    """Stream the result as row tuples in chunks (libpq chunked mode), any column type."""
    begin()
    cursor = conn.cursor(binary=True)
    rows = row_stream(cursor, translation.sql, size)
    chunks = iter(lambda: list(islice(rows, size)), [])
    first = next(chunks, [])  # execution errors surface here, before the description is read
    fields = field_specs(_description(conn, cursor, translation.sql), translation.columns)
    return _Fetch(fields, chain([first], chunks), rows.close)


def row_stream(
    cursor: psycopg.Cursor,
    query: psycopg.sql.Composed | str,
    size: int,
    params: Mapping[str, object] | None = None,
) -> Generator[tuple[Any, ...]]:
    """``cursor.stream()``: a generator, whose ``close()`` ends the query early (psycopg
    annotates it as a plain Iterator)."""
    return cast(Generator[tuple[Any, ...]], cursor.stream(query, params, size=size))


def _description(conn: psycopg.Connection, cursor: psycopg.Cursor, sql: str) -> Sequence:
    """The result's columns; a stream with no rows has none, so ask with LIMIT 0 (no work)."""
    if cursor.description is not None:
        return cursor.description
    probe = conn.cursor(binary=True)
    probe.execute(f"SELECT * FROM ({sql}) AS tap_result LIMIT 0")
    return probe.description or []


def limited_batches(
    chunks: Iterator[RowsOrColumns],
    first: RowsOrColumns,
    limit: int,
    status: ResultStatus,
    timeout: float,
    sync: bool,
) -> Iterator[RowsOrColumns]:
    """Batches up to ``limit`` rows; OVERFLOW only when the limit+1st row exists."""
    sent = 0
    batch = first
    try:
        while len(batch):
            if sent + len(batch) > limit:
                status.overflow = True
                batch = batch[: limit - sent]
                if len(batch):
                    yield batch
                return
            sent += len(batch)
            yield batch
            batch = next(chunks, [])
    except psycopg.Error as exc:
        fault = database_fault(exc, timeout, sync)
        status.error = f"{fault.fault_name}: {fault}"


def _rollback(conn: psycopg.Connection) -> None:
    """End the query's transaction; a connection left in a bad state is closed."""
    try:
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
    except psycopg.Error:
        conn.close()


_PG_CONTEXT = re.compile(r"\s*(LINE \d+:.*|HINT:.*|CONTEXT:.*)$", re.S)


def database_fault(exc: psycopg.Error, timeout: float, sync: bool) -> DaliFault:
    """A database error as the client should see it: its own message, never SQL internals.

    Classified by SQLSTATE class: 22 (data), 42 (names, privileges), 54 (limits) and the
    read-only refusal are the query's fault; 08/53/57P/40 are transient; the rest fatal.
    """
    message = _PG_CONTEXT.sub("", (exc.diag.message_primary or str(exc)).strip())
    state = exc.sqlstate or ""
    if state == "57014":  # query_canceled: the statement timeout
        hint = "; run it as an async job (/tap/async) for a longer limit" if sync else ""
        return UsageFault(f"the query was stopped after the {timeout:g} s time limit{hint}")
    if state in ("42501", "25006"):  # insufficient_privilege, read_only_sql_transaction
        return UsageFault(f"not allowed: {message}")
    if state == "53400":  # configuration_limit_exceeded: temp_file_limit of the TAP role
        return UsageFault(
            "the query needs more temporary disk space than one query may use "
            "(a large sort, join or DISTINCT); narrow it or add a TOP"
        )
    if state[:2] in ("22", "42", "54", "2F", "39"):
        return UsageFault(f"the database rejected the query: {message}")
    # Server-side trouble: the client learns its kind, never the server's own text (it can
    # name files, hosts or settings).
    log.warning("database error %s while running a TAP query: %s", state, message)
    if state[:2] in ("08", "53", "40") or state.startswith("57P") or not state:
        return TransientFault("the database is unavailable or overloaded; try again later")
    return FatalFault("the database failed to run the query; this is reported in the server log")
