"""What every result writer shares: the streaming contract and the status the runner sets.

The query runner hands a writer lazily fetched batches and a mutable :class:`ResultStatus`.
The writer reads the status only after the last batch, so the runner can still mark the result
as cut (OVERFLOW) or failed (ERROR) while it streams. A failure while the rows are produced never
escapes the writer half-way through a document: it is recorded in the status and the document
is closed properly (VOTable: a trailing ``QUERY_STATUS=ERROR``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from sql.errors import XphaError

from .columns import ColumnBatch
from .fields import FieldSpec

RowsOrColumns = Sequence[tuple] | ColumnBatch  # row tuples, or columns decoded from binary COPY
Infos = Mapping[str, str | tuple[str, str]]  # INFO name -> value, or (value, text content)


@dataclass
class ResultStatus:
    """How the streamed result ended: cut at the row limit, failed, or (neither) complete."""

    overflow: bool = False
    error: str | None = None


class Writer(ABC):
    """One output format: ``write`` yields the document's bytes as the batches arrive."""

    content_type: str
    extension: str

    @abstractmethod
    def write(
        self,
        fields: Sequence[FieldSpec],
        batches: Iterable[RowsOrColumns],
        status: ResultStatus,
        infos: Infos,
    ) -> Iterator[bytes]:
        """The document for ``fields`` and the rows of ``batches``; honours ``status`` at the end.

        ``infos`` become INFO elements (VOTable) or header comments (FITS); a value may be a
        ``(value, content)`` pair for INFOs with text, such as DALI's SERVICE_PROTOCOL.
        """


def encoded_batches(batches: Iterable[RowsOrColumns], status: ResultStatus, encode) -> Iterator:
    """``encode(batch)`` for each batch until the rows end or fail; a failure goes to ``status``."""
    iterator = iter(batches)
    try:
        for batch in iterator:
            if batch:
                yield encode(batch)
    except XphaError as exc:
        status.error = status.error or str(exc)
    except Exception as exc:
        status.error = status.error or f"{type(exc).__name__}: {exc}"
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
