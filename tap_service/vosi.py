"""VOSI and DALI documents: capabilities, availability, tableset, one table, examples.

The VOSI documents are typed `vo-models` models (with the extensions in
``tap_service.vosi_models``), serialised in the schemas' element order. The tableset is the
cached TAP_SCHEMA catalogue (``tap_service.catalog``) that ADQL resolves names against, so
``/tables`` and queries on TAP_SCHEMA (TOPCAT's two metadata paths) tell the same facts.
Capabilities declare only what the service really does: the writers' formats, the upload
methods allowed, the geometry functions the translator handles and the configured limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from lxml import etree
from lxml.builder import ElementMaker  # type: ignore[import-not-found]  # lxml-stubs lack it
from pydantic import AnyUrl
from pydantic_xml import BaseXmlModel
from vo_models.tapregext.models import (
    DataLimit,
    DataLimits,
    Language,
    LanguageFeature,
    LanguageFeatureList,
    OutputFormat,
    TableAccess,
    TimeLimits,
    UploadMethod,
    Version,
)
from vo_models.vodataservice.models import FKColumn, ForeignKey, ParamHTTP
from vo_models.voresource.models import Capability, SecurityMethod, WebBrowser
from vo_models.vosi.availability import Availability
from vo_models.vosi.capabilities import VOSICapabilities

from tap_service.catalog import Catalog, ColumnInfo, TableInfo
from tap_service.settings import TapSettings
from tap_service.vosi_models import (
    AccessURL,
    ConeSearch,
    ConeSearchCapabilities,
    Schema,
    SingleTable,
    Table,
    TableSet,
    TestQuery,
    VosiColumn,
    VOTableType,
)
from tap_service.writers import OUTPUT_FORMATS

XML_CONTENT_TYPE = "text/xml"
XHTML_CONTENT_TYPE = "application/xhtml+xml"

# What the ADQL translator handles (tap_service/adql): declared in TAPRegExt, no more.
GEOMETRY_FUNCTIONS = (
    "POINT",
    "CIRCLE",
    "BOX",
    "POLYGON",
    "CONTAINS",
    "INTERSECTS",
    "DISTANCE",
    "AREA",
    "COORD1",
    "COORD2",
    "CENTROID",
)
LANGUAGE_FEATURES = {
    "ivo://ivoa.net/std/TAPRegExt#features-adqlgeo": GEOMETRY_FUNCTIONS,
    "ivo://ivoa.net/std/TAPRegExt#features-adql-offset": ["OFFSET"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-type": ["CAST"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-sets": ["UNION", "EXCEPT", "INTERSECT"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-common-table": ["WITH"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-string": ["LOWER", "UPPER", "ILIKE"],
}


def _xml(document: BaseXmlModel) -> bytes:
    """A document as bytes; elements without a value are left out."""
    xml = document.to_xml(
        exclude_none=True, xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    assert isinstance(xml, bytes)  # with an encoding, never str
    return xml


# --- capabilities ---------------------------------------------------------------------------
#: IVOA SSO: a bearer token in the Authorization header (XPHA_TAP_AUTH=bearer).
TOKEN_SECURITY = "ivo://ivoa.net/sso#token"
#: The VOSI endpoints of the TAP service, below its base URL.
VOSI_ENDPOINTS = (
    ("ivo://ivoa.net/std/VOSI#capabilities", "capabilities"),
    ("ivo://ivoa.net/std/VOSI#availability", "availability"),
    ("ivo://ivoa.net/std/VOSI#tables-1.1", "tables"),
)


def capabilities_document(base: str, settings: TapSettings) -> bytes:
    """``{base}/capabilities``: TAP 1.1 (TAPRegExt) plus the VOSI and DALI-examples endpoints."""
    security = (
        [SecurityMethod(standard_id=AnyUrl(TOKEN_SECURITY))]
        if settings.tap_auth == "bearer"
        else []
    )
    capabilities: list[TableAccess | Capability] = [
        _table_access(base, settings, security),
        *(_endpoint(standard, f"{base}/{path}") for standard, path in VOSI_ENDPOINTS),
        Capability(
            standard_id=AnyUrl("ivo://ivoa.net/std/DALI#examples"),
            interface=[WebBrowser(access_url=[AccessURL(value=f"{base}/examples", use="full")])],
        ),
    ]
    return _xml(VOSICapabilities(capability=capabilities))


def _table_access(base: str, settings: TapSettings, security: list[SecurityMethod]) -> TableAccess:
    methods = ["upload-inline", "upload-http"] if settings.tap_upload_http else ["upload-inline"]
    return TableAccess(
        interface=[
            ParamHTTP(
                role="std",
                version="1.1",
                security_method=security,
                access_url=[AccessURL(value=base, use="base")],
            )
        ],
        language=[
            Language(
                name="ADQL",
                version=[
                    Version(value="2.0", ivo_id="ivo://ivoa.net/std/ADQL#v2.0"),
                    Version(value="2.1", ivo_id="ivo://ivoa.net/std/ADQL#v2.1"),
                ],
                description="ADQL 2.1 translated to PostgreSQL; point-in-circle and distance joins "
                "use Q3C.",
                language_features=[
                    LanguageFeatureList(
                        type=feature_type, feature=[LanguageFeature(form=form) for form in forms]
                    )
                    for feature_type, forms in LANGUAGE_FEATURES.items()
                ],
            )
        ],
        output_format=[
            # TAPRegExt defines ivo-ids for the VOTable serialisations only
            OutputFormat(
                mime=fmt.mime,
                alias=list(fmt.aliases[:3]),
                ivo_id=fmt.ivo_id if fmt.ivo_id and "#output-votable-" in fmt.ivo_id else None,
            )
            for fmt in OUTPUT_FORMATS
        ],
        # http only when the operator allows server-side fetches
        upload_method=[UploadMethod(ivo_id=f"ivo://ivoa.net/std/TAPRegExt#{m}") for m in methods],
        retention_period=TimeLimits(
            default=settings.uws_destruction_s, hard=settings.uws_destruction_max_s
        ),
        execution_duration=TimeLimits(
            default=settings.uws_execution_duration_s, hard=settings.uws_execution_duration_max_s
        ),
        output_limit=DataLimits(
            default=DataLimit(
                value=min(settings.tap_maxrec_default, settings.tap_hard_limit), unit="row"
            ),
            hard=DataLimit(value=settings.tap_hard_limit, unit="row"),
        ),
        upload_limit=DataLimits(hard=DataLimit(value=settings.tap_upload_max_bytes, unit="byte")),
    )


def _endpoint(standard: str, url: str) -> Capability:
    """A VOSI capability: one full URL answering GET."""
    return Capability(
        standard_id=AnyUrl(standard),
        interface=[ParamHTTP(role="std", access_url=[AccessURL(value=url, use="full")])],
    )


def scs_capabilities_document(scs_url: str, settings: TapSettings) -> bytes:
    """The cone-search endpoint's own capabilities (SCS 1.03, ConeSearch capability type)."""
    cone = ConeSearch(
        interface=[
            ParamHTTP(
                role="std",
                access_url=[AccessURL(value=scs_url, use="base")],
                query_type=["GET"],
                result_type="application/x-votable+xml",
            )
        ],
        max_sr=settings.scs_max_sr_deg,
        max_records=settings.tap_hard_limit,
        verbosity=True,
        test_query=TestQuery(ra=0, dec=0, sr=0.1),
    )
    endpoint = _endpoint("ivo://ivoa.net/std/VOSI#capabilities", f"{scs_url}/capabilities")
    return _xml(ConeSearchCapabilities(capability=[cone, endpoint]))


