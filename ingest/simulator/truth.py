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


def truth_rows(chunk, class_names, parent_ids, sdss_files: dict, lamost_ids: dict) -> list[list]:
    """One row per source; sdss_* and lamost_id empty when not observed."""
    rows = []
    for i in range(len(chunk)):
        source_id = int(chunk.source_id[i])
        sdss_file = sdss_files.get(source_id, "")
        rows.append([
            source_id,
            repr(round(float(chunk.ew[i]), 6)),
            repr(round(float(chunk.sigma_nm[i]), 4)),
            class_names[chunk.class_index[i]],
            repr(round(float(chunk.g_mag[i]), 5)),
            "" if not np.isfinite(chunk.bp_rp[i]) else repr(round(float(chunk.bp_rp[i]), 5)),
            repr(round(float(chunk.ew_other_epoch[i]), 6)) if sdss_file else "",
            sdss_file,
            lamost_ids.get(source_id, ""),
            int(parent_ids[chunk.parent[i]]),
            repr(float(chunk.ra[i])),
            repr(float(chunk.dec[i])),
        ])  # fmt: skip
    return rows


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
