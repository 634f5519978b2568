"""LAMOST H-alpha emission-line catalogues (CSV, FITS, or VizieR) into ``labels.lamost_els``.

A catalogue is described by a :class:`CatalogueLayout`: which columns hold the designation,
J2000 position, object class, line-profile class and (for catalogues that list non-emitters
too) the binary H-alpha verdict. Known layouts (Hou et al. 2016, Liu et al. 2019) are chosen
from the file's columns; others can be named explicitly. Every other column is kept in
``extra``. HII regions and nebulae are kept, marked ``is_stellar = false``, and never become
positives. Positions are taken as epoch J2000.0: LAMOST catalogue coordinates are the input
catalogue positions (mostly UCAC/2MASS-based, epoch ~2000), an assumption the crossmatch uses
when it carries Gaia positions back with proper motions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.labels_queries import LAMOST_COLUMNS, LAMOST_STAGE, LAMOST_UPSERT
from sql.database import connect, one_row
from sql.errors import XphaError

NEBULAR = re.compile(r"h\s*ii|nebul|planetary|\bpn\b|galaxy|sky", re.IGNORECASE)
LAMOST_EPOCH = 2000.0


class CatalogueError(XphaError):
    """A catalogue file whose columns or values cannot be used."""


@dataclass(frozen=True)
class CatalogueLayout:
    """Where a catalogue keeps the facts we use (column names, first found wins)."""

    name: str
    id_columns: tuple[str, ...]
    ra_columns: tuple[str, ...]
    dec_columns: tuple[str, ...]
    class_columns: tuple[str, ...] = ()
    profile_columns: tuple[str, ...] = ()
    emitter_columns: tuple[str, ...] = ()  # 1/0 H-alpha verdict; absent: every row is an emitter
    default_class: str | None = None


LAYOUTS = {
    "hou2016": CatalogueLayout(
        "hou2016",
        ("ID", "Name", "Designation", "LAMOST"),
        ("RAJ2000", "_RAJ2000", "RA"),
        ("DEJ2000", "_DEJ2000", "DE", "Dec"),
        ("objtype_Hou", "Type", "Class"),
        ("Halpha_type", "Ha-type", "Profile"),
    ),
    "liu2019": CatalogueLayout(
        "liu2019",
        ("col1", "ID", "Name", "Designation"),
        ("_RAJ2000_1", "RAJ2000", "_RAJ2000", "RA"),
        ("_DEJ2000_1", "DEJ2000", "_DEJ2000", "Dec"),
        emitter_columns=("H_alfa", "Halpha", "Ha_em"),
        default_class="OB",
    ),
}


def guess_layout(columns: Iterable[str], file_name: str = "") -> CatalogueLayout:
    """The known layout matching a file's name or columns."""
    cols = set(columns)
    lowered = file_name.lower()
    for key, layout in LAYOUTS.items():
        if key in lowered:
            return layout
    if "objtype_Hou" in cols:
        return LAYOUTS["hou2016"]
    if cols & {"H_alfa", "Halpha"}:
        return LAYOUTS["liu2019"]
    raise CatalogueError(
        f"{file_name or 'catalogue'}: unknown layout (columns {sorted(cols)[:12]}...); "
        f"name one of {sorted(LAYOUTS)} with --layout"
    )


def _pick(row: dict[str, object], names: tuple[str, ...]) -> object | None:
    for name in names:
        if name in row:
            value = row[name]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return None
            if isinstance(value, str) and not value.strip():
                return None
            return value
    return None


def _jsonable(value: object) -> object:
    if hasattr(value, "item"):
        value = value.item()  # numpy scalar
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace").strip()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def entry_row(
    raw: dict[str, object], layout: CatalogueLayout, catalogue: str, file_name: str, line: int
) -> dict[str, object]:
    """One catalogue row as a labels.lamost_els row; raises CatalogueError naming the line."""
    row = {k: _jsonable(v) for k, v in raw.items()}
    ra, dec = _pick(row, layout.ra_columns), _pick(row, layout.dec_columns)
    try:
        # a cell is any value; what float() refuses is the error below
        ra_f, dec_f = float(ra), float(dec)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise CatalogueError(
            f"{file_name}: row {line} has no usable RA/Dec ({ra!r}, {dec!r})"
        ) from exc
    if not (0.0 <= ra_f < 360.0 and -90.0 <= dec_f <= 90.0):
        raise CatalogueError(f"{file_name}: row {line} RA/Dec out of range ({ra_f}, {dec_f})")
    entry = _pick(row, layout.id_columns)
    entry_id = str(entry).strip() if entry is not None else f"row{line}"
    if isinstance(entry, float) and entry.is_integer():
        entry_id = str(int(entry))
    obj_class = _pick(row, layout.class_columns)
    obj_class = str(obj_class).strip() if obj_class is not None else layout.default_class
    profile = _pick(row, layout.profile_columns)
    verdict = _pick(row, layout.emitter_columns)
    if layout.emitter_columns:
        try:
            # a cell is any value; what float() refuses is the error below
            is_emitter = bool(round(float(verdict))) if verdict is not None else None  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise CatalogueError(
                f"{file_name}: row {line} H-alpha verdict {verdict!r} is not 0/1"
            ) from exc
    else:
        is_emitter = True
    is_stellar = not (obj_class and NEBULAR.search(obj_class))
    label = None
    if is_stellar and is_emitter is not None:
        label = "positive" if is_emitter else "negative"
    used = set(
        layout.id_columns
        + layout.ra_columns
        + layout.dec_columns
        + layout.class_columns
        + layout.profile_columns
        + layout.emitter_columns
    )
    extra = {k: v for k, v in row.items() if k not in used and v is not None and v != ""}
    return {
        "catalogue": catalogue,
        "entry_id": entry_id,
        "ra": ra_f,
        "dec": dec_f,
        "epoch": LAMOST_EPOCH,
        "obj_class": obj_class,
        "halpha_type": str(profile).strip() if profile is not None else None,
        "is_stellar": is_stellar,
        "is_emitter": is_emitter,
        "label": label,
        "file_name": file_name,
        "extra": json.dumps(extra, default=str),
    }


