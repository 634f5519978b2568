"""The IVOA XML schemas taplint validates against (vendored in tests/data/vosi_xsd), as one
lxml ``XMLSchema`` that checks VOSI, VODataService, TAPRegExt and UWS documents offline."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

XSD_DIR = Path(__file__).parent / "data" / "vosi_xsd"
SCHEMAS = {  # namespace -> vendored file, in import order
    "http://www.w3.org/XML/1998/namespace": "xmlnamespace.xsd",
    "http://www.w3.org/1999/xlink": "xlink.xsd",
    "http://www.ivoa.net/xml/STC/stc-v1.30.xsd": "stc-v1.30.xsd",
    "http://www.ivoa.net/xml/VOResource/v1.0": "VOResource-v1.0.xsd",
    "http://www.ivoa.net/xml/VODataService/v1.1": "VODataService-v1.1.xsd",
    "http://www.ivoa.net/xml/TAPRegExt/v1.0": "TAPRegExt-v1.0-Erratum1.xsd",
    "http://www.ivoa.net/xml/VOSICapabilities/v1.0": "VOSICapabilities-v1.0.xsd",
    "http://www.ivoa.net/xml/VOSITables/v1.0": "VOSITables-v1.1.xsd",
    "http://www.ivoa.net/xml/VOSIAvailability/v1.0": "VOSIAvailability-v1.0.xsd",
    "http://www.ivoa.net/xml/UWS/v1.0": "UWS-v1.1.xsd",
}


class _LocalSchemas(etree.Resolver):
    """Resolve every schemaLocation (an ivoa.net/w3.org URL) to a vendored copy, looked up in
    ``directories`` in order."""

    def __init__(self, *directories: Path) -> None:
        super().__init__()
        self.directories = directories

    def resolve(self, url: str, pubid: str, context: object) -> object:
        name = url.rsplit("/", 1)[-1]
        for directory in self.directories:
            local = directory / ("xmlnamespace.xsd" if name == "xml.xsd" else name)
            if local.exists():
                return self.resolve_filename(str(local), context)
        return None


def ivoa_schema(*overrides: Path) -> etree.XMLSchema:
    """Every vendored schema in one; a file in an ``overrides`` directory replaces the vendored
    file of the same name."""
    directories = (*overrides, XSD_DIR)

    def location(name: str) -> str:
        return next(d / name for d in directories if (d / name).exists()).as_uri()

    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{location(f)}"/>' for ns, f in SCHEMAS.items()
    )
    wrapper = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas(*directories))
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser, base_url=str(XSD_DIR) + "/"))
