"""TAP_UPLOAD: client VOTables loaded into session temp tables that ADQL can join (with Q3C).

Two steps, so that no database connection waits on a client: :func:`read_uploads` fetches
URL uploads and checks and parses every VOTable with no connection held; :func:`load_uploads`
then creates and fills the temp tables on the query's pooled connection (``DISCARD ALL`` drops
them when the connection goes back).

Everything in an upload is hostile until checked. Each document passes
``sql.votable_guard`` before astropy sees it: no ``STREAM href`` (astropy would read server
files or reach internal hosts), no DOCTYPE, and limits on bytes, decompressed bytes, rows and
columns enforced while reading. A URL upload (TAPRegExt upload-http) is fetched under one
deadline and a byte cap, from the address that was checked (resolved once: no DNS rebinding),
never through a proxy from the environment, never following a redirect; only public addresses
unless ``tap_upload_http_private``.
"""

from __future__ import annotations

import io
import ipaddress
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from sql.votable_guard import VOTableLimits, VOTableMalformed, VOTableRefused, plain_votable
from tap_service.catalog import ColumnInfo, TableInfo
from tap_service.errors import UsageFault
from tap_service.settings import TapSettings

UPLOAD_SCHEMA = "tap_upload"
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PG_TYPES = {
    "boolean": "boolean",
    "bit": "boolean",
    "unsignedByte": "smallint",
    "short": "smallint",
    "int": "integer",
    "long": "bigint",
    "float": "real",
    "double": "double precision",
    "char": "text",
    "unicodeChar": "text",
}


@dataclass(frozen=True)
class UploadedTable:
    """An upload as ADQL sees it (``TAP_UPLOAD.name``) and the temp table holding it."""

    name: str
    relation: str
    info: TableInfo
    rows: int


def parse_upload_param(value: str | None, files: Mapping[str, bytes]) -> dict[str, bytes | str]:
    """``UPLOAD=name,param:part[;name2,https://...]``: each table's VOTable bytes or its URL."""
    refuse_unnamed_parts(value, files)
    if value is None or not value.strip():
        return {}
    uploads: dict[str, bytes | str] = {}
    for item in value.split(";"):
        name, sep, uri = item.strip().partition(",")
        name, uri = name.strip(), uri.strip()
        if not sep or not name or not uri:
            raise UsageFault(f"UPLOAD item {item!r} is not 'table_name,param:part_name'")
        if not _IDENTIFIER.match(name):
            raise UsageFault(f"UPLOAD table name {name!r} is not an ADQL identifier")
        if name.lower() in uploads:
            raise UsageFault(f"UPLOAD names table {name!r} twice")
        if uri.lower().startswith(("http://", "https://")):
            uploads[name.lower()] = uri
            continue
        if not uri.startswith("param:"):
            raise UsageFault(
                f"UPLOAD {name}: {uri!r} is neither param:part (inline) nor an http(s) URL"
            )
        part = uri[len("param:") :]
        if part not in files:
            raise UsageFault(f"UPLOAD {name}: the request has no file part named {part!r}")
        uploads[name.lower()] = files[part]
    return uploads


def refuse_unnamed_parts(value: str | None, files: Mapping[str, bytes]) -> None:
    """A file part that no UPLOAD item names is refused: nothing a client sends is kept unread."""
    unnamed = sorted(set(files) - upload_parts(value))
    if unnamed:
        shown = ", ".join(repr(part[:40]) for part in unnamed[:5])
        raise UsageFault(
            f"the request has file parts that no UPLOAD item names ({shown}); "
            "name each as UPLOAD=table_name,param:part_name"
        )


def check_part_sizes(files: Mapping[str, bytes], max_bytes: int) -> None:
    for part, content in files.items():
        if len(content) > max_bytes:
            raise UsageFault(
                f"the file part {part[:40]!r} is {len(content)} bytes, over the "
                f"{max_bytes} byte upload limit"
            )


def upload_parts(value: str | None) -> set[str]:
    """The multipart part names that ``UPLOAD`` refers to (``param:name``)."""
    parts = set()
    for item in (value or "").split(";"):
        uri = item.partition(",")[2].strip()
        if uri.startswith("param:"):
            parts.add(uri[len("param:") :])
    return parts


