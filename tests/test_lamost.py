"""LAMOST catalogue ingest on the real Hou 2016 and Liu 2019 files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import psycopg
import pytest

from ingest.lamost import CatalogueError, load_file

LAMOST = "lamost_emission_bestars"


def test_hou2016_classes_profiles_and_nebular_entries(db_url: str, real_data: Path) -> None:
    path = real_data / LAMOST / "Hou2016_VPHAS-SDSS-IPHAS-2MASS.csv"
    name, read, distinct = load_file(path, url=db_url)
    source = pd.read_csv(path).drop_duplicates("ID")
    assert (name, read, distinct) == ("hou2016", 1034, len(source))
    with psycopg.connect(db_url) as conn:
        counts = dict(
            conn.execute(
                "SELECT obj_class || ':' || coalesce(label, 'none') || ':' || is_stellar, count(*)"
                " FROM labels.lamost_els GROUP BY 1"
            ).fetchall()
        )
        row = conn.execute(
            "SELECT ra, dec, epoch, halpha_type, extra->>'Hamag' FROM labels.lamost_els"
            " WHERE entry_id = 'J063416.35+023030.2'"
        ).fetchone()
    expected = source["objtype_Hou"].value_counts()
    assert counts["HII-region:none:false"] == expected["HII-region"]  # never stellar positives
    assert counts["CBe:positive:true"] == expected["CBe"]
    assert counts["HAeBe:positive:true"] == expected["HAeBe"]
    assert row == (98.568135, 2.5083942, 2000.0, "I", "13.33")
    # loading again changes nothing
    assert load_file(path, url=db_url)[2] == distinct


def test_liu2019_binary_labels(db_url: str, real_data: Path) -> None:
    path = real_data / LAMOST / "Liu2019_labelled_Liu_Etiq.csv"
    load_file(path, url=db_url)
    source = pd.read_csv(path)
    with psycopg.connect(db_url) as conn:
        counts = dict(
            conn.execute(
                "SELECT label, count(*) FROM labels.lamost_els WHERE catalogue = 'liu2019'"
                " GROUP BY 1"
            ).fetchall()
        )
    assert counts == {
        "positive": int((source["H_alfa"] == 1).sum()),
        "negative": int((source["H_alfa"] == 0).sum()),
    }


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("ID,RAJ2000,DEJ2000,objtype_Hou\nJ1,abc,1.0,CBe\n", "row 1 has no usable RA/Dec"),
        (
            "ID,RAJ2000,DEJ2000,objtype_Hou\nJ1,1.0,1.0,CBe\nJ2,400,1.0,CBe\n",
            "row 2 RA/Dec out of range",
        ),
        ("a,b\n1,2\n", "unknown layout"),
        ("col1,RAJ2000,DEJ2000,Halpha\n1,10,10,maybe\n", "verdict 'maybe' is not 0/1"),
    ],
)
def test_bad_catalogues_name_the_problem(
    db_url: str, tmp_path: Path, content: str, error: str
) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text(content)
    with pytest.raises(CatalogueError, match=error):
        load_file(path, url=db_url)


def test_fits_catalogue(db_url: str, real_data: Path, tmp_path: Path) -> None:
    from astropy.table import Table

    table = Table.from_pandas(
        pd.read_csv(real_data / LAMOST / "Hou2016_VPHAS-SDSS-IPHAS-2MASS.csv")
    )
    table.write(tmp_path / "hou2016.fits")
    name, read, distinct = load_file(tmp_path / "hou2016.fits", url=db_url)
    assert (name, read) == ("hou2016", 1034) and distinct == 979
