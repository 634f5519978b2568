"""`vo-models` extended where it cannot express what our VOSI documents carry.

vo-models (0.5.4) is the typed model of VOSI, VODataService, VOResource and TAPRegExt we build
documents from; these subclasses add what it lacks, each for a reason:

- Columns: VODataService 1.1 puts a column's xtype in the ``extendedType`` attribute of
  ``dataType`` (vo-models writes a 1.2 ``xtype`` element, which the 1.1 schema taplint uses
  refuses) and has the ``std`` attribute (vo-models has none). The column name is written as
  TAP_SCHEMA holds it (vo-models re-quotes reserved words itself, which could make ``/tables``
  and TAP_SCHEMA disagree).
- Tables and schemas: vo-models XML-escapes every string it is given and lxml escapes again on
  output, so ``a & b`` would read ``a &amp;amp; b``; these keep the text as it is. (A nested
  model is written by its declared type, so the whole chain down to the column is redeclared.)
- Access URLs are written exactly as configured: vo-models' ``AnyUrl`` would normalise them
  (drop a default port, lower-case the host, add ``/`` to a bare host, which a client that
  appends ``/sync`` would turn into ``//sync``).
- Simple Cone Search has no model: ``ConeSearch`` is the SCS 1.0 capability type, with a
  ``ParamHTTP`` interface (whose ``queryType``/``resultType`` a base ``Interface`` would drop).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import PlainSerializer, field_validator
from pydantic_xml import BaseXmlModel, attr, element
from vo_models.vodataservice.models import DataType, ParamHTTP, TableParam, TableSchema
from vo_models.voresource.models import AccessURL as VoAccessURL
from vo_models.voresource.models import Capability
from vo_models.vosi.capabilities.models import NSMAP as CAPABILITIES_NSMAP
from vo_models.vosi.capabilities.models import VOSICapabilities
from vo_models.vosi.tables.models import NSMAP as TABLES_NSMAP
from vo_models.vosi.tables.models import VOSITable, VOSITableSet

CONE_SEARCH_NS = "http://www.ivoa.net/xml/ConeSearch/v1.0"
#: Degrees as people write them: ``1``, ``0.5`` (not ``1.0``).
Degrees = Annotated[float, PlainSerializer(lambda value: f"{value:g}", return_type=str)]


class AccessURL(VoAccessURL, tag="accessURL"):
    """An access URL as given (see above)."""

    value: str  # type: ignore[assignment]  # vo-models' AnyUrl rewrites URLs


class VOTableType(DataType, tag="dataType"):
    """``vs:VOTableType`` with the ``extendedType`` attribute (the column's xtype)."""

    extended_type: str | None = attr(name="extendedType", default=None)


class VosiColumn(TableParam, tag="column"):
    """A VODataService 1.1 column: the ``std`` attribute, xtype on the data type, the name and
    description as TAP_SCHEMA holds them."""

    std: bool | None = attr(name="std", default=None)
    datatype: VOTableType | None = element(tag="dataType", default=None)

    def __init__(self, **data: Any) -> None:
        BaseXmlModel.__init__(self, **data)  # not TableParam's: it invents flags and a type

    @field_validator("column_name")
    def validate_colname(cls, value: str) -> str:  # replaces vo-models' quoting
        return value

    @field_validator("description")
    def validate_description(cls, value: str | None) -> str | None:  # no escaping
        return value


class Table(VOSITable, tag="table", ns="", nsmap={"": ""}):
    """A table inside a schema (unqualified ``table``), with our columns."""

    column: list[VosiColumn] | None = element(tag="column", default_factory=list, ns="")  # type: ignore[assignment]  # our column type

    def __init__(self, **data: Any) -> None:
        BaseXmlModel.__init__(self, **data)  # not vo-models' Table: it escapes every string


class SingleTable(Table, tag="table", ns="vosi", nsmap=TABLES_NSMAP):
    """The ``vosi:table`` document of ``/tables/{name}``."""


class Schema(TableSchema, tag="schema", ns="", nsmap={"": ""}):
    """A schema of the tableset, with our tables."""

    table: list[Table] | None = element(tag="table", default_factory=list)  # type: ignore[assignment]  # our table type

    def __init__(self, **data: Any) -> None:
        BaseXmlModel.__init__(self, **data)  # not vo-models' TableSchema: it escapes strings


class TableSet(VOSITableSet, tag="tableset", ns="vosi", nsmap=TABLES_NSMAP):
    """The ``vosi:tableset`` document of ``/tables``, with our schemas."""

    tableset_schema: list[Schema] = element(tag="schema")  # type: ignore[assignment]  # our schema type


class TestQuery(BaseXmlModel, tag="testQuery"):
    """SCS 1.0 ``testQuery``: a cone that should return rows."""

    ra: Degrees = element(tag="ra")
    dec: Degrees = element(tag="dec")
    sr: Degrees = element(tag="sr")


class ConeSearch(Capability, tag="capability", ns="", nsmap={"cs": CONE_SEARCH_NS}):
    """The ``cs:ConeSearch`` capability of SCS 1.0 (ConeSearch-v1.0.xsd)."""

    standard_id: Literal["ivo://ivoa.net/std/ConeSearch"] = attr(  # type: ignore[assignment]  # fixed for SCS
        name="standardID", default="ivo://ivoa.net/std/ConeSearch"
    )
    type: Literal["cs:ConeSearch"] = attr(name="type", ns="xsi", default="cs:ConeSearch")
    interface: list[ParamHTTP] | None = element(tag="interface", default_factory=list)  # type: ignore[assignment]  # keeps queryType/resultType
    max_sr: Degrees = element(tag="maxSR")
    max_records: int = element(tag="maxRecords")
    verbosity: bool = element(tag="verbosity")
    test_query: TestQuery | None = element(tag="testQuery", default=None)


class ConeSearchCapabilities(
    VOSICapabilities,
    tag="capabilities",
    ns="vosi",
    nsmap={**CAPABILITIES_NSMAP, "cs": CONE_SEARCH_NS},
):
    """``/scs/capabilities``: the cone search and its VOSI capabilities endpoint."""

    capability: list[ConeSearch | Capability] = element(
        tag="capability", ns="", nsmap={"": ""}, default=[]
    )
