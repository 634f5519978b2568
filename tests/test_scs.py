"""Simple Cone Search at /scs: the right sources, SCS 1.03 UCD1 FIELDs, SCS errors, pyvo."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import pyvo
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import votable
from lxml import etree
from tap_support import FIELD_CENTRE, live_server, seed_field, tap_settings
from xsd_support import ivoa_schema

VOT = "{http://www.ivoa.net/xml/VOTable/v1.3}"


@pytest.fixture(scope="module")
def seeded(module_db_url: str) -> dict:
    return seed_field(module_db_url, 3000)


@pytest.fixture(scope="module")
def scs(module_db_url: str, seeded: dict) -> Iterator[str]:
    settings = tap_settings(module_db_url, scs_max_sr_deg=1.0, scs_maxrec_default=200)
    with live_server(settings) as root:
        yield f"{root}/scs"


def expected_in_cone(seeded: dict, ra: float, dec: float, sr: float) -> set[int]:
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    stars = SkyCoord(seeded["ra"] * u.deg, seeded["dec"] * u.deg)
    inside = centre.separation(stars).deg <= sr
    return {int(s) for s in seeded["source_id"][inside]}


CONES = [  # (RA, DEC, SR): centre, off-centre, tiny, across nothing
    (*FIELD_CENTRE, 0.3),
    (FIELD_CENTRE[0] + 1.0, FIELD_CENTRE[1] - 0.5, 0.4),
    (*FIELD_CENTRE, 0.02),
    (200.0, -30.0, 0.5),
]


@pytest.mark.parametrize(("ra", "dec", "sr"), CONES)
def test_cone_returns_exactly_the_sources_inside(
    scs: str, seeded: dict, ra: float, dec: float, sr: float
) -> None:
    response = httpx.get(scs, params={"RA": ra, "DEC": dec, "SR": sr, "MAXREC": 5000})
    assert response.status_code == 200, response.text
    table = votable.parse_single_table(io.BytesIO(response.content)).to_table()
    assert {int(s) for s in table["source_id"]} == expected_in_cone(seeded, ra, dec, sr)
    assert np.all(np.diff(np.asarray(table["dist"])) >= 0)  # nearest first


@pytest.mark.parametrize(
    ("verb", "columns"),
    [
        ("1", ["source_id", "ra", "dec"]),
        (
            "2",
            [
                "source_id",
                "ra",
                "dec",
                "score",
                "probability",
                "halpha_excess_ew",
                "halpha_excess_snr",
                "phot_g_mean_mag",
                "bp_rp",
                "dist",
            ],
        ),
        (
            "3",
            [
                "source_id",
                "ra",
                "dec",
                "score",
                "probability",
                "halpha_excess_ew",
                "halpha_excess_snr",
                "phot_g_mean_mag",
                "bp_rp",
                "dist",
                "model_id",
                "model_kind",
                "model_version",
            ],
        ),
    ],
)
def test_verbosity_and_ucd1(scs: str, verb: str, columns: list[str]) -> None:
    response = httpx.get(
        scs, params={"ra": FIELD_CENTRE[0], "dec": FIELD_CENTRE[1], "sr": 0.1, "verb": verb}
    )
    table = votable.parse_single_table(io.BytesIO(response.content))
    assert [f.name for f in table.fields] == columns
    ucds = [f.ucd for f in table.fields]
    for ucd in ("ID_MAIN", "POS_EQ_RA_MAIN", "POS_EQ_DEC_MAIN"):
        assert ucds.count(ucd) == 1
    by_ucd = {f.ucd: f for f in table.fields}
    assert by_ucd["ID_MAIN"].datatype == "char"
    assert by_ucd["POS_EQ_RA_MAIN"].datatype == "double"
    assert str(by_ucd["POS_EQ_RA_MAIN"].unit) == "deg"


def test_maxrec_cuts_with_overflow(scs: str) -> None:
    response = httpx.get(scs, params={"RA": FIELD_CENTRE[0], "DEC": FIELD_CENTRE[1], "SR": 1.0})
    root = etree.fromstring(response.content)
    assert len(votable.parse_single_table(io.BytesIO(response.content)).array) == 200
    statuses = [i.get("value") for i in root.iter(f"{VOT}INFO") if i.get("name") == "QUERY_STATUS"]
    assert statuses[-1] == "OVERFLOW"


def test_sr_zero_is_metadata_only(scs: str) -> None:
    response = httpx.get(scs, params={"RA": FIELD_CENTRE[0], "DEC": FIELD_CENTRE[1], "SR": 0})
    table = votable.parse_single_table(io.BytesIO(response.content))
    assert len(table.array) == 0 and len(table.fields) == 10


ERRORS = [
    ({"DEC": 10, "SR": 0.1}, "RA parameter is missing"),
    ({"RA": 400, "DEC": 10, "SR": 0.1}, "RA=400 is outside"),
    ({"RA": 10, "DEC": -91, "SR": 0.1}, "DEC=-91 is outside"),
    ({"RA": 10, "DEC": 10, "SR": -1}, "SR=-1 is outside"),
    ({"RA": 10, "DEC": 10, "SR": 2}, "larger than the maximum search radius of 1 deg"),
    ({"RA": "ten", "DEC": 10, "SR": 0.1}, "RA='ten' is not a number"),
    ({"RA": "nan", "DEC": 10, "SR": 0.1}, "RA=nan is outside"),
    ({"RA": 10, "DEC": 10, "SR": 0.1, "VERB": 4}, "VERB='4' must be 1, 2 or 3"),
    ({"RA": 10, "DEC": 10, "SR": 0.1, "RESPONSEFORMAT": "csv"}, "not a VOTable format"),
]


@pytest.mark.parametrize(("params", "message"), ERRORS)
def test_errors_are_scs_error_votables(scs: str, params: dict, message: str) -> None:
    response = httpx.get(scs, params=params)
    assert response.status_code == 400
    root = etree.fromstring(response.content)
    [error] = [i for i in root.findall(f"{VOT}INFO") if i.get("name") == "Error"]
    assert message in error.get("value")


def test_pyvo_scs_search(scs: str, seeded: dict) -> None:
    service = pyvo.dal.SCSService(scs)
    centre = SkyCoord(*FIELD_CENTRE, unit="deg")
    results = service.search(pos=centre, radius=0.2 * u.deg, verbosity=2)
    expected = expected_in_cone(seeded, *FIELD_CENTRE, 0.2)
    assert {int(r.id) for r in results} == expected
    first = results[0]
    assert first.pos.separation(centre).deg <= 0.2
    with pytest.raises(pyvo.dal.DALQueryError, match="maximum search radius"):
        service.search(pos=centre, radius=3 * u.deg)


def test_scs_capabilities(scs: str) -> None:
    response = httpx.get(f"{scs}/capabilities")
    root = etree.fromstring(response.content)
    [cone] = root.xpath("capability[@standardID='ivo://ivoa.net/std/ConeSearch']")
    assert cone.findtext("maxSR") == "1"
    assert cone.findtext("interface/accessURL") == scs


def test_scs_capabilities_are_schema_valid(scs: str) -> None:
    """ConeSearch-v1.0.xsd is not vendored (taplint does not ship it): the cone capability's
    own elements are checked here, in the schema's order; with them taken out, the rest of the
    document (VOSI, VOResource, VODataService's ParamHTTP) against the vendored schemas."""
    root = etree.fromstring(httpx.get(f"{scs}/capabilities").content)
    [cone] = root.xpath("capability[@standardID='ivo://ivoa.net/std/ConeSearch']")
    xsi_type = "{http://www.w3.org/2001/XMLSchema-instance}type"
    assert cone.get(xsi_type) == "cs:ConeSearch"
    assert cone.nsmap["cs"] == "http://www.ivoa.net/xml/ConeSearch/v1.0"
    own = [child for child in cone if child.tag != "interface"]
    assert [child.tag for child in own] == ["maxSR", "maxRecords", "verbosity", "testQuery"]
    assert float(own[0].text) > 0 and int(own[1].text) > 0 and own[2].text == "true"
    assert [(q.tag, float(q.text)) for q in own[3]] == [("ra", 0), ("dec", 0), ("sr", 0.1)]
    assert cone.xpath("interface/queryType/text()") == ["GET"]
    for child in own:
        cone.remove(child)
    del cone.attrib[xsi_type]
    ivoa_schema().assertValid(root)


def test_post_and_case_insensitive_names(scs: str, seeded: dict) -> None:
    response = httpx.post(
        scs, data={"ra": FIELD_CENTRE[0], "Dec": FIELD_CENTRE[1], "sR": 0.1, "vErB": 1}
    )
    assert response.status_code == 200, response.text
    table = votable.parse_single_table(io.BytesIO(response.content)).to_table()
    assert {int(s) for s in table["source_id"]} == expected_in_cone(seeded, *FIELD_CENTRE, 0.1)
