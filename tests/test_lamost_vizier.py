"""`xpha labels vizier`: astroquery.vizier end to end, offline.

Only astroquery's network call (VizierClass._request) is replaced: it answers with a VOTable
document made from the real Hou et al. 2016 rows (as VizieR would send them, with the computed
_RAJ2000/_DEJ2000 columns), which astroquery's own VOTable parser then reads.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import psycopg

from ingest.lamost import LAYOUTS, fetch_vizier, load_rows, table_rows


class VotableResponse:
    def __init__(self, content: bytes) -> None:
        self.content = content
        self.text = content.decode()

    def raise_for_status(self) -> None:
        return None


def _votable_of(frame: pd.DataFrame) -> bytes:
    from astropy.io.votable import from_table
    from astropy.table import Table

    table = Table.from_pandas(frame.rename(columns={"RAJ2000": "_RAJ2000", "DEJ2000": "_DEJ2000"}))
    document = from_table(table)
    document.resources[0].tables[0].ID = "J_RAA_16_138_table1"
    document.resources[0].tables[0].name = "J/RAA/16/138/table1"
    out = io.BytesIO()
    document.to_xml(out)
    return out.getvalue()


def test_vizier_catalogue_is_fetched_and_loaded(db_url: str, real_data: Path, monkeypatch) -> None:
    from astroquery.vizier.core import VizierClass

    frame = pd.read_csv(
        real_data / "lamost_emission_bestars" / "Hou2016_VPHAS-SDSS-IPHAS-2MASS.csv"
    )
    frame = frame[["ID", "RAJ2000", "DEJ2000", "Halpha_type", "objtype_Hou", "Hamag"]].head(200)
    payloads = []

    def _request(self, method, url, **kwargs):
        payloads.append((method, url, kwargs.get("data")))
        return VotableResponse(_votable_of(frame))

    monkeypatch.setattr(VizierClass, "_request", _request)
    table = fetch_vizier("J/RAA/16/138")
    assert len(table) == 200
    names, rows = table_rows(table)
    read, distinct = load_rows(
        names, rows, "hou2016", "vizier:J/RAA/16/138", LAYOUTS["hou2016"], url=db_url
    )
    assert read == 200 and distinct == frame.ID.nunique()
    assert "J/RAA/16/138" in str(payloads[0][2])
    with psycopg.connect(db_url) as conn:
        nebular = conn.execute(
            "SELECT count(*) FROM labels.lamost_els WHERE NOT is_stellar AND label IS NULL"
        ).fetchone()[0]
    hii = frame.drop_duplicates("ID").objtype_Hou.eq("HII-region").sum()
    assert nebular == hii > 0
