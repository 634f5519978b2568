"""The binary COPY encoder and the loader's two paths, checked value by value in PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import psycopg
import pytest

from ingest.bulk import ChunkColumn, expand_paths
from ingest.gaia_xp import ingest_xp
from sql.binary_copy import encode_copy

TYPES = {
    "k": "bigint",
    "a": "smallint",
    "b": "integer",
    "c": "real",
    "d": "double precision",
    "e": "boolean",
    "f": "real[]",
    "g": "double precision[]",
}
# (key, smallint, integer, real, double, boolean, real[3], double[2]); None is NULL
ROWS = [
    (1, 0, 0, 0.0, 0.0, False, [0.0, 1.0, 2.0], [0.5, -0.5]),
    (2, -32768, -(2**31), -3.4e38, -1.7e308, True, [1e-45, -0.0, math.inf], [math.pi, -math.e]),
    (9223372036854775807, 32767, 2**31 - 1, 3.4e38, 1.7e308, None, None, [1.0, 2.0]),
    (-9223372036854775808, None, None, None, None, None, None, None),
    (5, 7, None, 1.5, None, True, [math.nan, 1.0, 2.0], None),
    (6, None, 8, None, 2.5, False, None, [math.nan, math.nan]),
]


def columns_of(rows: list[tuple]) -> list[tuple[str, ChunkColumn]]:
    out = []
    for j, pg_type in enumerate(TYPES.values()):
        cells = [row[j] for row in rows]
        null = np.array([cell is None for cell in cells])
        if pg_type.endswith("[]"):
            width = max((len(c) for c in cells if c is not None), default=1)
            values = np.array(
                [c if c is not None else [0.0] * width for c in cells],
                dtype=np.float32 if pg_type == "real[]" else np.float64,
            )
        else:
            dtype = {
                "bigint": np.int64,
                "smallint": np.int16,
                "integer": np.int32,
                "real": np.float32,
                "double precision": np.float64,
                "boolean": bool,
            }[pg_type]
            values = np.array([c if c is not None else 0 for c in cells], dtype=dtype)
        out.append((pg_type, ChunkColumn(values, null)))
    return out


def same(expected: object, actual: object, pg_type: str) -> bool:
    if expected is None or actual is None:
        return expected is actual
    if isinstance(expected, list):
        return all(
            same(e, a, pg_type.removesuffix("[]")) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, float):
        want = float(np.float32(expected)) if pg_type == "real" else expected
        return (math.isnan(want) and math.isnan(actual)) or (
            np.float32(actual) == np.float32(want) if pg_type == "real" else actual == want
        )
    return expected == actual


@pytest.mark.parametrize(
    "order",
    [list(range(len(ROWS))), [5, 3, 1, 0, 4, 2], [3], [0, 2]],
    ids=["all", "shuffled", "all-null row", "two"],
)
def test_encoded_rows_read_back_exactly(order: list[int], db_url: str) -> None:
    rows = [ROWS[i] for i in order]
    payload = encode_copy(columns_of(rows), len(rows))
    names = ", ".join(TYPES)
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "CREATE TEMP TABLE t (" + ", ".join(f"{n} {t}" for n, t in TYPES.items()) + ")"
        )
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY t ({names}) FROM STDIN (FORMAT binary)") as copy,
        ):
            copy.write(payload)
        stored = {r[0]: r for r in conn.execute(f"SELECT {names} FROM t")}
    assert sorted(stored) == sorted(row[0] for row in rows)
    for row in rows:
        for expected, actual, pg_type in zip(row, stored[row[0]], TYPES.values(), strict=True):
            assert same(expected, actual, pg_type), (row[0], pg_type, expected, actual)


def test_overlapping_and_duplicate_rows_take_the_staging_path(
    real_data: Path, tmp_path: Path, db_url: str
) -> None:
    raw = real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW.csv"
    (first,) = ingest_xp([raw], db_url, progress=False)
    # 3 rows, 2 of them already loaded: one chunk mixes old and new ids
    (mixed,) = ingest_xp(
        [real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW_with_missing_BP.csv"], db_url, progress=False
    )
    # a file repeating its own row: loaded once
    lines = (real_data / "gaiaxpy_tests/18Sco-XP-spectra.csv").read_text().splitlines()
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("\n".join([lines[0], lines[1], lines[1]]) + "\n")
    (twice,) = ingest_xp([doubled], db_url, progress=False)
    assert [(r.rows_read, r.rows_loaded) for r in (first, mixed, twice)] == [(2, 2), (3, 1), (2, 1)]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM gaia.xp_continuous").fetchone()[0] == 4


def test_directories_expand_to_sorted_table_files(tmp_path: Path) -> None:
    for name in ("b.fits", "a.csv.gz", "notes.txt", "sub/c.ecsv", "sub/d.vot", "PROVENANCE.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = expand_paths([tmp_path], (".csv.gz", ".fits", ".ecsv", ".vot"))
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.csv.gz",
        "b.fits",
        "sub/c.ecsv",
        "sub/d.vot",
    ]


def test_big_file_hashed_while_loading_is_still_skipped_when_logged(
    real_data: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.bulk

    monkeypatch.setattr(ingest.bulk, "SYNC_CHECKSUM_BYTES", 0)  # every file counts as big
    path = real_data / "xp_spectral_lines/xp_continuous_combined_chunk0.fits"
    (first,) = ingest_xp([path], db_url, chunk_rows=50, progress=False)
    (again,) = ingest_xp([path], db_url, chunk_rows=50, progress=False)
    assert (first.rows_loaded, first.skipped, again.skipped) == (2000, False, True)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM gaia.xp_continuous").fetchone()[0] == 2000
        assert conn.execute("SELECT rows_read, rows_loaded FROM public.ingest_log").fetchall() == [
            (2000, 2000)
        ]


# ids of a second file after XP_CONTINUOUS_RAW (5762406957886626816, 5853498713190525696)
PROBE_CASES = [
    ("range empty", [5762406957886626817, 5853498713190525695], 2),
    ("range holds others", [5762406957886626815, 5853498713190525697], 2),
    ("one exists", [5762406957886626816, 5853498713190525697], 1),
    ("duplicate new", [5853498713190525697, 5853498713190525697], 1),
]


@pytest.mark.parametrize(
    ("ids", "loaded"), [c[1:] for c in PROBE_CASES], ids=[c[0] for c in PROBE_CASES]
)
def test_existing_ids_are_skipped_whatever_the_probe_sees(
    ids: list[int], loaded: int, real_data: Path, tmp_path: Path, db_url: str
) -> None:
    raw = real_data / "gaiaxpy_tests/XP_CONTINUOUS_RAW.csv"
    ingest_xp([raw], db_url, progress=False)
    header, *rows = raw.read_text().splitlines()
    rows = [f"{new}{row[row.index(',') :]}" for new, row in zip(ids, rows, strict=True)]
    second = tmp_path / "second.csv"
    second.write_text("\n".join([header, *rows]) + "\n")
    (result,) = ingest_xp([second], db_url, progress=False)
    assert (result.rows_read, result.rows_loaded) == (2, loaded)
    with psycopg.connect(db_url) as conn:
        stored = {r[0] for r in conn.execute("SELECT source_id FROM gaia.xp_continuous")}
    assert stored == {5762406957886626816, 5853498713190525696} | set(ids)


def test_parser_thread_never_blocks_a_loader_that_stopped() -> None:
    import queue
    import threading

    from ingest.bulk import Chunk, IngestError, _produce

    def chunks():
        for i in range(5):
            yield Chunk(i + 1, 1, {"k": ChunkColumn(np.array([i], dtype=np.int64))})
        raise IngestError("f.csv", "bad value", row=6)

    pending: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    parser = threading.Thread(target=_produce, args=(chunks(), {"k": "bigint"}, pending, stop, "k"))
    parser.start()
    first = pending.get(timeout=5)
    assert first[0].first_row == 1 and first[2].tolist() == [0]
    stop.set()  # the loader failed: it reads nothing more
    parser.join(timeout=5)
    assert not parser.is_alive()


def test_unreadable_file_is_one_clear_error(db_url: str) -> None:
    from ingest.bulk import IngestError, ingest_file
    from ingest.gaia_xp import TARGET

    unreadable = Path("/proc/self/mem")  # a file whose first read fails (EIO), even for root
    with pytest.raises(IngestError, match=r"/proc/self/mem: cannot read the file"):
        ingest_file(unreadable, TARGET, db_url)
