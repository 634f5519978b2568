"""VOSI and DALI documents: capabilities, availability, tableset, one table, examples.

The tableset is generated from TAP_SCHEMA rows, so ``/tables`` and sync queries on TAP_SCHEMA
(TOPCAT's two metadata paths) can never disagree. Capabilities declare only what the service
really does: the writers' formats, inline uploads, the geometry functions the translator
handles and the configured limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from lxml import etree
from lxml.builder import ElementMaker

from sql.settings import Settings
from tap_service.writers import OUTPUT_FORMATS

XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_CAPS = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
NS_AVAIL = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
NS_TABLES = "http://www.ivoa.net/xml/VOSITables/v1.0"
NS_VR = "http://www.ivoa.net/xml/VOResource/v1.0"
NS_VS = "http://www.ivoa.net/xml/VODataService/v1.1"
NS_TR = "http://www.ivoa.net/xml/TAPRegExt/v1.0"
NS_CS = "http://www.ivoa.net/xml/ConeSearch/v1.0"
XML_CONTENT_TYPE = "text/xml"
XHTML_CONTENT_TYPE = "application/xhtml+xml"

# What the ADQL translator handles (tap_service/adql): declared in TAPRegExt, no more.
GEOMETRY_FUNCTIONS = (
    "POINT", "CIRCLE", "BOX", "POLYGON", "CONTAINS", "INTERSECTS", "DISTANCE", "AREA",
    "COORD1", "COORD2", "CENTROID",
)
ADQL21_FEATURES = {
    "ivo://ivoa.net/std/TAPRegExt#features-adql-offset": ["OFFSET"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-type": ["CAST"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-sets": ["UNION", "EXCEPT", "INTERSECT"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-common-table": ["WITH"],
    "ivo://ivoa.net/std/TAPRegExt#features-adql-string": ["LOWER", "UPPER", "ILIKE"],
}

_xsi_type = f"{{{XSI}}}type"


def _tostring(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- capabilities ---------------------------------------------------------------------------
#: IVOA SSO: a bearer token in the Authorization header (XPHA_TAP_AUTH=bearer).
TOKEN_SECURITY = "ivo://ivoa.net/sso#token"


def capabilities_document(base: str, settings: Settings) -> bytes:
    """``{base}/capabilities``: TAP 1.1 (TAPRegExt) plus the VOSI and DALI-examples endpoints."""
    nsmap = {"vosi": NS_CAPS, "vr": NS_VR, "vs": NS_VS, "tr": NS_TR, "xsi": XSI}
    root = etree.Element(f"{{{NS_CAPS}}}capabilities", nsmap=nsmap)
    tap = etree.SubElement(
        root, "capability", {"standardID": "ivo://ivoa.net/std/TAP", _xsi_type: "tr:TableAccess"}
    )
    _interface(tap, base, param_http=True, version="1.1",
               security=TOKEN_SECURITY if settings.tap_auth == "bearer" else None)
    language = etree.SubElement(tap, "language")
    etree.SubElement(language, "name").text = "ADQL"
    etree.SubElement(language, "version", {"ivo-id": "ivo://ivoa.net/std/ADQL#v2.0"}).text = "2.0"
    etree.SubElement(language, "version", {"ivo-id": "ivo://ivoa.net/std/ADQL#v2.1"}).text = "2.1"
    etree.SubElement(language, "description").text = (
        "ADQL 2.1 translated to PostgreSQL; point-in-circle and distance joins use Q3C."
    )
    geometry = etree.SubElement(
        language, "languageFeatures", {"type": "ivo://ivoa.net/std/TAPRegExt#features-adqlgeo"}
    )
    for name in GEOMETRY_FUNCTIONS:
        etree.SubElement(etree.SubElement(geometry, "feature"), "form").text = name
    for feature_type, forms in ADQL21_FEATURES.items():
        features = etree.SubElement(language, "languageFeatures", {"type": feature_type})
        for form in forms:
            etree.SubElement(etree.SubElement(features, "feature"), "form").text = form
    for fmt in OUTPUT_FORMATS:
        # TAPRegExt defines ivo-ids for the VOTable serialisations only
        known = fmt.ivo_id is not None and "#output-votable-" in fmt.ivo_id
        attrs = {"ivo-id": fmt.ivo_id} if known else {}
        output = etree.SubElement(tap, "outputFormat", attrs)
        etree.SubElement(output, "mime").text = fmt.mime
        for alias in fmt.aliases[:3]:
            etree.SubElement(output, "alias").text = alias
    methods = ["upload-inline", "upload-http"] if settings.tap_upload_http else ["upload-inline"]
    for method in methods:  # http only when the operator allows server-side fetches
        etree.SubElement(tap, "uploadMethod", {"ivo-id": f"ivo://ivoa.net/std/TAPRegExt#{method}"})
    retention = etree.SubElement(tap, "retentionPeriod")
    etree.SubElement(retention, "default").text = str(settings.uws_destruction_s)
    etree.SubElement(retention, "hard").text = str(settings.uws_destruction_max_s)
    duration = etree.SubElement(tap, "executionDuration")
    etree.SubElement(duration, "default").text = str(settings.uws_execution_duration_s)
    etree.SubElement(duration, "hard").text = str(settings.uws_execution_duration_max_s)
    output_limit = etree.SubElement(tap, "outputLimit")
    etree.SubElement(output_limit, "default", {"unit": "row"}).text = str(
        min(settings.tap_maxrec_default, settings.tap_hard_limit)
    )
    etree.SubElement(output_limit, "hard", {"unit": "row"}).text = str(settings.tap_hard_limit)
    upload_limit = etree.SubElement(tap, "uploadLimit")
    etree.SubElement(upload_limit, "hard", {"unit": "byte"}).text = str(
        settings.tap_upload_max_bytes
    )
    for standard, path in (
        ("ivo://ivoa.net/std/VOSI#capabilities", "capabilities"),
        ("ivo://ivoa.net/std/VOSI#availability", "availability"),
        ("ivo://ivoa.net/std/VOSI#tables-1.1", "tables"),
    ):
        capability = etree.SubElement(root, "capability", {"standardID": standard})
        _interface(capability, f"{base}/{path}")
    examples = etree.SubElement(
        root, "capability", {"standardID": "ivo://ivoa.net/std/DALI#examples"}
    )
    _interface(examples, f"{base}/examples", web_browser=True)
    return _tostring(root)


def _interface(
    parent: etree._Element,
    url: str,
    *,
    param_http: bool = True,
    version: str | None = None,
    web_browser: bool = False,
    security: str | None = None,
) -> None:
    attrs = {_xsi_type: "vr:WebBrowser" if web_browser else "vs:ParamHTTP"}
    if param_http and not web_browser:
        attrs["role"] = "std"
    if version:
        attrs["version"] = version
    interface = etree.SubElement(parent, "interface", attrs)
    etree.SubElement(interface, "accessURL", {"use": "base" if version else "full"}).text = url
    if security:
        etree.SubElement(interface, "securityMethod", {"standardID": security})


def scs_capabilities_document(scs_url: str, settings: Settings) -> bytes:
    """The cone-search endpoint's own capabilities (SCS 1.03, ConeSearch capability type)."""
    nsmap = {"vosi": NS_CAPS, "vr": NS_VR, "vs": NS_VS, "cs": NS_CS, "xsi": XSI}
    root = etree.Element(f"{{{NS_CAPS}}}capabilities", nsmap=nsmap)
    cone = etree.SubElement(
        root,
        "capability",
        {"standardID": "ivo://ivoa.net/std/ConeSearch", _xsi_type: "cs:ConeSearch"},
    )
    interface = etree.SubElement(cone, "interface", {_xsi_type: "vs:ParamHTTP", "role": "std"})
    etree.SubElement(interface, "accessURL", {"use": "base"}).text = scs_url
    etree.SubElement(interface, "queryType").text = "GET"
    etree.SubElement(interface, "resultType").text = "application/x-votable+xml"
    etree.SubElement(cone, "maxSR").text = f"{settings.scs_max_sr_deg:g}"
    etree.SubElement(cone, "maxRecords").text = str(settings.tap_hard_limit)
    etree.SubElement(cone, "verbosity").text = "true"
    test = etree.SubElement(cone, "testQuery")
    etree.SubElement(test, "ra").text = "0"
    etree.SubElement(test, "dec").text = "0"
    etree.SubElement(test, "sr").text = "0.1"
    capability = etree.SubElement(
        root, "capability", {"standardID": "ivo://ivoa.net/std/VOSI#capabilities"}
    )
    _interface(capability, f"{scs_url}/capabilities")
    return _tostring(root)


