"""DALI faults and the error VOTable every TAP failure is rendered as.

Clients (pyvo, TOPCAT) parse the body even on a non-2xx status and read the *last*
``QUERY_STATUS`` INFO, so every failure, whatever raised it, becomes one small VOTable whose
message starts with the DALI fault name (``UsageFault: ...``), never an HTML page or a traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from sql.errors import XphaError

VOTABLE_CONTENT_TYPE = "application/x-votable+xml"


class DaliFault(XphaError):
    """A failure reported to a TAP client as a DALI error document."""

    fault_name = "DefaultFault"
    http_status = 500

    @property
    def message(self) -> str:
        return str(self)


class UsageFault(DaliFault):
    """The request is wrong (bad ADQL, unknown table, bad parameter): the client must change it."""

    fault_name = "UsageFault"
    http_status = 400


class NotFoundFault(UsageFault):
    """What the client names does not exist (or is not the client's): HTTP 404."""

    http_status = 404


class TransientFault(DaliFault):
    """The service cannot answer now (timeout, overload); the same request may work later."""

    fault_name = "TransientFault"
    http_status = 503


class FatalFault(DaliFault):
    """The service failed in a way the client cannot fix."""

    fault_name = "FatalFault"
    http_status = 500


def fault_message(message: str, fault_name: str) -> str:
    """The message prefixed with its fault name, once (``UsageFault: ...``)."""
    prefix = f"{fault_name}:"
    return message if message.startswith(prefix) else f"{prefix} {message}"


def error_votable(message: str, fault_name: str = "UsageFault", query: str | None = None) -> bytes:
    """A DALI error document: VOTable 1.4, results RESOURCE, ``QUERY_STATUS=ERROR``."""
    text = _xml_safe(fault_message(message, fault_name))
    infos = [
        f'<INFO name="QUERY_STATUS" value="ERROR">{escape(text)}</INFO>',
        '<INFO name="SERVICE_PROTOCOL" value="1.1">ivo://ivoa.net/std/TAP</INFO>',
        f'<INFO name="REQUEST_DATE" value="{datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}"/>',
    ]
    if query is not None:
        infos.append(f'<INFO name="QUERY" value={quoteattr(_xml_safe(query))}/>')
    body = "\n".join(infos)
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f'<RESOURCE type="results">\n{body}\n</RESOURCE>\n</VOTABLE>\n'
    )
    return document.encode("utf-8")


def fault_document(fault: DaliFault, query: str | None = None) -> bytes:
    """The error VOTable of a raised fault."""
    return error_votable(str(fault), fault.fault_name, query)


def _xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (a client may send any bytes in QUERY)."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
