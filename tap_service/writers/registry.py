"""RESPONSEFORMAT values -> writers, and the list the capabilities document advertises."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Writer
from .fits import FitsWriter
from .text import DelimitedWriter
from .votable import VOTABLE_CONTENT_TYPE, VOTableWriter


@dataclass(frozen=True)
class OutputFormat:
    """One format as TAPRegExt ``outputFormat`` describes it (mime, aliases, optional ivo-id)."""

    mime: str
    aliases: tuple[str, ...]
    writer: Writer
    ivo_id: str | None = None


_REGEXT = "ivo://ivoa.net/std/TAPRegExt#output-"
OUTPUT_FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat(
        VOTABLE_CONTENT_TYPE,
        (
            "votable",
            "votable/b2",
            "votableb2",
            "text/xml",
            "application/x-votable",
            f"{VOTABLE_CONTENT_TYPE};serialization=binary2",
        ),
        VOTableWriter("BINARY2"),
        f"{_REGEXT}votable-binary2",
    ),
    OutputFormat(
        f"{VOTABLE_CONTENT_TYPE};serialization=binary",
        ("votable/b", "votableb", "binary"),
        VOTableWriter("BINARY"),
        f"{_REGEXT}votable-binary",
    ),
    OutputFormat(
        f"{VOTABLE_CONTENT_TYPE};serialization=tabledata",
        ("votable/td", "votabletd", "tabledata"),
        VOTableWriter("TABLEDATA"),
        f"{_REGEXT}votable-td",
    ),
    OutputFormat(
        "text/csv", ("csv", "text/csv;header=present"), DelimitedWriter(","), f"{_REGEXT}csv"
    ),
    OutputFormat("text/tab-separated-values", ("tsv",), DelimitedWriter("\t"), f"{_REGEXT}tsv"),
    OutputFormat("application/fits", ("fits", "image/fits"), FitsWriter(), f"{_REGEXT}fits"),
)

FORMATS: dict[str, Writer] = {
    name: fmt.writer for fmt in OUTPUT_FORMATS for name in (fmt.mime.lower(), *fmt.aliases)
}


def normalise_format(responseformat: str) -> str:
    """Lower case, no spaces around MIME parameters ("text/csv; header=present" matches)."""
    return ";".join(part.strip() for part in responseformat.strip().lower().split(";"))


def get_writer(responseformat: str | None) -> Writer | None:
    """The writer for a RESPONSEFORMAT value (the default, BINARY2, when empty); None if unknown."""
    if responseformat is None or not responseformat.strip():
        return FORMATS["votable"]
    return FORMATS.get(normalise_format(responseformat))