@dataclass(frozen=True)
class ParsedUpload:
    """An upload read and checked, not yet in the database."""

    name: str
    columns: list[tuple[ColumnInfo, str]]  # with the PostgreSQL type of each
    rows: list[tuple]

    @property
    def info(self) -> TableInfo:
        return TableInfo(
            UPLOAD_SCHEMA,
            self.name,
            f"Uploaded table {self.name}",
            {c.name: c for c, _ in self.columns},
        )

    @property
    def relation(self) -> str:
        return f"pg_temp.upload_{self.name}"


def read_uploads(uploads: Mapping[str, bytes | str], settings: TapSettings) -> list[ParsedUpload]:
    """Fetch, check and parse every upload; no database connection is involved."""
    parsed = []
    for name, data in uploads.items():
        if isinstance(data, str):
            if not settings.tap_upload_http:
                raise UsageFault(
                    f"UPLOAD {name}: this service does not fetch uploads from URLs ({data}); "
                    "send the VOTable inline as param:part_name"
                )
            data = fetch_upload(name, data, settings)
        table = _read_votable(name, data, settings)
        columns = _columns(name, table.fields)
        rows = _rows(table)
        if len(rows) > settings.tap_upload_max_rows:  # variable-width binary rows end up here
            raise UsageFault(
                f"UPLOAD {name}: {len(rows)} rows is over the "
                f"{settings.tap_upload_max_rows} row limit"
            )
        parsed.append(ParsedUpload(name, columns, rows))
    return parsed


def load_uploads(conn: psycopg.Connection, parsed: list[ParsedUpload]) -> list[UploadedTable]:
    """Create and fill one temp table per upload, in one short read-write transaction (none
    at all without uploads: that would be three round trips for every other query)."""
    if not parsed:
        return []
    loaded = []
    with conn.transaction():
        conn.execute("SET TRANSACTION READ WRITE")
        for upload in parsed:
            loaded.append(_load_one(conn, upload))
    return loaded


