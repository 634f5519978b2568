"""labels.training_labels: one row per Gaia source, counts consistent with its inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from labels_support import synthetic_spectrum, write_spec_file

from ingest.crossmatch import crossmatch
from ingest.lamost import load_file
from ingest.sdss import measure_files


def test_training_labels_follow_their_evidence(
    db_url: str, real_data: Path, tmp_path: Path
) -> None:
    hou = pd.read_csv(real_data / "lamost_emission_bestars" / "Hou2016_VPHAS-SDSS-IPHAS-2MASS.csv")
    hou = hou.drop_duplicates("ID").reset_index(drop=True)
    rng = np.random.default_rng(11)
    # one Gaia source 0.2 arcsec from each Hou star (no proper motion), plus field stars;
    # the catalogue lists 4 stars twice (repeat LAMOST visits, 0.05-0.15 arcsec apart)
    gaia, star_of = [], {}
    for i, r in hou.iterrows():
        near = [
            g
            for g in gaia
            if abs(g[2] - r.DEJ2000) * 3600 < 0.5
            and abs(g[1] - 0.2 / 3600 - r.RAJ2000) * 3600 < 0.5
        ]
        if near:
            star_of[i] = near[0][0]
        else:
            gaia.append((i + 1, r.RAJ2000 + 0.2 / 3600, r.DEJ2000))
            star_of[i] = i + 1
    field = [(100_000 + k, rng.uniform(0, 360), rng.uniform(-60, 60)) for k in range(200)]
    # SDSS stars: 6 on Hou CBe stars measured as non-emitters (conflicts), 5 emitters and
    # 5 non-emitters on field stars, 2 emitters on a close Gaia pair (ambiguous: no label)
    cbe = hou.index[hou.objtype_Hou == "CBe"][:6]
    spectra = []
    for k, i in enumerate(cbe):
        ra, dec = hou.RAJ2000[i], hou.DEJ2000[i]
        spectra.append(synthetic_spectrum(0.0, 40, rng, fiber=k + 1, ra=ra, dec=dec))
    for k in range(10):
        spectra.append(
            synthetic_spectrum(
                10.0 if k < 5 else 0.0, 40, rng, fiber=100 + k, ra=field[k][1], dec=field[k][2]
            )
        )
    pair = [(900_000, 30.0, 30.0), (900_001, 30.0 + 0.5 / 3600, 30.0)]
    spectra.append(synthetic_spectrum(10.0, 40, rng, fiber=200, ra=30.0, dec=30.0))
    with (
        psycopg.connect(db_url) as conn,
        conn.cursor().copy("COPY gaia.source (source_id, ra, dec) FROM STDIN") as cp,
    ):
        for row in gaia + field + pair:
            cp.write_row(row)
    for s in spectra:
        write_spec_file(s, tmp_path)
    measure_files([tmp_path], db_url, progress=False)
    load_file(
        real_data / "lamost_emission_bestars" / "Hou2016_VPHAS-SDSS-IPHAS-2MASS.csv", url=db_url
    )
    assert crossmatch("sdss", 1.0, db_url).matched == len(spectra)
    assert crossmatch("lamost", 1.0, db_url).matched == len(hou)

    with psycopg.connect(db_url) as conn:
        view = pd.DataFrame(
            conn.execute(
                "SELECT source_id, label, is_emitter, ew_halpha, evidence, conflict, nebular"
                " FROM labels.training_labels"
            ).fetchall(),
            columns=["source_id", "label", "is_emitter", "ew", "evidence", "conflict", "nebular"],
        )
    assert len(view) == len(gaia) + len(field) + len(pair)  # one row per gaia.source row
    assert view.source_id.is_unique
    counts = view.label.value_counts().to_dict()
    stellar = len({star_of[i] for i in hou.index[hou.objtype_Hou != "HII-region"]})
    assert stellar == int((hou.objtype_Hou != "HII-region").sum()) - 4
    assert counts["positive"] == stellar + 5
    assert counts["negative"] == 5
    assert counts["unlabelled"] == len(view) - stellar - 10
    assert int(view.conflict.sum()) == 6
    assert (view.is_emitter == (view.label == "positive"))[view.label != "unlabelled"].all()
    assert view.is_emitter[view.label == "unlabelled"].isna().all()
    nebular = view[view.nebular]
    assert len(nebular) == len({star_of[i] for i in hou.index[hou.objtype_Hou == "HII-region"]})
    assert (nebular.label == "unlabelled").all()
    assert nebular.evidence.str.contains("nebular, not stellar").all()
    conflict = view[view.conflict].iloc[0]
    assert "sdss:" in conflict.evidence and "lamost:hou2016 CBe" in conflict.evidence
    assert conflict.label == "positive" and abs(conflict.ew) < 1.0
    # the evidence-only view holds exactly the sources with evidence, with the same labels
    with psycopg.connect(db_url) as conn:
        evidence = dict(
            conn.execute("SELECT source_id, label FROM labels.source_evidence").fetchall()
        )
    with_evidence = view[view.evidence.notna()]
    assert evidence == dict(zip(with_evidence.source_id, with_evidence.label, strict=True))
    # the ambiguous pair: matched but not used as evidence
    assert (view[view.source_id.isin([900_000, 900_001])].label == "unlabelled").all()