# --- availability ---------------------------------------------------------------------------
def availability_document(available: bool, note: str) -> bytes:
    """``{base}/availability``: whether queries can run now (the database answers)."""
    return _xml(Availability(available=available, note=[note]))


def database_available(conn: psycopg.Connection) -> tuple[bool, str]:
    """A cheap round trip as the TAP role, reading TAP_SCHEMA."""
    try:
        conn.execute("SELECT count(*) FROM tap_schema.tables").fetchone()
    except psycopg.Error as exc:
        return False, f"the database does not answer: {exc.diag.message_primary or exc}"
    return True, "service is accepting queries"


# --- tables -----------------------------------------------------------------------------------
def tableset_document(catalog: Catalog, detail: str = "max") -> bytes:
    """VOSI 1.1 ``tableset`` of the published catalogue; ``detail=min`` leaves out columns and
    keys."""
    schemas = [
        Schema(
            schema_name=schema.name,
            description=schema.description,
            utype=schema.utype,
            table=[_table(Table, table, detail) for table in tables],
        )
        for schema, tables in catalog.tableset()
    ]
    return _xml(TableSet(tableset_schema=schemas))


def table_document(table: TableInfo) -> bytes:
    """VOSI 1.1 ``{base}/tables/{schema.table}``: one table with its columns and keys."""
    return _xml(_table(SingleTable, table, "max"))


def _table(model: type[Table], table: TableInfo, detail: str) -> Table:
    full = detail != "min"
    return model(
        table_type=table.table_type or "table",
        table_name=table.tap_name,
        description=table.description,
        utype=table.utype,
        nrows=table.nrows,  # VODataService 1.2, counted when the data change
        column=[_column(c) for c in table.columns.values()] if full else [],
        foreign_key=[
            ForeignKey(
                target_table=key.target_table,
                description=key.description,
                utype=key.utype,
                fk_column=[FKColumn(from_column=f, target_column=t) for f, t in key.columns],
            )
            for key in table.foreign_keys
        ]
        if full
        else [],
    )


