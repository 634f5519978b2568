"""A VOTable from outside is checked here before astropy parses it.

astropy follows ``<STREAM href="...">`` with urllib (``file://`` reads server files, ``http://``
reaches any host, with no size limit and no deadline) and silently decompresses gzip, bzip2
and xz documents. A TAP upload or a file to ingest therefore passes through this guard first:
one streaming pass with expat that refuses

- anything that points outside the document: a ``href`` on any element but ``LINK`` (which is
  metadata astropy never follows), the ``FITS`` and ``PARQUET`` serialisations (always by
  reference), XInclude, and any DOCTYPE (no entities, no external subsets);
- documents over the limits while they are read, not after: bytes as received, bytes after
  decompression (capped while decompressing), FIELDs per table, and rows (``TR`` elements, and
  for ``BINARY``/``BINARY2`` streams of fixed-width rows the stream length over the row width).

The messages name the element and line, and carry nothing of the server.
"""

from __future__ import annotations

import bz2
import lzma
import math
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from xml.parsers import expat

CHUNK_BYTES = 1 << 20
_MAGIC_BYTES = 6  # enough to tell gzip, bzip2 and xz apart
_XINCLUDE = "http://www.w3.org/2001/XInclude"
_BY_REFERENCE = ("FITS", "PARQUET")
_FIXED_BYTES = {
    "boolean": 1,
    "unsignedByte": 1,
    "short": 2,
    "int": 4,
    "long": 8,
    "char": 1,
    "unicodeChar": 2,
    "float": 4,
    "double": 8,
    "floatComplex": 8,
    "doubleComplex": 16,
}


class VOTableRefused(ValueError):
    """The document is unsafe, over a limit or not well-formed; the message says which."""


class VOTableMalformed(VOTableRefused):
    """The document is not well-formed XML, or holds no table."""


@dataclass(frozen=True)
class VOTableLimits:
    """What one document may hold."""

    max_bytes: int
    max_decoded_bytes: int
    max_rows: int
    max_columns: int


@dataclass(frozen=True)
class VOTableShape:
    """What the guard saw: FIELDs of the widest table and the rows it could count."""

    columns: int
    rows: int | None  # None: a binary stream of variable-width rows (bounded by its bytes)


def plain_votable(data: bytes, limits: VOTableLimits) -> tuple[bytes, VOTableShape]:
    """The document decompressed (if it was) and checked: what astropy may then parse."""
    if len(data) > limits.max_bytes:
        raise VOTableRefused(
            f"the document is {len(data)} bytes, over the limit of {limits.max_bytes} bytes"
        )
    guard = _Guard(limits)
    plain = []
    for chunk in _decompressed([data], limits.max_decoded_bytes):
        guard.feed(chunk)
        plain.append(chunk)
    return b"".join(plain), guard.close()


def check_votable_file(path: Path, limits: VOTableLimits) -> VOTableShape:
    """Check a (possibly compressed) VOTable file in one streaming pass, holding no more than
    a chunk of it in memory."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise VOTableRefused(f"the file is {size} bytes, over the limit of {limits.max_bytes}")
    guard = _Guard(limits)
    with path.open("rb") as handle:
        for chunk in _decompressed(
            iter(lambda: handle.read(CHUNK_BYTES), b""), limits.max_decoded_bytes
        ):
            guard.feed(chunk)
    return guard.close()


# --- decompression, capped ---------------------------------------------------------------------
def _decompressed(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """The plain bytes of a gzip, bzip2, xz or plain stream; refused past ``limit`` bytes."""
    source = iter(chunks)
    first = next(source, b"")
    decompressor = _decompressor_for(first)
    total = 0

    def counted(piece: bytes) -> bytes:
        nonlocal total
        total += len(piece)
        if total > limit:
            raise VOTableRefused(f"the document decompresses to more than {limit} bytes")
        return piece

    if decompressor is None:
        yield from (counted(chunk) for chunk in chain([first], source) if chunk)
        return
    carried = b""  # the start of a following member, split across chunks
    for chunk in chain([first], source):
        data = carried + chunk
        carried = b""
        while data:
            if decompressor.eof:  # the member ended: another one (gzip allows several) starts
                if len(data) < _MAGIC_BYTES:
                    carried = data
                    break
                decompressor = _decompressor_for(data)
                if decompressor is None:
                    raise VOTableRefused("trailing data after the compressed document")
            yield counted(decompressor.decompress(data, CHUNK_BYTES))
            while not decompressor.needs_input and not decompressor.eof:
                yield counted(decompressor.decompress(b"", CHUNK_BYTES))
            data = decompressor.unused_data if decompressor.eof else b""
    if carried or not decompressor.eof:
        raise VOTableRefused("the compressed document is truncated")


class _Zlib:
    """zlib's decompressobj with the needs_input/eof interface of bz2 and lzma."""

    def __init__(self) -> None:
        self._inner = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        self._pending = b""
        self._full = False  # the last call filled its output: zlib may hold more

    def decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            out = self._inner.decompress(self._pending + data, max_length)
        except zlib.error as exc:
            raise VOTableRefused("the gzip stream is corrupt") from exc
        self._pending = self._inner.unconsumed_tail
        self._full = len(out) == max_length
        return out

    @property
    def needs_input(self) -> bool:
        return not self._pending and not self._full

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def unused_data(self) -> bytes:
        return self._inner.unused_data


