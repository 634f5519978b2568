"""Python access to the published schema without TAP: SQLAlchemy Core, Q3C and pgSphere.

For a notebook or pipeline step next to the database::

    from sqlalchemy import select
    from sql.alchemy import cone, published_tables, read_only_engine, read_table

    c = published_tables().emitter_candidates
    with read_only_engine().connect() as conn:
        near = read_table(conn, select(c.source_id, c.probability)
                          .where(cone(c.ra, c.dec, 280.0, -5.0, 1.0)))

The tables are generated from ``sql/published/xpha.yaml`` (as the views and TAP_SCHEMA are),
the sky helpers compile to index-using Q3C SQL, and results keep the published units.
"""

from sql.alchemy.engine import read_only_engine, sqlalchemy_url
from sql.alchemy.frames import column_info, read_frame, read_table, units_of
from sql.alchemy.sky import (
    Degrees,
    SCircle,
    SPoint,
    SPoly,
    cone,
    contains,
    crossmatch,
    distance,
    polygon,
    positions,
    scircle,
    sphere_distance,
    spoint,
    spoly,
)
from sql.alchemy.tables import PublishedTables, published_tables

__all__ = [
    "Degrees",
    "PublishedTables",
    "SCircle",
    "SPoint",
    "SPoly",
    "column_info",
    "cone",
    "contains",
    "crossmatch",
    "distance",
    "polygon",
    "positions",
    "published_tables",
    "read_frame",
    "read_only_engine",
    "read_table",
    "scircle",
    "sphere_distance",
    "spoint",
    "spoly",
    "sqlalchemy_url",
    "units_of",
]