# --- availability ---------------------------------------------------------------------------
def availability_document(available: bool, note: str) -> bytes:
    """``{base}/availability``: whether queries can run now (the database answers)."""
    e = ElementMaker(namespace=NS_AVAIL, nsmap={"vosi": NS_AVAIL})
    return _tostring(e.availability(e.available("true" if available else "false"), e.note(note)))


def database_available(conn: psycopg.Connection) -> tuple[bool, str]:
    """A cheap round trip as the TAP role, reading TAP_SCHEMA."""
    try:
        conn.execute("SELECT count(*) FROM tap_schema.tables").fetchone()
    except psycopg.Error as exc:
        return False, f"the database does not answer: {exc.diag.message_primary or exc}"
    return True, "service is accepting queries"


# --- tables -----------------------------------------------------------------------------------
@dataclass
class ColumnRow:
    name: str
    datatype: str
    arraysize: str | None
    xtype: str | None
    description: str | None
    utype: str | None
    unit: str | None
    ucd: str | None
    indexed: bool
    principal: bool
    std: bool


@dataclass
class KeyRow:
    target_table: str
    description: str | None
    utype: str | None
    pairs: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class TableRow:
    schema: str
    name: str
    table_type: str
    description: str | None
    utype: str | None
    nrows: int | None = None  # counted when the data change (sql.published_statistics)
    columns: list[ColumnRow] = field(default_factory=list)
    keys: list[KeyRow] = field(default_factory=list)


