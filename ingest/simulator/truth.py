"""The truth table: what was injected into every simulated source, and loading it into SQL."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

TRUTH_COLUMNS = (
    "source_id", "ew_halpha_true", "line_sigma_nm", "emitter_class", "phot_g_mean_mag", "bp_rp",
    "sdss_ew", "sdss_spec", "lamost_id", "parent_source_id", "ra", "dec",
)  # fmt: skip
TRUTH_FILE = "truth.csv"


def write_rows(handle, columns: dict[str, np.ndarray]) -> None:
    """Append rows (no header) with pyarrow's C++ CSV writer: the Python csv module would cost
    more than simulating the sources. Values hold no commas or quotes, so none are quoted."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    table = pa.table({name: pa.array(values, from_pandas=True) for name, values in columns.items()})
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    pa_csv.write_csv(table, handle, options)


def _blank_as_none(values: np.ndarray) -> np.ndarray:
    """Strings with None (NULL in the truth table) where empty."""
    out = values.astype(object)
    out[values == ""] = None
    return out


def truth_frame(chunk, class_names, parent_ids, sdss_files: dict, lamost_ids: dict) -> dict:
    """One row per source (columns in TRUTH_COLUMNS order); sdss_*, lamost_id and a missing
    bp_rp are null when not observed / not measurable."""

    ids = chunk.source_id
    sdss = (
        np.array([sdss_files.get(int(i), "") for i in ids]) if sdss_files else np.full(len(ids), "")
    )
    lamost = (
        np.array([lamost_ids.get(int(i), "") for i in ids]) if lamost_ids else np.full(len(ids), "")
    )
    return {
        "source_id": ids,
        "ew_halpha_true": np.round(chunk.ew, 6),
        "line_sigma_nm": np.round(chunk.sigma_nm, 4),
        "emitter_class": np.asarray(class_names)[chunk.class_index],
        "phot_g_mean_mag": np.round(chunk.g_mag, 5),
        "bp_rp": np.round(chunk.bp_rp, 5),
        "sdss_ew": np.where(sdss != "", np.round(chunk.ew_other_epoch, 6), np.nan),
        "sdss_spec": _blank_as_none(sdss),
        "lamost_id": _blank_as_none(lamost),
        "parent_source_id": parent_ids[chunk.parent],
        "ra": chunk.ra,
        "dec": chunk.dec,
    }  # fmt: skip


def load_truth(path: Path, seed: int, url: str | None = None) -> int:
    """COPY a truth CSV into labels.simulation_truth (rows of the same source_id replaced)."""
    from sql.database import transaction
    from sql.errors import XphaError

    if not path.exists():
        raise XphaError(f"no truth table at {path}: run `xpha simulate --out DIR` first")
    with open(path, newline="", encoding="ascii") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if tuple(header) != TRUTH_COLUMNS:
            raise XphaError(f"{path} is not an xpha truth table (columns {header[:4]}...)")
        rows = [[value if value != "" else None for value in row] for row in reader]
    columns = ", ".join(("seed", *TRUTH_COLUMNS))
    with transaction(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE truth_stage (LIKE labels.simulation_truth) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY truth_stage ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([seed, *row])
        cursor.execute(
            f"INSERT INTO labels.simulation_truth ({columns}) SELECT {columns} FROM truth_stage "
            "ON CONFLICT (source_id) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in ("seed", *TRUTH_COLUMNS[1:]))
        )
    return len(rows)
