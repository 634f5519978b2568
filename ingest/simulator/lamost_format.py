"""A LAMOST-like emission-line catalogue (Hou et al. 2016 columns) for simulated stars.

Real catalogues carry positions at J2000 (no Gaia ids), a line-profile type and an object type;
their H II-region entries are nebular emission at the position of a star that is not itself an
emitter — the trap a labeller must avoid. Positions are propagated from Gaia's 2016.0 back to
2000.0 with the simulated proper motions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ingest.simulator.sky import propagate

COLUMNS = ("ID", "RAJ2000", "DEJ2000", "Halpha_type", "objtype_Hou", "objtype_SIMBAD")
OBJECT_TYPE = {"be": "CBe", "ttauri": "HAeBe", "dme": "unknown"}
PROFILE_TYPES = np.array(["I", "II", "III", "IV", "VI"])
PROFILE_WEIGHTS = np.array([0.03, 0.76, 0.02, 0.07, 0.12])
HII_REGION = "HII-region"
HII_SHARE = 0.3  # of catalogue entries, as in Hou+2016 (310 of 1034)


def iau_name(ra: float, dec: float) -> str:
    """'Jhhmmss.ss+ddmmss.s' as in the real catalogue."""
    hours = ra / 15.0
    h, rem = divmod(hours * 3600.0, 3600.0)
    m, s = divmod(rem, 60.0)
    sign = "+" if dec >= 0 else "-"
    d, rem = divmod(abs(dec) * 3600.0, 3600.0)
    dm, ds = divmod(rem, 60.0)
    return f"J{int(h):02d}{int(m):02d}{s:05.2f}{sign}{int(d):02d}{int(dm):02d}{ds:04.1f}"


def catalogue_rows(rng, ra, dec, pmra, pmdec, class_names) -> list[tuple[int, tuple]]:
    """(star index, row) for the LAMOST subset: every emitter with its type, plus H II-region
    entries on line-free stars of the subset, HII_SHARE of the catalogue as in Hou+2016."""
    ra2000, dec2000 = propagate(ra, dec, pmra, pmdec, -16.0)
    names = np.asarray(class_names, dtype=object)
    emitters = np.flatnonzero(np.isin(names, list(OBJECT_TYPE)))
    quiet = np.flatnonzero(~np.isin(names, list(OBJECT_TYPE)))
    n_hii = min(quiet.size, round(emitters.size * HII_SHARE / (1.0 - HII_SHARE)))
    nebular = set(rng.choice(quiet, size=n_hii, replace=False).tolist()) if n_hii else set()
    profiles = rng.choice(PROFILE_TYPES, size=len(names), p=PROFILE_WEIGHTS)
    rows = []
    for i in range(len(names)):
        if i in nebular:
            kind, profile = HII_REGION, "VI"
        elif names[i] in OBJECT_TYPE:
            kind, profile = OBJECT_TYPE[names[i]], str(profiles[i])
        else:
            continue
        row = (iau_name(ra2000[i], dec2000[i]), round(float(ra2000[i]), 7),
               round(float(dec2000[i]), 7), profile, kind, "")  # fmt: skip
        rows.append((i, row))
    return rows


def write_catalogue(path: Path, rows: list[tuple]) -> Path:
    with open(path, "w", encoding="ascii", newline="\n") as out:
        out.write(",".join(COLUMNS) + "\n")
        out.writelines(",".join(str(v) for v in row) + "\n" for row in rows)
    return path