@dataclass
class SchemaRow:
    name: str
    description: str | None
    utype: str | None
    tables: list[TableRow] = field(default_factory=list)


TAP_SCHEMA_QUERIES = {
    "schemas": "SELECT schema_name, description, utype FROM tap_schema.schemas"
    " ORDER BY schema_index NULLS LAST, schema_name",
    "tables": "SELECT schema_name, table_name, table_type, description, utype, nrows"
    " FROM tap_schema.tables ORDER BY table_index NULLS LAST, table_name",
    "columns": "SELECT table_name, column_name, datatype, arraysize, xtype, description, utype,"
    " unit, ucd, indexed, principal, std FROM tap_schema.columns"
    " ORDER BY table_name, column_index NULLS LAST, column_name",
    "keys": "SELECT k.key_id, k.from_table, k.target_table, k.description, k.utype,"
    " c.from_column, c.target_column FROM tap_schema.keys k"
    " JOIN tap_schema.key_columns c ON c.key_id = k.key_id ORDER BY k.key_id, c.from_column",
}


def read_tableset(conn: psycopg.Connection, only: str | None = None) -> list[SchemaRow]:
    """TAP_SCHEMA as nested rows; ``only`` keeps one ``schema.table`` (case-insensitive)."""
    schemas = {
        name: SchemaRow(name, description, utype)
        for name, description, utype in conn.execute(TAP_SCHEMA_QUERIES["schemas"])
    }
    tables: dict[str, TableRow] = {}
    for schema, name, table_type, description, utype, nrows in conn.execute(
        TAP_SCHEMA_QUERIES["tables"]
    ):
        if only is not None and name.lower() != only.lower():
            continue
        table = TableRow(schema, name, table_type, description, utype, nrows)
        tables[name] = table
        if schema in schemas:
            schemas[schema].tables.append(table)
    for row in conn.execute(TAP_SCHEMA_QUERIES["columns"]):
        table = tables.get(row[0])
        if table is not None:
            table.columns.append(
                ColumnRow(row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                          bool(row[9]), bool(row[10]), bool(row[11]))
            )
    keys: dict[str, KeyRow] = {}
    for key_id, from_table, target, description, utype, from_col, target_col in conn.execute(
        TAP_SCHEMA_QUERIES["keys"]
    ):
        table = tables.get(from_table)
        if table is None:
            continue
        if key_id not in keys:
            keys[key_id] = KeyRow(target, description, utype)
            table.keys.append(keys[key_id])
        keys[key_id].pairs.append((from_col, target_col))
    return [s for s in schemas.values() if s.tables or only is None]


