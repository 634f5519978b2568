"""TAP_UPLOAD: client VOTables loaded into session temp tables that ADQL can join (with Q3C).

An upload lives only as long as its query: it is created on the query's pooled connection and
``DISCARD ALL`` drops it when the connection goes back. Both TAPRegExt upload methods work:
inline (``param:part``, a multipart file) and http(s) URLs, fetched with the same byte limit
and a short timeout when the query runs (never on the event loop). A URL must resolve to public
addresses only (unless ``tap_upload_http_private``) and redirects are not followed, so a client
cannot make the server reach the database, a cloud metadata endpoint or anything else on its own
network (server-side request forgery).
"""

from __future__ import annotations

import io
import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from sql.settings import Settings
from tap_service.catalog import ColumnInfo, TableInfo
from tap_service.errors import UsageFault

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


def parse_upload_param(
    value: str | None, files: Mapping[str, bytes]
) -> dict[str, bytes | str]:
    """``UPLOAD=name,param:part[;name2,https://...]``: each table's VOTable bytes or its URL."""
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
        part = uri[len("param:"):]
        if part not in files:
            raise UsageFault(f"UPLOAD {name}: the request has no file part named {part!r}")
        uploads[name.lower()] = files[part]
    return uploads


def load_uploads(
    conn: psycopg.Connection, uploads: Mapping[str, bytes | str], settings: Settings
) -> list[UploadedTable]:
    """Create and fill one temp table per upload, in one short read-write transaction."""
    if not settings.tap_upload_http:
        for name, data in uploads.items():
            if isinstance(data, str):
                raise UsageFault(
                    f"UPLOAD {name}: this service does not fetch uploads from URLs ({data}); "
                    "send the VOTable inline as param:part_name"
                )
    fetched = {
        name: fetch_upload(name, data, settings) if isinstance(data, str) else data
        for name, data in uploads.items()
    }
    loaded = []
    with conn.transaction():
        conn.execute("SET TRANSACTION READ WRITE")
        for name, data in fetched.items():
            loaded.append(_load_one(conn, name, data, settings))
    return loaded


def fetch_upload(name: str, url: str, settings: Settings) -> bytes:
    """GET an upload's VOTable, refusing more than the upload byte limit."""
    import httpx

    if not settings.tap_upload_http_private:
        _refuse_private_destination(name, url)
    limit = settings.tap_upload_max_bytes
    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.stream("GET", url, timeout=30.0, follow_redirects=False) as response:
            if response.is_redirect:
                raise UsageFault(
                    f"UPLOAD {name}: {url} redirects to {response.headers.get('location')}; "
                    "redirects are not followed, give the final URL"
                )
            if response.status_code != 200:
                raise UsageFault(f"UPLOAD {name}: {url} answered HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise UsageFault(f"UPLOAD {name}: {url} is over the {limit} byte limit")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise UsageFault(f"UPLOAD {name}: cannot fetch {url}: {exc}") from exc
    return b"".join(chunks)


def _refuse_private_destination(name: str, url: str) -> None:
    """Refuse URLs whose host resolves to a non-public address (loopback, private, ...)."""
    host = urlsplit(url).hostname
    if not host:
        raise UsageFault(f"UPLOAD {name}: {url!r} names no host")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise UsageFault(f"UPLOAD {name}: cannot resolve {host}: {exc}") from exc
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise UsageFault(
                f"UPLOAD {name}: {host} resolves to {address}, a loopback, private or reserved "
                "address; this service fetches uploads from public addresses only (send the "
                "VOTable inline as param:part_name)"
            )


def _load_one(conn: psycopg.Connection, name: str, data: bytes, settings: Settings) -> UploadedTable:
    if len(data) > settings.tap_upload_max_bytes:
        raise UsageFault(
            f"UPLOAD {name}: {len(data)} bytes is over the {settings.tap_upload_max_bytes} byte limit"
        )
    table = _read_votable(name, data)
    if len(table.array) > settings.tap_upload_max_rows:
        raise UsageFault(
            f"UPLOAD {name}: {len(table.array)} rows is over the {settings.tap_upload_max_rows} "
            "row limit"
        )
    columns = _columns(name, table.fields)
    relation = f"upload_{name}"
    ddl = sql.SQL("CREATE TEMP TABLE {} ({})").format(
        sql.Identifier(relation),
        sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(pg_type))
            for c, pg_type in columns
        ),
    )
    conn.execute(ddl)
    rows = _rows(table)
    copy = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(relation))
    with conn.cursor().copy(copy) as writer:
        for row in rows:
            writer.write_row(row)
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(relation)))
    info = TableInfo(UPLOAD_SCHEMA, name, f"Uploaded table {name}", {c.name: c for c, _ in columns})
    return UploadedTable(name, f"pg_temp.{relation}", info, len(table.array))


def _read_votable(name: str, data: bytes):  # -> astropy.io.votable.tree.TableElement
    import warnings

    from astropy.io.votable import parse
    from astropy.io.votable.exceptions import VOWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VOWarning)
            document = parse(io.BytesIO(data), verify="ignore")
        return document.get_first_table()
    except Exception as exc:  # astropy and expat raise many types for a malformed upload
        raise UsageFault(f"UPLOAD {name}: not a readable VOTable ({exc})") from exc


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
            raise UsageFault(f"UPLOAD {name}: column {field.name!r} has unsupported type {datatype}")
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
        for value, masked in zip(data, mask.reshape(len(data), -1).any(axis=1) if mask.ndim > 1
                                 else mask, strict=True):
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
