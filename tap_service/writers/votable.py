"""VOTable 1.4 result documents: BINARY2 (the default), BINARY and TABLEDATA, streamed.

One document per result, always: ``QUERY_STATUS=OK`` before the TABLE, and after it a trailing
``OVERFLOW`` (rows were cut at the limit) or ``ERROR`` (the query failed mid-stream) INFO that
clients (pyvo, TOPCAT) read as the final status.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from xml.sax.saxutils import escape, quoteattr

from .base import Infos, ResultStatus, RowsOrColumns, Writer, encoded_batches
from .binary import base64_stream, encode_rows
from .cells import TABLEDATA_STYLE, cells
from .columns import NULL_VALUES, Texts, batch_columns
from .fields import INTEGER_TYPES, FieldSpec

VOTABLE_CONTENT_TYPE = "application/x-votable+xml"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Character data for XML 1.0: escaped, and without the control characters it forbids."""
    return escape(_NOT_XML.sub("", text))


def xml_attr(text: str) -> str:
    """A quoted XML attribute value (newlines kept as character references)."""
    return quoteattr(_NOT_XML.sub("", text), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


class VOTableWriter(Writer):
    """A VOTable writer for one serialisation: ``BINARY2``, ``BINARY`` or ``TABLEDATA``."""

    content_type = VOTABLE_CONTENT_TYPE
    extension = "vot"

    def __init__(self, serialization: str = "BINARY2") -> None:
        if serialization not in ("BINARY2", "BINARY", "TABLEDATA"):
            raise ValueError(f"unknown VOTable serialization {serialization!r}")
        self.serialization = serialization

    def write(
        self,
        fields: Sequence[FieldSpec],
        batches: Iterable[RowsOrColumns],
        status: ResultStatus,
        infos: Infos,
    ) -> Iterator[bytes]:
        yield self._head(fields, infos).encode("utf-8")
        if self.serialization == "TABLEDATA":
            rows = encoded_batches(batches, status, lambda b: tabledata(fields, b))
            yield b"<DATA><TABLEDATA>\n"
            yield from rows
            yield b"</TABLEDATA></DATA>\n"
        else:
            binary2 = self.serialization == "BINARY2"
            raw = encoded_batches(batches, status, lambda b: encode_rows(fields, b, binary2))
            yield f'<DATA><{self.serialization}><STREAM encoding="base64">\n'.encode()
            yield from base64_stream(raw)
            yield f"</STREAM></{self.serialization}></DATA>\n".encode()
        yield _tail(status).encode("utf-8")

    def _head(self, fields: Sequence[FieldSpec], infos: Infos) -> str:
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
            '<RESOURCE type="results">',
            '<INFO name="QUERY_STATUS" value="OK"/>',
        ]
        lines += [_info(name, value) for name, value in infos.items()]
        lines.append("<TABLE>")
        lines += [_field(spec, self.serialization) for spec in fields]
        return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=4096)
def _field(spec: FieldSpec, serialization: str) -> str:
    """A FIELD element; remembered, as a published column's (with its escaped description)
    is the same in every result that has it."""
    attrs = [f"name={xml_attr(spec.name)}", f'datatype="{spec.datatype}"']
    for key in ("arraysize", "unit", "ucd", "xtype", "utype"):
        value = getattr(spec, key)
        if value:
            attrs.append(f"{key}={xml_attr(value)}")
    children = []
    if spec.description:
        children.append(f"<DESCRIPTION>{xml_text(spec.description)}</DESCRIPTION>")
    if spec.datatype in INTEGER_TYPES and (serialization == "BINARY" or spec.is_array):
        # BINARY has no null flags, and array elements never have any: integers need a
        # declared null value (the one written for NULL).
        children.append(f'<VALUES null="{NULL_VALUES[spec.datatype]}"/>')
    if not children:
        return f"<FIELD {' '.join(attrs)}/>"
    return f"<FIELD {' '.join(attrs)}>{''.join(children)}</FIELD>"


def _info(name: str, value: str | tuple[str, str]) -> str:
    """An INFO element; a (value, content) pair also fills its text, as DALI's
    ``<INFO name="SERVICE_PROTOCOL" value="1.1">ivo://ivoa.net/std/TAP</INFO>``."""
    if isinstance(value, tuple):
        value, content = value
        return (
            f"<INFO name={xml_attr(name)} value={xml_attr(str(value))}>{xml_text(content)}</INFO>"
        )
    return f"<INFO name={xml_attr(name)} value={xml_attr(str(value))}/>"


def tabledata(fields: Sequence[FieldSpec], rows: RowsOrColumns) -> bytes:
    """TABLEDATA rows: one TR per row, empty TD for NULL, arrays space-separated."""
    if not fields:
        return b"<TR></TR>\n" * len(rows)
    texts = []
    for spec, data in zip(fields, batch_columns(fields, rows), strict=True):
        strings = cells(spec, data, TABLEDATA_STYLE)
        texts.append([xml_text(s) for s in strings] if isinstance(data, Texts) else strings)
    body = "".join(
        "<TR><TD>" + "</TD><TD>".join(row) + "</TD></TR>\n" for row in zip(*texts, strict=True)
    )
    return body.encode("utf-8")


def _tail(status: ResultStatus) -> str:
    trailer = ""
    if status.error is not None:
        trailer = f'<INFO name="QUERY_STATUS" value="ERROR">{xml_text(status.error)}</INFO>\n'
    elif status.overflow:
        trailer = '<INFO name="QUERY_STATUS" value="OVERFLOW"/>\n'
    return f"</TABLE>\n{trailer}</RESOURCE>\n</VOTABLE>\n"
