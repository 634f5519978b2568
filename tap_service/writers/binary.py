"""VOTable BINARY and BINARY2 rows, built a whole batch at a time with numpy.

A row is: [null flags (BINARY2)] then each field big-endian; variable-length fields are a
4-byte element count followed by the elements. The fixed-width runs between variable-length
payloads (flags, scalars, fixed arrays, the count prefixes) are filled column by column as
structured arrays; with variable-length fields, each run and payload is cut per row and one
C-level ``bytes.join`` interleaves them. No Python code runs per cell.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain

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
    payloads: list[list[bytes]] = []  # the variable-length part of each row, per field
    if binary2:
        nulls = np.column_stack([d.null for d in data])
        flags = np.packbits(nulls, axis=1)
        segments[0].append(("flags", np.dtype(("u1", flags.shape[1])), flags))
    for i, (spec, column) in enumerate(zip(fields, data, strict=True)):
        fixed, payload = _field_bytes(spec, column)
        dtype = fixed.dtype if fixed.ndim == 1 else np.dtype((fixed.dtype, fixed.shape[1:]))
        segments[-1].append((f"f{i}", dtype, fixed))
        if payload is not None:
            segments.append([])
            payloads.append(payload)
    blocks = [_structured(segment, n) for segment in segments]
    if not payloads:
        return blocks[0].view(np.uint8).data  # the rows as they lie in memory, not copied
    return _interleave(blocks, payloads)


def _field_bytes(spec: FieldSpec, column: Numbers | Texts) -> tuple[np.ndarray, list | None]:
    """(fixed part, variable payload per row) of one field; count prefixes are fixed parts."""
    if isinstance(column, Texts):
        unicode = spec.datatype == "unicodeChar"
        encoded = _encode_texts(column.values, unicode)
        count = spec.fixed_count
        if count is not None:
            return np.array(encoded, dtype=f"S{count * (2 if unicode else 1)}"), None
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        return (lengths // 2 if unicode else lengths).astype(">i4"), encoded
    values = column.values
    if spec.datatype != "boolean":
        values = values.astype(NUMPY_TYPES[spec.datatype], copy=False)
    if column.lengths is None:
        return values, None
    ends = np.cumsum(column.lengths) * values.dtype.itemsize
    return column.lengths.astype(">i4"), _cut(values.tobytes(), ends)


def _cut(raw: bytes, ends: np.ndarray) -> list[bytes]:
    """``raw`` cut into consecutive pieces ending at ``ends``."""
    bounds = ends.tolist()
    return [raw[a:b] for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]


def _encode_texts(values: list[str], unicode: bool) -> list[bytes]:
    if not unicode:
        # char is ASCII for VOTable readers (astropy refuses anything else): replace the rest.
        return [v.encode("ascii", "replace") for v in values]
    # One codec call for the batch; slice per row when every character is one UTF-16 unit.
    joined = "".join(values).encode("utf-16-be", "surrogatepass")
    ends = np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values))) * 2
    if not len(ends) or ends[-1] != len(joined):
        return [v.encode("utf-16-be", "surrogatepass") for v in values]
    return _cut(joined, ends)


def _structured(segment: list[tuple[str, np.dtype, np.ndarray]], n: int) -> np.ndarray:
    dtype = np.dtype([(name, dt) for name, dt, _ in segment])
    block = np.empty(n, dtype=dtype)
    for name, _, values in segment:
        block[name] = values
    return block


def _interleave(blocks: list[np.ndarray], payloads: list[list[bytes]]) -> bytes:
    """Rows of alternating fixed blocks and variable payloads, joined in one C-level pass."""
    pieces: list[list[bytes]] = []
    for block, payload in zip(blocks, [*payloads, None], strict=True):
        if block.dtype.itemsize:
            pieces.append(block.view(np.dtype(f"V{block.dtype.itemsize}")).tolist())
        if payload is not None:
            pieces.append(payload)
    return b"".join(chain.from_iterable(zip(*pieces, strict=True)))


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
