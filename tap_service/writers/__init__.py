"""Streaming result writers: VOTable BINARY2 (default), BINARY, TABLEDATA, CSV, TSV and FITS.

Usage by the query runner::

    fields = field_specs(cursor.description, translation.columns)
    writer = get_writer(request.responseformat)  # None -> UsageFault
    body = writer.write(fields, batches, status, {"QUERY": adql})
"""

from .base import ResultStatus, Writer
from .fields import FieldSpec, field_specs
from .registry import FORMATS, OUTPUT_FORMATS, OutputFormat, get_writer

__all__ = [
    "FORMATS",
    "OUTPUT_FORMATS",
    "FieldSpec",
    "OutputFormat",
    "ResultStatus",
    "Writer",
    "field_specs",
    "get_writer",
]
