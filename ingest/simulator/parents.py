"""Which real parents a simulated sky may copy: all, a chosen list, or all but a list.

Lists are files of Gaia source_ids, one per line (blank lines and '#' comments allowed), so that
a set of stars can be withheld from a sky (and from everything trained on it) and used later as
never-seen parents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sql.errors import XphaError


def read_source_ids(path: Path | str, what: str) -> np.ndarray:
    """Sorted unique source_ids of a list file; a bad line is an error naming file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise XphaError(f"{what} {path}: cannot read it ({reason})") from None
    ids = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not text.isdigit() or int(text) >= 2**63:
            raise XphaError(f"{what} {path}, line {number}: {text[:40]!r} is not a source_id")
        ids.append(int(text))
    if not ids:
        raise XphaError(f"{what} {path} lists no source_id")
    return np.array(sorted(set(ids)), np.int64)


def allowed_rows(
    library_ids: np.ndarray, parents: tuple[int, ...], exclude: tuple[int, ...]
) -> np.ndarray:
    """Library rows a sky may copy: never a line star (:func:`continua.line_stars`), only
    ``parents`` when given (they must all be library stars), none of ``exclude`` (which may
    name any star: one that is no parent simply changes nothing)."""
    from ingest.simulator.continua import line_stars

    keep = ~np.isin(library_ids, line_stars())
    if parents:
        wanted = np.asarray(parents, np.int64)
        unknown = np.setdiff1d(wanted, library_ids)
        if unknown.size:
            raise XphaError(
                f"--parents: {unknown.size} source_id(s) are not among the simulator's "
                f"{len(library_ids)} real parents (first: {int(unknown[0])})"
            )
        keep &= np.isin(library_ids, wanted)
    if exclude:
        keep &= ~np.isin(library_ids, np.asarray(exclude, np.int64))
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise XphaError(
            "--parents / --exclude-parents leave no real parent to copy (stars shipped for their"
            " lines are never copied)"
        )
    return rows
