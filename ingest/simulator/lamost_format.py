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
    """(star index, row) for the chosen stars: emitters get their type; some non-emitters
    become H II regions; the rest are not in the catalogue."""
    ra2000, dec2000 = propagate(ra, dec, pmra, pmdec, -16.0)
    rows = []
    for i, name in enumerate(class_names):
        if name in OBJECT_TYPE:
            kind = OBJECT_TYPE[name]
            profile = str(rng.choice(PROFILE_TYPES, p=PROFILE_WEIGHTS))
        elif rng.random() < HII_SHARE:
            kind, profile = HII_REGION, "VI"
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
