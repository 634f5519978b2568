"""VOSI and DALI documents of a live server: XSD-valid, consistent with TAP_SCHEMA, useful.

The XSDs are the IVOA schemas taplint itself uses, vendored in tests/data/vosi_xsd
(tests/xsd_support.py).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from astropy.io import votable
from astropy.table import Table
from lxml import etree
from tap_support import live_server, seed_field, tap_settings
from xsd_support import SCHEMAS, XSD_DIR, ivoa_schema

from tap_service.catalog import Catalog, ColumnInfo, ForeignKeyInfo, SchemaInfo, TableInfo
from tap_service.settings import TapSettings

NS = {
    "vosi": "http://www.ivoa.net/xml/VOSICapabilities/v1.0",
    "tr": "http://www.ivoa.net/xml/TAPRegExt/v1.0",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "h": "http://www.w3.org/1999/xhtml",
    "vt": "http://www.ivoa.net/xml/VOSITables/v1.0",
}


def with_nrows(vodataservice_1_1: str) -> str:
    """VODataService 1.2 (same namespace) adds one optional element our tables use: ``nrows``
    after ``utype``. taplint 3.4.7 ships 1.1; add just that element to it."""
    table = vodataservice_1_1.index('<xs:complexType name="Table">')
    column = vodataservice_1_1.index('<xs:element name="column"', table)
    nrows = '<xs:element name="nrows" type="xs:integer" minOccurs="0" maxOccurs="1"/>\n'
    return vodataservice_1_1[:column] + nrows + vodataservice_1_1[column:]


@pytest.fixture(scope="module")
def xml_schema(tmp_path_factory: pytest.TempPathFactory) -> etree.XMLSchema:
    patched = tmp_path_factory.mktemp("vosi_xsd")
    name = SCHEMAS["http://www.ivoa.net/xml/VODataService/v1.1"]
    (patched / name).write_text(
        with_nrows((XSD_DIR / name).read_text(encoding="utf-8")), encoding="utf-8"
    )
    return ivoa_schema(patched)


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[tuple[str, TapSettings]]:
    seed_field(module_db_url, 500)
    settings = tap_settings(module_db_url, tap_maxrec_default=123, tap_hard_limit=4567)
    with live_server(settings) as root:
        yield root, settings


@pytest.fixture(scope="module")
def tap(server: tuple[str, TapSettings]) -> str:
    return f"{server[0]}/tap"


def get_xml(url: str, **params: str) -> etree._Element:
    response = httpx.get(url, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


@pytest.mark.parametrize(
    "path",
    ["capabilities", "availability", "tables", "tables?detail=min", "tables/xpha.xp_continuous"],
)
def test_documents_are_schema_valid(tap: str, xml_schema: etree.XMLSchema, path: str) -> None:
    document = etree.fromstring(httpx.get(f"{tap}/{path}").content)
    assert xml_schema.validate(document), xml_schema.error_log


def test_capabilities_declare_what_the_service_does(tap: str) -> None:
    caps = get_xml(f"{tap}/capabilities")
    [tap_cap] = caps.xpath("capability[@standardID='ivo://ivoa.net/std/TAP']")
    assert tap_cap.get(f"{{{NS['xsi']}}}type") == "tr:TableAccess"
    assert tap_cap.xpath("interface/accessURL")[0].text == tap
    assert tap_cap.xpath("interface/@version") == ["1.1"]
    versions = tap_cap.xpath("language/version/@ivo-id")
    assert "ivo://ivoa.net/std/ADQL#v2.0" in versions
    geo = tap_cap.xpath("language/languageFeatures[contains(@type,'adqlgeo')]/feature/form/text()")
    assert {"POINT", "CIRCLE", "POLYGON", "CONTAINS", "INTERSECTS", "DISTANCE"} <= set(geo)
    mimes = set(tap_cap.xpath("outputFormat/mime/text()"))
    assert {
        "application/x-votable+xml",
        "text/csv",
        "text/tab-separated-values",
        "application/fits",
    } <= mimes
    assert tap_cap.xpath("outputLimit/default/text()") == ["123"]
    assert tap_cap.xpath("outputLimit/hard/text()") == ["4567"]
    assert tap_cap.xpath("uploadMethod/@ivo-id") == [
        "ivo://ivoa.net/std/TAPRegExt#upload-inline",
        "ivo://ivoa.net/std/TAPRegExt#upload-http",
    ]
    assert tap_cap.xpath("executionDuration/default/text()")
    assert not caps.xpath("//securityMethod")
    standards = set(caps.xpath("capability/@standardID"))
    assert {
        "ivo://ivoa.net/std/VOSI#capabilities",
        "ivo://ivoa.net/std/VOSI#availability",
        "ivo://ivoa.net/std/VOSI#tables-1.1",
        "ivo://ivoa.net/std/DALI#examples",
    } <= standards
    for url in caps.xpath("capability/interface/accessURL/text()"):
        assert httpx.get(url).status_code == 200, url


def test_every_declared_output_format_works(tap: str) -> None:
    caps = get_xml(f"{tap}/capabilities")
    for fmt in caps.xpath("//outputFormat"):
        for name in [*fmt.xpath("mime/text()"), *fmt.xpath("alias/text()")]:
            response = httpx.get(
                f"{tap}/sync",
                params={
                    "LANG": "ADQL",
                    "QUERY": "SELECT TOP 2 model_id FROM xpha.models",
                    "RESPONSEFORMAT": name,
                },
            )
            assert response.status_code == 200, (name, response.text)


def test_availability(tap: str) -> None:
    doc = get_xml(f"{tap}/availability")
    assert doc.findtext("{http://www.ivoa.net/xml/VOSIAvailability/v1.0}available") == "true"


def test_tables_agree_with_tap_schema(tap: str) -> None:
    """The two metadata paths TOPCAT uses (/tables, TAP_SCHEMA queries) give the same facts."""
    tableset = get_xml(f"{tap}/tables")
    from_tables = {
        (t.findtext("name"), c.findtext("name")): (
            c.findtext("dataType"),
            c.find("dataType").get("arraysize"),
            c.findtext("unit"),
            c.findtext("ucd"),
        )
        for t in tableset.iter("table")
        for c in t.iter("column")
    }
    response = httpx.get(
        f"{tap}/sync",
        params={
            "LANG": "ADQL",
            "MAXREC": "99999",
            "RESPONSEFORMAT": "votable/td",
            "QUERY": "SELECT table_name, column_name, datatype, arraysize, unit, ucd"
            " FROM tap_schema.columns",
        },
    )
    rows = votable.parse_single_table(io.BytesIO(response.content)).to_table()
    from_query = {
        (r["table_name"], r["column_name"]): (
            r["datatype"],
            _text(r["arraysize"]),
            _text(r["unit"]),
            _text(r["ucd"]),
        )
        for r in rows
    }
    assert from_tables == from_query
    assert ("xpha.xp_continuous", "bp_coefficients") in from_tables
    assert from_tables[("xpha.xp_continuous", "bp_coefficients")][:2] == ("double", "55")


def _text(value: object) -> str | None:
    return None if np.ma.is_masked(value) or value in ("", None) else str(value)


def test_tables_detail_min_and_single_table(tap: str) -> None:
    minimal = get_xml(f"{tap}/tables", detail="min")
    names = minimal.xpath("//table/name/text()")
    assert "xpha.emitter_candidates" in names and "tap_schema.columns" in names
    assert not minimal.xpath("//column")
    one = get_xml(f"{tap}/tables/xpha.emitter_candidates")
    assert one.tag == f"{{{NS['vt']}}}table"
    columns = one.xpath("column/name/text()")
    assert columns[:3] == ["source_id", "ra", "dec"]
    assert one.xpath("foreignKey/targetTable/text()") == ["xpha.models"]


def test_unknown_table_is_404_votable(tap: str) -> None:
    response = httpx.get(f"{tap}/tables/xpha.nothing")
    assert response.status_code == 404
    assert b'value="ERROR"' in response.content


def test_examples_are_xhtml_rdfa_and_run(tap: str) -> None:
    response = httpx.get(f"{tap}/examples")
    assert response.status_code == 200
    page = etree.fromstring(response.content)  # well-formed XML, not just HTML
    examples = page.xpath("//*[@typeof='example']")
    assert len(examples) >= 5
    upload = Table({"ra": [56.75], "dec": [24.12]})
    buffer = io.BytesIO()
    votable.from_table(upload).to_xml(buffer)
    for example in examples:
        assert example.get("resource") == f"#{example.get('id')}"
        [name] = example.xpath(".//*[@property='name']")
        [query] = example.xpath(".//*[@property='query']")
        assert name.text and query.text
        response = httpx.post(
            f"{tap}/sync",
            data={"LANG": "ADQL", "QUERY": query.text, "UPLOAD": "mine,param:t"},
            files={"t": ("t.xml", buffer.getvalue())},
            timeout=30,
        )
        assert response.status_code == 200, (example.get("id"), response.text)


def test_tap_schema_is_self_describing(tap: str) -> None:
    response = httpx.get(
        f"{tap}/sync",
        params={
            "LANG": "ADQL",
            "RESPONSEFORMAT": "votable/td",
            "QUERY": "SELECT column_name, std, column_index FROM tap_schema.columns"
            " WHERE table_name = 'tap_schema.columns' ORDER BY column_index",
        },
    )
    rows = votable.parse_single_table(io.BytesIO(response.content)).to_table()
    assert list(rows["column_index"]) == list(range(1, 15))
    assert set(rows["std"]) == {1}
    assert '"size"' in list(rows["column_name"])


def test_landing_page(server: tuple[str, TapSettings]) -> None:
    root, _ = server
    response = httpx.get(root + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    for needle in (
        "xpha.emitter_candidates",
        "xpha.gaia_source",
        f"{root}/tap",
        "pyvo",
        "Emitter candidates in a cone",
        "500",
    ):
        assert needle in html


UPLOAD_METHOD_CASES = [
    # (tap_upload_http, advertised upload methods)
    (False, ["upload-inline"]),
    (True, ["upload-inline", "upload-http"]),
]


@pytest.mark.parametrize(("allowed", "methods"), UPLOAD_METHOD_CASES)
def test_http_upload_is_advertised_only_when_enabled(
    xml_schema: etree.XMLSchema, allowed: bool, methods: list[str]
) -> None:
    from tap_service.vosi import capabilities_document

    settings = TapSettings(tap_upload_http=allowed)
    caps = etree.fromstring(capabilities_document("http://example.org/tap", settings))
    xml_schema.assertValid(caps)
    ids = caps.xpath("//uploadMethod/@ivo-id")
    assert ids == [f"ivo://ivoa.net/std/TAPRegExt#{m}" for m in methods]


TRICKY = 'Flux < 2 & "bright" > 1 ]]>'
CATALOG = Catalog(
    {
        "s.t": TableInfo(
            "s",
            "t",
            TRICKY,
            {
                "ra": ColumnInfo(
                    "ra",
                    "double",
                    unit="deg",
                    ucd="pos.eq.ra",
                    indexed=True,
                    principal=True,
                    description=TRICKY,
                ),
                "size": ColumnInfo("size", "int", published_name='"size"', std=True),
                "p": ColumnInfo("p", "double", arraysize="2", xtype="point", utype="stc:Pos"),
            },
            table_type="view",
            utype="u:t",
            published_name="s.t",
            foreign_keys=[ForeignKeyInfo("s.other", (("ra", "x"), ("p", "y")), TRICKY)],
        ),
        "s.other": TableInfo("s", "other", published_name="s.other"),
        "hidden.h": TableInfo("hidden", "h", published_name="hidden.h"),  # schema not described
    },
    (SchemaInfo("s", TRICKY, "u:s"), SchemaInfo("empty")),
)


def test_tableset_of_a_catalogue_is_valid_and_keeps_its_text(
    xml_schema: etree.XMLSchema,
) -> None:
    """Text goes out as the catalogue holds it (escaped once), names as TAP_SCHEMA writes them,
    xtype on the data type, only the described schemas' tables."""
    from tap_service.vosi import table_document, tableset_document

    full = etree.fromstring(tableset_document(CATALOG))
    xml_schema.assertValid(full)
    assert full.xpath("schema/name/text()") == ["s", "empty"]
    assert full.xpath("schema/description/text()") == [TRICKY]
    assert full.xpath("schema/table/name/text()") == ["s.t", "s.other"]
    [table] = full.xpath("schema/table[name='s.t']")
    assert table.get("type") == "view" and table.findtext("description") == TRICKY
    columns = table.findall("column")
    assert [c.findtext("name") for c in columns] == ["ra", '"size"', "p"]
    assert [c.get("std") for c in columns] == ["false", "true", "false"]
    assert columns[0].findtext("description") == TRICKY
    assert columns[0].xpath("flag/text()") == ["indexed", "principal"]
    point = columns[2].find("dataType")
    assert (point.text, point.get("arraysize"), point.get("extendedType")) == (
        "double",
        "2",
        "point",
    )
    assert columns[2].findtext("utype") == "stc:Pos" and columns[2].find("xtype") is None
    [key] = table.findall("foreignKey")
    assert key.findtext("targetTable") == "s.other" and key.findtext("description") == TRICKY
    assert [
        (c.findtext("fromColumn"), c.findtext("targetColumn")) for c in key.findall("fkColumn")
    ] == [("ra", "x"), ("p", "y")]
    minimal = etree.fromstring(tableset_document(CATALOG, "min"))
    xml_schema.assertValid(minimal)
    assert not minimal.xpath("//column") and not minimal.xpath("//foreignKey")
    one = etree.fromstring(table_document(CATALOG.published_table("S.T")))
    xml_schema.assertValid(one)
    assert one.tag == f"{{{NS['vt']}}}table" and len(one.findall("column")) == 3
    assert CATALOG.published_table("hidden.h") is None