# --- readers: stream rows as dicts ------------------------------------------------------------
def read_csv_rows(path: Path, chunk_rows: int = 5000) -> tuple[list[str], Iterator[dict]]:
    import pandas as pd

    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: not a readable CSV ({exc})") from exc

    def rows() -> Iterator[dict]:
        for chunk in pd.read_csv(path, chunksize=chunk_rows, dtype={c: object for c in ("ID",)}):
            yield from chunk.to_dict("records")

    return header, rows()


def read_fits_rows(path: Path, chunk_rows: int = 5000) -> tuple[list[str], Iterator[dict]]:
    from astropy.io import fits

    try:
        hdul = fits.open(path, memmap=True)
        table = next(h for h in hdul if isinstance(h, fits.BinTableHDU | fits.TableHDU))
    except (OSError, StopIteration) as exc:
        raise CatalogueError(f"{path}: no FITS table to read ({exc})") from exc
    names = list(table.columns.names)

    def rows() -> Iterator[dict]:
        with hdul:
            data = table.data
            for start in range(0, len(data), chunk_rows):
                chunk = data[start : start + chunk_rows]
                for rec in chunk:
                    yield {n: rec[n] for n in names}

    return names, rows()


def table_rows(table) -> tuple[list[str], Iterator[dict]]:
    """Rows of an astropy Table (VizieR results), masked values as None."""
    names = list(table.colnames)

    def rows() -> Iterator[dict]:
        for rec in table:
            yield {n: (None if getattr(rec[n], "mask", False) is True else rec[n]) for n in names}

    return names, rows()


# --- loading -----------------------------------------------------------------------------------
def load_rows(
    names: list[str],
    rows: Iterable[dict],
    catalogue: str,
    file_name: str,
    layout: CatalogueLayout | None = None,
    url: str | None = None,
    chunk_rows: int = 5000,
) -> tuple[int, int]:
    """Validate and upsert catalogue rows in chunks; returns (rows read, distinct entries)."""
    layout = layout or guess_layout(names, file_name)
    read = 0
    with connect(url) as conn, conn.transaction():
        conn.execute(LAMOST_STAGE)
        chunk: list[dict[str, object]] = []
        for raw in rows:
            read += 1
            chunk.append(entry_row(raw, layout, catalogue, file_name, read))
            if len(chunk) >= chunk_rows:
                _write(conn, chunk)
                chunk = []
        if chunk:
            _write(conn, chunk)
        distinct = one_row(
            conn.execute(
                "SELECT count(*) FROM labels.lamost_els WHERE catalogue = %s", (catalogue,)
            )
        )[0]
    return read, int(distinct)


def _write(conn, chunk: list[dict[str, object]]) -> None:
    with conn.cursor().copy(f"COPY lamost_stage ({', '.join(LAMOST_COLUMNS)}) FROM STDIN") as cp:
        for row in chunk:
            cp.write_row([row[c] for c in LAMOST_COLUMNS])
    conn.execute(LAMOST_UPSERT)
    conn.execute("DELETE FROM lamost_stage")


def catalogue_name(path: Path) -> str:
    """A short catalogue name from the file name (hou2016, liu2019, or the stem)."""
    lowered = path.stem.lower()
    for key in LAYOUTS:
        if key in lowered:
            return key
    return re.sub(r"[^a-z0-9]+", "_", lowered).strip("_")


def load_file(
    path: Path | str,
    catalogue: str | None = None,
    layout_name: str | None = None,
    url: str | None = None,
    chunk_rows: int = 5000,
) -> tuple[str, int, int]:
    """Load a CSV or FITS catalogue file; returns (catalogue, rows read, distinct entries)."""
    path = Path(path)
    if not path.exists():
        raise CatalogueError(f"no such catalogue file: {path}")
    if layout_name and layout_name not in LAYOUTS:
        raise CatalogueError(f"unknown layout {layout_name!r}; known: {sorted(LAYOUTS)}")
    reader = read_fits_rows if path.suffix.lower() in (".fits", ".fit", ".fz") else read_csv_rows
    names, rows = reader(path, chunk_rows)
    name = catalogue or catalogue_name(path)
    layout = LAYOUTS[layout_name] if layout_name else guess_layout(names, path.name)
    read, distinct = load_rows(names, rows, name, str(path), layout, url, chunk_rows)
    return name, read, distinct


def fetch_vizier(catalog: str, row_limit: int = -1):
    """The first table of a VizieR catalogue (e.g. J/ApJS/241/32), all columns, J2000 positions."""
    from astroquery.vizier import Vizier

    vizier = Vizier(columns=["**", "_RAJ2000", "_DEJ2000"], row_limit=row_limit)
    tables = vizier.get_catalogs(catalog)
    if len(tables) == 0:
        raise CatalogueError(f"VizieR returned no table for catalogue {catalog!r}")
    return tables[0]
