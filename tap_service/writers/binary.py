"""VOTable BINARY and BINARY2 rows, built a whole batch at a time with numpy.

A row is: [null flags (BINARY2)] then each field big-endian; variable-length fields are a
4-byte element count followed by the elements. The fixed-width runs between variable-length
payloads (flags, scalars, fixed arrays, the count prefixes) are filled column by column as
structured arrays; a variable-length payload as long in every row of a batch joins them as one
more fixed-width part, others are scattered between the runs with numpy index arithmetic.
Strings arrive as UTF-8 bytes with offsets (binary COPY) and ASCII ones are used as they are.
No Python code runs per cell.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .columns import NUMPY_TYPES, ColumnBatch, Numbers, Texts, batch_columns
from .fields import FieldSpec


def encode_rows(
    fields: Sequence[FieldSpec], rows: ColumnBatch | Sequence[tuple], binary2: bool
) -> bytes | memoryview:
    """The BINARY(2) encoding of ``rows`` (tuples, one value per field, or a ColumnBatch)."""
    if not len(rows):
        return b""
    return _pack(fields, batch_columns(fields, rows), len(rows), binary2)


def _pack(fields: Sequence[FieldSpec], data: list, n: int, binary2: bool) -> bytes | memoryview:
    segments: list[list[tuple[str, np.dtype, np.ndarray]]] = [[]]
    payloads: list[Payload] = []  # the variable-length part of each row, per field
    if binary2:
        nulls = np.column_stack([d.null for d in data])
        flags = np.packbits(nulls, axis=1)
        segments[0].append(("flags", np.dtype(("u1", flags.shape[1])), flags))
    for i, (spec, column) in enumerate(zip(fields, data, strict=True)):
        fixed, payload = _field_bytes(spec, column)
        dtype = fixed.dtype if fixed.ndim == 1 else np.dtype((fixed.dtype, fixed.shape[1:]))
        segments[-1].append((f"f{i}", dtype, fixed))
        if payload is not None:
            if payload.constant is not None:  # as long in every row: a fixed-width part
                if payload.constant:
                    segments[-1].append(
                        (
                            f"p{i}",
                            np.dtype(("u1", payload.constant)),
                            payload.data.reshape(n, payload.constant),
                        )
                    )
                continue
            segments.append([])
            payloads.append(payload)
    blocks = [_structured(segment, n) for segment in segments]
    if not payloads:
        return blocks[0].view(np.uint8).data  # the rows as they lie in memory, not copied
    return _interleave(blocks, payloads).data


@dataclass
class Payload:
    """The variable-length bytes of one field: every row's, back to back, and their lengths."""

    data: np.ndarray  # uint8
    lengths: np.ndarray  # int64, bytes per row

    @property
    def constant(self) -> int | None:
        """The length every row has, if they all have the same."""
        lengths = self.lengths
        if len(lengths) and np.all(lengths == lengths[0]):
            return int(lengths[0])
        return None


def _field_bytes(spec: FieldSpec, column: Numbers | Texts) -> tuple[np.ndarray, Payload | None]:
    """(fixed part, variable payload) of one field; count prefixes are fixed parts."""
    if isinstance(column, Texts):
        unicode = spec.datatype == "unicodeChar"
        count = spec.fixed_count
        if count is not None:
            encoded = _encode_texts(column.values, unicode)
            return np.array(encoded, dtype=f"S{count * (2 if unicode else 1)}"), None
        payload = _text_payload(column, unicode)
        chars = payload.lengths // 2 if unicode else payload.lengths
        return chars.astype(">i4"), payload
    values = column.values
    if spec.datatype != "boolean":
        values = values.astype(NUMPY_TYPES[spec.datatype], copy=False)
    if column.lengths is None:
        return values, None
    raw = np.ascontiguousarray(values).view(np.uint8).reshape(-1)
    return column.lengths.astype(">i4"), Payload(raw, column.lengths * values.dtype.itemsize)


def _text_payload(column: Texts, unicode: bool) -> Payload:
    """The strings as VOTable wants them: ``char`` ASCII ('?' for anything else, as readers
    refuse it), ``unicodeChar`` UTF-16 big-endian. ASCII bytes are used as they are."""
    if column.is_ascii():
        data, offsets = column.buffers()
        lengths = np.diff(offsets)
        if not unicode:
            return Payload(data, lengths)
        wide = np.zeros(2 * len(data), dtype=np.uint8)
        wide[1::2] = data  # ASCII in UTF-16BE: a zero byte before each character
        return Payload(wide, 2 * lengths)
    encoded = _encode_texts(column.values, unicode)
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    return Payload(np.frombuffer(b"".join(encoded), dtype=np.uint8), lengths)


def _encode_texts(values: list[str], unicode: bool) -> list[bytes]:
    if not unicode:
        # char is ASCII for VOTable readers (astropy refuses anything else): replace the rest.
        return [v.encode("ascii", "replace") for v in values]
    return [v.encode("utf-16-be", "surrogatepass") for v in values]


def _structured(segment: list[tuple[str, np.dtype, np.ndarray]], n: int) -> np.ndarray:
    dtype = np.dtype([(name, dt) for name, dt, _ in segment])
    block = np.empty(n, dtype=dtype)
    for name, _, values in segment:
        block[name] = values
    return block


def _interleave(blocks: list[np.ndarray], payloads: list[Payload]) -> np.ndarray:
    """Rows of alternating fixed blocks and variable payloads, scattered into place by numpy
    (each piece's place in the output: its row's start plus what precedes it in the row)."""
    n = len(blocks[0])
    row_lengths = np.full(n, sum(b.dtype.itemsize for b in blocks), dtype=np.int64)
    for each in payloads:
        row_lengths += each.lengths
    out = np.empty(int(row_lengths.sum()), dtype=np.uint8)
    at = np.cumsum(row_lengths) - row_lengths  # where the next piece of each row goes
    for block, payload in zip(blocks, [*payloads, None], strict=True):
        width = block.dtype.itemsize
        if width:
            out[at[:, None] + np.arange(width)] = block.view(np.uint8).reshape(n, width)
            at += width
        if payload is not None:
            if payload.data.size:
                source = np.cumsum(payload.lengths) - payload.lengths
                out[np.repeat(at - source, payload.lengths) + np.arange(payload.data.size)] = (
                    payload.data
                )
            at += payload.lengths
    return out


def base64_stream(chunks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    """Base64 text of the concatenated ``chunks``, one line per chunk, as the chunks come.

    Each piece encodes a multiple of 3 bytes (the rest waits for the next chunk), so the pieces
    concatenate into one valid base64 text; the newlines between them are ignorable whitespace.
    """
    carry = b""
    for chunk in chunks:
        data = memoryview(carry + chunk if carry else chunk).cast("B")
        cut = len(data) - len(data) % 3
        carry = bytes(data[cut:])
        if cut:
            yield binascii.b2a_base64(data[:cut])  # ends in a newline, added in place
    if carry:
        yield binascii.b2a_base64(carry)
