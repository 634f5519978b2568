"""A read-only SQLAlchemy engine on xpha's database (the psycopg 3 dialect).

It finds the database exactly as every xpha command does (``XPHA_DATABASE_URL``, else the
embedded cluster of ``xpha db start``), and every transaction it opens is read-only, so a
notebook or pipeline step next to the database cannot change what the service publishes by
accident. Permissions still come from the URL's role; read-only is a guard, not a grant.
"""

from __future__ import annotations

from typing import Any

from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url

from sql.database import database_url
from sql.settings import Settings

READ_ONLY = "-c default_transaction_read_only=on"
DIALECT = "postgresql+psycopg"


def sqlalchemy_url(url: str) -> URL:
    """A libpq URL (``postgresql://...``) as a SQLAlchemy URL of the psycopg 3 dialect."""
    return make_url(url).set(drivername=DIALECT)


def read_only_engine(
    url: str | None = None, settings: Settings | None = None, **engine_options: Any
) -> Engine:
    """An engine whose sessions start every transaction read-only."""
    url = url or database_url(settings)
    options = conninfo_to_dict(url).get("options")
    connect_args = {
        "options": f"{options} {READ_ONLY}" if options else READ_ONLY,
        "application_name": "xpha-python",
    }
    return create_engine(sqlalchemy_url(url), connect_args=connect_args, **engine_options)