def _column(column: ColumnInfo) -> VosiColumn:
    flags = [
        flag for flag, on in (("indexed", column.indexed), ("principal", column.principal)) if on
    ]
    return VosiColumn(
        column_name=column.tap_name,
        description=column.description,
        unit=column.unit,
        ucd=column.ucd,
        utype=column.utype,
        datatype=VOTableType(
            value=column.datatype, arraysize=column.arraysize or None, extended_type=column.xtype
        ),
        flag=flags,
        std=column.std,
    )


# --- examples -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """A DALI example: an id, a title, a sentence of why, and the ADQL."""

    key: str
    name: str
    description: str
    query: str


EXAMPLES = (
    Example(
        "cone-candidates",
        "Emitter candidates in a cone",
        "Candidates of the current model within 1 degree of the Pleiades, most emitter-like "
        "first (an indexed Q3C cone).",
        "SELECT source_id, ra, dec, phot_g_mean_mag, bp_rp, score, probability\n"
        "FROM xpha.emitter_candidates\n"
        "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 56.75, 24.12, 1.0))\n"
        "ORDER BY score DESC",
    ),
    Example(
        "top-candidates",
        "The best candidates",
        "The 100 sources the current model rates most likely to be H-alpha emitters.",
        "SELECT TOP 100 source_id, ra, dec, phot_g_mean_mag, probability, model_version\n"
        "FROM xpha.emitter_candidates\n"
        "ORDER BY probability DESC",
    ),
    Example(
        "strong-line-excess",
        "Strong H-alpha lines, whatever the model says",
        "Sources whose XP spectrum shows an H-alpha equivalent width above 10 Angstrom over "
        "the continuum predicted from the rest of the spectrum, at S/N above 5.",
        "SELECT TOP 1000 source_id, ra, dec, phot_g_mean_mag, bp_rp, halpha_excess_ew,\n"
        "       halpha_excess_snr, probability\n"
        "FROM xpha.emitter_candidates\n"
        "WHERE halpha_excess_ew > 10 AND halpha_excess_snr > 5\n"
        "ORDER BY halpha_excess_ew DESC",
    ),
    Example(
        "candidates-with-labels",
        "Candidates with their spectroscopic labels",
        "How the model's scores compare with the SDSS/LAMOST labels it can be checked against.",
        "SELECT c.source_id, c.score AS score, c.probability, l.label, l.ew_halpha, l.evidence\n"
        "FROM xpha.emitter_candidates AS c\n"
        "JOIN xpha.training_labels AS l ON l.source_id = c.source_id\n"
        "ORDER BY score DESC",
    ),
    Example(
        "candidate-spectra",
        "XP coefficients of the top candidates",
        "BP/RP coefficients (55 each) of the ten best candidates, ready for GaiaXPy.",
        "SELECT TOP 10 c.source_id, c.probability AS probability, x.bp_coefficients,\n"
        "       x.rp_coefficients\n"
        "FROM xpha.emitter_candidates AS c\n"
        "JOIN xpha.xp_continuous AS x ON x.source_id = c.source_id\n"
        "ORDER BY probability DESC",
    ),
    Example(
        "current-model",
        "The model behind the candidates",
        "Kind, version, training time and metrics of the current model.",
        "SELECT model_id, kind, version, trained_at, metrics\n"
        "FROM xpha.models\n"
        "WHERE is_current = 1",
    ),
    Example(
        "upload-crossmatch",
        "Crossmatch your own list",
        "Upload a VOTable with ra/dec columns as TAP_UPLOAD.mine and find candidates within "
        "2 arcseconds of each position (a Q3C join).",
        "SELECT m.*, c.source_id, c.probability,\n"
        "       DISTANCE(POINT('ICRS', m.ra, m.dec), POINT('ICRS', c.ra, c.dec)) AS dist\n"
        "FROM TAP_UPLOAD.mine AS m\n"
        "JOIN xpha.emitter_candidates AS c\n"
        "  ON 1 = CONTAINS(POINT('ICRS', c.ra, c.dec), CIRCLE('ICRS', m.ra, m.dec, 2.0/3600))",
    ),
)

NS_XHTML = "http://www.w3.org/1999/xhtml"


def examples_document(examples: Sequence[Example] = EXAMPLES) -> bytes:
    """DALI examples: XHTML+RDFa, one ``typeof="example"`` element per query."""
    e = ElementMaker(namespace=NS_XHTML, nsmap={None: NS_XHTML})
    items = [
        e.div(
            e.h2(example.name, property="name"),
            e.p(example.description),
            e.pre(example.query, property="query"),
            id=example.key,
            resource=f"#{example.key}",
            typeof="example",
        )
        for example in examples
    ]
    page = e.html(
        e.head(e.title("xpha TAP examples")),
        e.body(e.h1("xpha TAP examples"), *items, vocab="http://www.ivoa.net/rdf/examples#"),
    )
    return etree.tostring(
        page, xml_declaration=True, encoding="UTF-8", pretty_print=True, doctype="<!DOCTYPE html>"
    )