def _decompressor_for(head: bytes):  # -> _Zlib | bz2.BZ2Decompressor | lzma.LZMADecompressor
    if head[:2] == b"\x1f\x8b":
        return _Zlib()
    if head[:3] == b"BZh":
        return bz2.BZ2Decompressor()
    if head[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMADecompressor()
    return None


# --- the streaming check -------------------------------------------------------------------------
@dataclass
class _Table:
    widths: list[int | None] = field(default_factory=list)  # bytes per FIELD, None: variable
    rows: int = 0


class _Guard:
    """An expat parser whose handlers refuse what astropy must not see."""

    def __init__(self, limits: VOTableLimits) -> None:
        self.limits = limits
        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.EntityDeclHandler = self._entity
        self.parser.ExternalEntityRefHandler = self._external_entity
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text
        self.tables: list[_Table] = []
        self.stack: list[str] = []
        self.stream_chars = 0
        self.unknown_rows = False

    # --- feeding -------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        self._parse(chunk, final=False)

    def close(self) -> VOTableShape:
        self._parse(b"", final=True)
        if not self.tables:
            raise VOTableMalformed("the document holds no TABLE")
        widest = max(len(t.widths) for t in self.tables)
        rows = None if self.unknown_rows else max(t.rows for t in self.tables)
        return VOTableShape(widest, rows)

    def _parse(self, chunk: bytes, *, final: bool) -> None:
        try:
            self.parser.Parse(chunk, final)
        except expat.ExpatError as exc:
            raise VOTableMalformed(
                f"not well-formed XML: {expat.ErrorString(exc.code)} at line {exc.lineno}, "
                f"column {exc.offset}"
            ) from None

    def _where(self) -> str:
        return f"line {self.parser.CurrentLineNumber}"

    # --- handlers ------------------------------------------------------------------------
    def _doctype(self, *_: object) -> None:
        raise VOTableRefused(
            f"{self._where()}: a DOCTYPE declaration is not accepted "
            "(a VOTable needs none; it could declare entities)"
        )

    def _entity(self, name: str, *_: object) -> None:
        raise VOTableRefused(f"{self._where()}: entity declarations are not accepted ({name})")

    def _external_entity(self, *_: object) -> int:
        raise VOTableRefused(f"{self._where()}: external entities are not accepted")

    def _start(self, qualified: str, attributes: dict[str, str]) -> None:
        namespace, _, name = qualified.rpartition(" ")
        if namespace == _XINCLUDE:
            raise VOTableRefused(f"{self._where()}: XInclude is not accepted")
        for attribute in attributes:
            if attribute.rpartition(" ")[2] == "href" and name != "LINK":
                raise VOTableRefused(
                    f"{self._where()}: <{name} href=...> refers to data outside "
                    "the document; the VOTable must carry its data inline (TABLEDATA, or a "
                    'BINARY/BINARY2 STREAM with encoding="base64")'
                )
        if name in _BY_REFERENCE:
            raise VOTableRefused(
                f"{self._where()}: the {name} serialisation refers to an external file; use "
                "TABLEDATA, BINARY or BINARY2"
            )
        self.stack.append(name)
        if name == "TABLE":
            self.tables.append(_Table())
        elif name == "FIELD" and self.tables:
            table = self.tables[-1]
            table.widths.append(
                _field_bytes(attributes.get("datatype", ""), attributes.get("arraysize"))
            )
            if len(table.widths) > self.limits.max_columns:
                raise VOTableRefused(
                    f"{self._where()}: the table has more than {self.limits.max_columns} columns"
                )
        elif name == "TR" and self.tables:
            self._count_rows(self.tables[-1], 1)
        elif name == "STREAM":
            self.stream_chars = 0

    def _end(self, qualified: str) -> None:
        name = qualified.rpartition(" ")[2]
        self.stack.pop()
        if (
            name == "STREAM"
            and self.tables
            and self.stack
            and self.stack[-1] in ("BINARY", "BINARY2")
        ):
            table = self.tables[-1]
            width = _row_bytes(table.widths, self.stack[-1] == "BINARY2")
            if width is None:
                self.unknown_rows = True  # bounded by the decompressed-bytes limit instead
            elif width > 0:
                self._count_rows(table, (self.stream_chars * 3 // 4) // width)

    def _text(self, text: str) -> None:
        if self.stack and self.stack[-1] == "STREAM":
            self.stream_chars += sum(1 for ch in text if not ch.isspace())

    def _count_rows(self, table: _Table, rows: int) -> None:
        table.rows += rows
        if table.rows > self.limits.max_rows:
            raise VOTableRefused(
                f"{self._where()}: the table has more than {self.limits.max_rows} rows"
            )


def _field_bytes(datatype: str, arraysize: str | None) -> int | None:
    """Bytes of one FIELD in a BINARY row; None when variable (or unknown)."""
    if arraysize is not None and arraysize.strip().endswith("*"):
        return None
    count = 1
    if arraysize is not None and arraysize.strip():
        try:
            count = math.prod(int(n) for n in arraysize.strip().split("x"))
        except ValueError:
            return None
    if datatype == "bit":
        return math.ceil(count / 8)
    size = _FIXED_BYTES.get(datatype)
    return None if size is None else size * count


def _row_bytes(widths: list[int | None], binary2: bool) -> int | None:
    if any(w is None for w in widths):
        return None
    mask = math.ceil(len(widths) / 8) if binary2 else 0
    return sum(w for w in widths if w is not None) + mask