def fetch_upload(name: str, url: str, settings: TapSettings) -> bytes:
    """GET an upload's VOTable within the deadline and the byte limit, from a checked address."""
    import httpx

    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise UsageFault(f"UPLOAD {name}: {url!r} is not an http(s) URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageFault(f"UPLOAD {name}: {url!r} has an invalid port") from None
    address = _checked_address(name, host, port, settings.tap_upload_http_private)
    literal = f"[{address}]" if ":" in address else address
    direct = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    headers = {"Host": parts.netloc.rpartition("@")[2], "Accept-Encoding": "identity"}
    total = settings.tap_upload_http_timeout_s
    deadline = time.monotonic() + total
    limit = settings.tap_upload_max_bytes
    chunks: list[bytes] = []
    size = 0
    try:
        with (
            httpx.Client(
                trust_env=False, follow_redirects=False, timeout=httpx.Timeout(min(total, 5.0))
            ) as client,
            client.stream(
                "GET",
                direct,
                headers=headers,
                extensions={"sni_hostname": host} if parts.scheme == "https" else {},
            ) as response,
        ):
            if response.is_redirect:
                raise UsageFault(
                    f"UPLOAD {name}: {url} redirects elsewhere; redirects are "
                    "not followed, give the final URL"
                )
            if response.status_code != 200:
                raise UsageFault(f"UPLOAD {name}: {url} answered HTTP {response.status_code}")
            for chunk in response.iter_raw():
                size += len(chunk)
                if size > limit:
                    raise UsageFault(f"UPLOAD {name}: {url} is over the {limit} byte limit")
                if time.monotonic() > deadline:
                    raise UsageFault(f"UPLOAD {name}: {url} did not arrive within {total:g} s")
                chunks.append(chunk)
    except httpx.TimeoutException:
        raise UsageFault(f"UPLOAD {name}: {url} did not answer in time") from None
    except httpx.HTTPError:
        raise UsageFault(
            f"UPLOAD {name}: {url} could not be fetched (connection failed or "
            "the answer was not valid HTTP)"
        ) from None
    return b"".join(chunks)


def _checked_address(name: str, host: str, port: int, private_allowed: bool) -> str:
    """Resolve ``host`` once; the address to connect to, refusing non-public ones."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UsageFault(f"UPLOAD {name}: the host {host!r} cannot be resolved") from None
    addresses = [str(info[4][0]).split("%")[0] for info in infos]
    if not private_allowed:
        for address in addresses:
            if not ipaddress.ip_address(address).is_global:
                raise UsageFault(
                    f"UPLOAD {name}: {host} resolves to {address}, a loopback, private or "
                    "reserved address; this service fetches uploads from public addresses only "
                    "(send the VOTable inline as param:part_name)"
                )
    if not addresses:
        raise UsageFault(f"UPLOAD {name}: the host {host!r} has no address")
    return addresses[0]


def _load_one(conn: psycopg.Connection, upload: ParsedUpload) -> UploadedTable:
    relation = f"upload_{upload.name}"
    ddl = sql.SQL("CREATE TEMP TABLE {} ({})").format(
        sql.Identifier(relation),
        sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg_type))
            for c, pg_type in upload.columns
        ),
    )
    conn.execute(ddl)
    copy = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(relation))
    with conn.cursor().copy(copy) as writer:
        for row in upload.rows:
            writer.write_row(row)
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(relation)))
    return UploadedTable(upload.name, upload.relation, upload.info, len(upload.rows))


def _read_votable(name: str, data: bytes, settings: TapSettings):  # -> astropy TableElement
    """The first table of a checked document; errors name the upload, never the server."""
    import warnings

    from astropy.io.votable import parse
    from astropy.io.votable.exceptions import VOTableSpecError, VOWarning

    limits = VOTableLimits(
        max_bytes=settings.tap_upload_max_bytes,
        max_decoded_bytes=settings.tap_upload_max_decoded_bytes,
        max_rows=settings.tap_upload_max_rows,
        max_columns=settings.tap_upload_max_columns,
    )
    try:
        plain, _ = plain_votable(data, limits)
    except VOTableMalformed as exc:
        raise UsageFault(f"UPLOAD {name}: not a readable VOTable ({exc})") from None
    except VOTableRefused as exc:
        raise UsageFault(f"UPLOAD {name}: refused: {exc}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VOWarning)
            document = parse(io.BytesIO(plain), verify="ignore")
        return document.get_first_table()
    except (VOTableSpecError, VOWarning) as exc:  # about the document: worth showing
        raise UsageFault(f"UPLOAD {name}: not a readable VOTable ({_position_free(exc)})") from None
    except Exception:  # astropy and numpy raise many types; their text is not for clients
        raise UsageFault(
            f"UPLOAD {name}: not a readable VOTable (its data do not match its FIELD declarations)"
        ) from None


def _position_free(exc: Exception) -> str:
    """astropy's message without its ``None:line:col:`` file prefix."""
    return re.sub(r"^\S*:(\d+):(\d+): ", r"line \1, column \2: ", str(exc))


def _columns(name: str, fields) -> list[tuple[ColumnInfo, str]]:
    columns: list[tuple[ColumnInfo, str]] = []
    seen: set[str] = set()
    for field in fields:
        column_name = re.sub(r"[^a-z0-9_]", "_", (field.name or "col").lower())
        if not column_name[0].isalpha():
            column_name = f"c_{column_name}"
        while column_name in seen:
            column_name += "_"
        seen.add(column_name)
        datatype = field.datatype
        if datatype not in _PG_TYPES:
            raise UsageFault(
                f"UPLOAD {name}: column {field.name!r} has unsupported type {datatype}"
            )
        arraysize = field.arraysize
        is_array = arraysize is not None and datatype not in ("char", "unicodeChar")
        pg_type = _PG_TYPES[datatype] + ("[]" if is_array else "")
        if field.xtype in ("timestamp", "adql:TIMESTAMP") and not is_array:
            pg_type = "timestamp"  # so results carry xtype=timestamp again
        info = ColumnInfo(
            name=column_name,
            datatype=datatype,
            arraysize=None if arraysize is None else str(arraysize),
            unit=str(field.unit) if field.unit is not None else None,
            ucd=field.ucd,
            description=field.description,
            xtype=field.xtype,
        )
        columns.append((info, pg_type))
    return columns


def _rows(table) -> list[tuple]:
    """The table's cells as Python values, masked ones as None (column by column)."""
    import numpy as np

    array = table.array
    cells = []
    for column_name in array.dtype.names:
        column = array[column_name]
        mask = np.ma.getmaskarray(column)
        data = np.ma.getdata(column)
        values = []
        row_masked = np.asarray(mask.reshape(len(data), -1).any(axis=1) if mask.ndim > 1 else mask)
        for value, masked in zip(data, row_masked, strict=True):
            values.append(None if masked else _python(value))
        cells.append(values)
    return list(zip(*cells, strict=True)) if cells else []


def _python(value: object) -> object:
    import numpy as np

    if isinstance(value, np.ma.MaskedArray):
        value = value.filled(np.nan) if value.dtype.kind == "f" else value.data
    if isinstance(value, np.ndarray):
        return [_python(v) for v in value.tolist()] if value.dtype == object else value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value
