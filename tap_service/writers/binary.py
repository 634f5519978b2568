"""VOTable BINARY and BINARY2 rows, built a whole batch at a time with numpy.

A row is: [null flags (BINARY2)] then each field big-endian; variable-length fields are a
4-byte element count followed by the elements. The fixed-width runs between variable-length
payloads (flags, scalars, fixed arrays, the count prefixes) are filled as one structured array;
the payloads are scattered into place with computed offsets. No Python loop runs per cell.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from .columns import NUMPY_TYPES, Numbers, Texts, convert
from .fields import FieldSpec

# Base64 STREAM text is emitted in pieces whose byte length is a multiple of 3, so the pieces
# concatenate into one valid base64 text (a newline between pieces is ignorable whitespace).


def encode_rows(fields: Sequence[FieldSpec], rows: Sequence[tuple], binary2: bool) -> bytes:
    """The BINARY(2) encoding of ``rows`` (a list of tuples, one value per field)."""
    if not rows:
        return b""
    columns = list(zip(*rows, strict=True)) if fields else []
    data = [convert(spec, column) for spec, column in zip(fields, columns, strict=True)]
    return _pack(fields, data, len(rows), binary2)


def _pack(fields: Sequence[FieldSpec], data: list, n: int, binary2: bool) -> bytes:
    segments: list[list[tuple[str, np.dtype, np.ndarray]]] = [[]]
    payloads: list[tuple[np.ndarray, np.ndarray]] = []  # (bytes as uint8, byte length per row)
    if binary2:
        nulls = np.column_stack([d.null for d in data])
        flags = np.packbits(nulls, axis=1)
        segments[0].append(("flags", np.dtype(("u1", flags.shape[1])), flags))
    for i, (spec, column) in enumerate(zip(fields, data, strict=True)):
        name = f"f{i}"
        fixed, payload = _field_bytes(spec, column)
        if fixed is not None:
            segments[-1].append((name, fixed.dtype if fixed.ndim == 1 else
                                 np.dtype((fixed.dtype, fixed.shape[1:])), fixed))
        if payload is not None:
            segments.append([])
            payloads.append(payload)
    blocks = [_structured(segment, n) for segment in segments]
    if not payloads:
        return blocks[0].tobytes()
    return _interleave(blocks, payloads, n)


def _field_bytes(spec: FieldSpec, column: Numbers | Texts):
    """(fixed part, variable payload) of one field; the count prefix is in the fixed part."""
    if isinstance(column, Texts):
        unicode = spec.datatype == "unicodeChar"
        encoded = _encode_texts(column.values, unicode)
        count = spec.fixed_count
        if count is not None:
            width = count * (2 if unicode else 1)
            return np.array(encoded, dtype=f"S{width}"), None
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        prefix = (lengths // 2 if unicode else lengths).astype(">i4")
        payload = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return prefix, (payload, lengths)
    values = column.values
    if spec.datatype != "boolean":
        values = values.astype(NUMPY_TYPES[spec.datatype], copy=False)
    if column.lengths is None:
        return values, None
    itemsize = values.dtype.itemsize
    return column.lengths.astype(">i4"), (values.view(np.uint8), column.lengths * itemsize)


def _encode_texts(values: list[str], unicode: bool) -> list[bytes]:
    if unicode:
        return [v.encode("utf-16-be", "surrogatepass") for v in values]
    # char is ASCII for VOTable readers (astropy refuses anything else): replace the rest.
    return [v.encode("ascii", "replace") for v in values]


def _structured(segment: list[tuple[str, np.dtype, np.ndarray]], n: int) -> np.ndarray:
    dtype = np.dtype([(name, dt) for name, dt, _ in segment])
    block = np.empty(n, dtype=dtype)
    for name, _, values in segment:
        block[name] = values
    return block


def _interleave(blocks: list[np.ndarray], payloads: list, n: int) -> bytes:
    """Rows of alternating fixed blocks and variable payloads, laid out in one buffer."""
    widths = [b.dtype.itemsize for b in blocks]
    row_size = np.full(n, sum(widths), dtype=np.int64)
    for _, lengths in payloads:
        row_size += lengths
    out = np.empty(int(row_size.sum()), dtype=np.uint8)
    position = np.cumsum(row_size) - row_size
    for block, width, payload in zip(blocks, widths, [*payloads, None], strict=True):
        if width:
            out[position[:, None] + np.arange(width)] = block.view(np.uint8).reshape(n, width)
            position += width
        if payload is not None:
            data, lengths = payload
            starts = np.cumsum(lengths) - lengths
            out[np.repeat(position - starts, lengths) + np.arange(data.size)] = data
            position += lengths
    return out.tobytes()


def base64_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Base64 text of the concatenated ``chunks``, one line per chunk, as the chunks come."""
    carry = b""
    for chunk in chunks:
        data = carry + chunk if carry else chunk
        cut = len(data) - len(data) % 3
        carry = data[cut:]
        if cut:
            yield base64.b64encode(memoryview(data)[:cut]) + b"\n"
    if carry:
        yield base64.b64encode(carry) + b"\n"