def tableset_document(schemas: Sequence[SchemaRow], detail: str = "max") -> bytes:
    """VOSI 1.1 ``tableset``; ``detail=min`` leaves out columns and keys."""
    root = etree.Element(f"{{{NS_TABLES}}}tableset", nsmap={"vosi": NS_TABLES, "vs": NS_VS,
                                                          "xsi": XSI})
    for schema in schemas:
        element = etree.SubElement(root, "schema")
        etree.SubElement(element, "name").text = schema.name
        _optional(element, "description", schema.description)
        _optional(element, "utype", schema.utype)
        for table in schema.tables:
            _table(element, "table", table, detail)
    return _tostring(root)


def table_document(table: TableRow) -> bytes:
    """VOSI 1.1 ``{base}/tables/{schema.table}``: one table with its columns and keys."""
    root = _table(None, f"{{{NS_TABLES}}}table", table, "max")
    return _tostring(root)


def _table(
    parent: etree._Element | None, tag: str, table: TableRow, detail: str
) -> etree._Element:
    attrs = {"type": table.table_type or "table"}
    if parent is None:
        element = etree.Element(tag, attrs, nsmap={"vosi": NS_TABLES, "vs": NS_VS, "xsi": XSI})
    else:
        element = etree.SubElement(parent, tag, attrs)
    etree.SubElement(element, "name").text = table.name
    _optional(element, "description", table.description)
    _optional(element, "utype", table.utype)
    if table.nrows is not None:  # VODataService 1.2: after utype, before the columns
        etree.SubElement(element, "nrows").text = str(table.nrows)
    if detail == "min":
        return element
    for column in table.columns:
        col = etree.SubElement(element, "column", {"std": "true" if column.std else "false"})
        etree.SubElement(col, "name").text = column.name
        _optional(col, "description", column.description)
        _optional(col, "unit", column.unit)
        _optional(col, "ucd", column.ucd)
        _optional(col, "utype", column.utype)
        type_attrs = {_xsi_type: "vs:VOTableType"}
        if column.arraysize:
            type_attrs["arraysize"] = column.arraysize
        if column.xtype:
            type_attrs["extendedType"] = column.xtype
        etree.SubElement(col, "dataType", type_attrs).text = column.datatype
        if column.indexed:
            etree.SubElement(col, "flag").text = "indexed"
        if column.principal:
            etree.SubElement(col, "flag").text = "principal"
    for key in table.keys:
        fk = etree.SubElement(element, "foreignKey")
        etree.SubElement(fk, "targetTable").text = key.target_table
        for from_column, target_column in key.pairs:
            pair = etree.SubElement(fk, "fkColumn")
            etree.SubElement(pair, "fromColumn").text = from_column
            etree.SubElement(pair, "targetColumn").text = target_column
        _optional(fk, "description", key.description)
        _optional(fk, "utype", key.utype)
    return element


def _optional(parent: etree._Element, tag: str, text: str | None) -> None:
    if text:
        etree.SubElement(parent, tag).text = text


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
    return etree.tostring(page, xml_declaration=True, encoding="UTF-8", pretty_print=True,
                          doctype="<!DOCTYPE html>")
