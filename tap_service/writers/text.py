"""CSV (RFC 4180) and TSV results: a header row of names, then one line per row.

These formats cannot carry QUERY_STATUS: an OVERFLOW or a mid-stream error is invisible in
them (the service documents this; clients wanting the status should ask for VOTable). NULL is
the empty cell; arrays are written as the Gaia archive does, ``"[1.0, 2.0]"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from .base import Batch, Infos, ResultStatus, Writer, encoded_batches
from .cells import CSV_STYLE, cells
from .columns import Texts, batch_columns
from .fields import FieldSpec

_TSV_SAFE = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def csv_quote(value: str) -> str:
    """A CSV field, quoted when it holds a separator, quote, line break or edge space."""
    if not value:
        return value
    if any(c in value for c in ',"\n\r') or value[0] == " " or value[-1] == " ":
        return '"' + value.replace('"', '""') + '"'
    return value


class DelimitedWriter(Writer):
    """CSV or TSV, chosen by the separator."""

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self.content_type = "text/csv" if separator == "," else "text/tab-separated-values"
        self.extension = "csv" if separator == "," else "tsv"

    def _cell(self, value: str) -> str:
        return csv_quote(value) if self.separator == "," else value.translate(_TSV_SAFE)

    def write(
        self,
        fields: Sequence[FieldSpec],
        batches: Iterable[Batch],
        status: ResultStatus,
        infos: Infos,
    ) -> Iterator[bytes]:
        header = self.separator.join(self._cell(spec.name) for spec in fields)
        yield (header + "\n").encode("utf-8")
        yield from encoded_batches(batches, status, lambda batch: self._rows(fields, batch))

    def _rows(self, fields: Sequence[FieldSpec], rows: Batch) -> bytes:
        columns = []
        for spec, data in zip(fields, batch_columns(fields, rows), strict=True):
            strings = cells(spec, data, CSV_STYLE)
            if isinstance(data, Texts) or spec.is_array:
                strings = [self._cell(s) for s in strings]
            columns.append(strings)
        sep = self.separator
        return "".join(sep.join(row) + "\n" for row in zip(*columns, strict=True)).encode("utf-8")
