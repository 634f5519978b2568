"""Connections and migrations: the one place that knows where the database is.

``database_url()`` answers with ``XPHA_DATABASE_URL`` when it is set (docker-compose, a real
server) and with the embedded cluster otherwise. Migrations are the numbered ``*.sql`` files in
``sql/migrations``, applied in order, each in its own transaction, and recorded in
``public.xpha_migrations`` so that applying them again changes nothing. The two migrations
generated from ``sql/published/xpha.yaml`` (the published views and TAP_SCHEMA rows) are
repeatable: they are applied again whenever their text changes, so a database migrated by an
older release serves the new description rather than the one it was first given.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as sql_module
from psycopg.conninfo import conninfo_to_dict

from sql.cluster import LocalCluster
from sql.errors import XphaError
from sql.published.render import HEADER as GENERATED_HEADER
from sql.published_statistics import refresh_published_statistics
from sql.settings import Settings, get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
log = logging.getLogger(__name__)
MIGRATION_LOCK = 7_341_001  # pg_advisory_xact_lock key: one migrator at a time


class DatabaseError(XphaError):
    """The database is unreachable or its schema is not what xpha expects."""


def embedded_cluster(settings: Settings | None = None) -> LocalCluster:
    """The project-managed cluster described by the settings."""
    settings = settings or get_settings()
    return LocalCluster(
        data_dir=settings.pg_data_dir,
        port=settings.pg_port,
        superuser=settings.pg_superuser,
        os_user=settings.pg_os_user,
        bin_dir=settings.pg_bin_dir,
    )


def database_url(settings: Settings | None = None) -> str:
    """Where xpha's database is: ``XPHA_DATABASE_URL`` or the embedded cluster."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_cluster(settings).url(settings.pg_database)


def one_row(cursor: psycopg.Cursor[Any]) -> tuple[Any, ...]:
    """The row of a query that always returns exactly one (an aggregate, RETURNING)."""
    row = cursor.fetchone()
    if row is None:
        raise XphaError("a query that always returns a row returned none")
    return row


def connect(url: str | None = None, **kwargs: object) -> psycopg.Connection:
    """Open a connection to xpha's database, with a clear error when it is not running."""
    url = url or database_url()
    try:
        return psycopg.connect(url, **kwargs)  # type: ignore[arg-type]  # psycopg's keywords, passed through
    except psycopg.OperationalError as exc:
        hint = (
            "start it with `xpha db start`"
            if not get_settings().database_url
            else "check XPHA_DATABASE_URL"
        )
        raise DatabaseError(
            f"cannot connect to the database ({_redact(url)}): {exc}; {hint}"
        ) from exc


@contextmanager
def transaction(url: str | None = None) -> Iterator[psycopg.Connection]:
    """A connection whose work commits on success and rolls back entirely on error."""
    with connect(url) as conn, conn.transaction():
        yield conn


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


# --- migrations ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def repeatable(self) -> bool:
        """Generated from the published description, written to be applied any number of
        times (views dropped and created, TAP_SCHEMA rows replaced)."""
        return self.sql.startswith(GENERATED_HEADER)

    def pending(self, applied: dict[int, str]) -> bool:
        """Never applied, or repeatable and changed since it was."""
        if self.version not in applied:
            return True
        return self.repeatable and applied[self.version] != self.checksum


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The numbered migrations in order; a misnamed or duplicate number is an error."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise DatabaseError(f"migration file {path.name!r} is not named NNN_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise DatabaseError(
                f"migrations {migrations[version].path.name} and {path.name} share number {version}"
            )
        migrations[version] = Migration(version, match.group(2), path)
    return [migrations[v] for v in sorted(migrations)]


def applied_migrations(conn: psycopg.Connection) -> dict[int, str]:
    exists = conn.execute("SELECT to_regclass('public.xpha_migrations')").fetchone()
    if not exists or exists[0] is None:
        return {}
    rows = conn.execute("SELECT version, checksum FROM public.xpha_migrations").fetchall()
    return {int(v): str(c) for v, c in rows}


def migrate(url: str | None = None, settings: Settings | None = None) -> list[Migration]:
    """Apply every migration not yet applied; returns those applied now.

    A migration's SQL may use ``{published_schema}`` and ``{tap_role}``, filled from settings.
    """
    settings = settings or get_settings()
    applied_now: list[Migration] = []
    with connect(url or database_url(settings), autocommit=True) as conn:
        for migration in discover_migrations():
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS public.xpha_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                if not migration.pending(applied_migrations(conn)):
                    continue
                sql = migration.sql.replace("{published_schema}", settings.published_schema)
                sql = sql.replace("{tap_role}", settings.tap_role)
                try:
                    conn.execute(sql.encode("utf-8"), prepare=False)
                except psycopg.Error as exc:
                    raise DatabaseError(f"migration {migration.path.name} failed: {exc}") from exc
                conn.execute(
                    "INSERT INTO public.xpha_migrations (version, name, checksum)"
                    " VALUES (%s, %s, %s) ON CONFLICT (version) DO UPDATE"
                    " SET checksum = EXCLUDED.checksum, applied_at = now()",
                    (migration.version, migration.name, migration.checksum),
                )
                applied_now.append(migration)
        # A fresh database, new or re-created published relations, or writes since the last
        # count: the published sizes are counted now (nothing is counted when nothing changed).
        refresh_published_statistics(conn, settings)
        _configure_tap_role(conn, settings, url or database_url(settings))
    return applied_now


def tap_role_password(settings: Settings, owner_url: str) -> str | None:
    """The TAP role's password: ``XPHA_TAP_ROLE_PASSWORD``, else one derived from the owner's
    (an HMAC of the owner password, so the embedded cluster and test clusters need no second
    secret file), else None (a server whose pg_hba admits the role some other way)."""
    if settings.tap_role_password is not None:
        return settings.tap_role_password.get_secret_value()
    owner = conninfo_to_dict(owner_url).get("password")
    if not owner:
        return None
    return hmac.new(
        str(owner).encode(), f"xpha tap role {settings.tap_role}".encode(), hashlib.sha256
    ).hexdigest()


def _configure_tap_role(conn: psycopg.Connection, settings: Settings, url: str) -> None:
    """Keep the TAP role's password and resource limits in step with the settings."""
    role = sql_module.Identifier(settings.tap_role)
    password = tap_role_password(settings, url)
    if password is not None:
        conn.execute(
            sql_module.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql_module.Literal(password))
        )
    for name, value in (
        ("temp_file_limit", settings.tap_temp_file_limit),
        ("work_mem", settings.tap_work_mem),
    ):
        try:
            conn.execute(
                sql_module.SQL("ALTER ROLE {} SET {} = {}").format(
                    role, sql_module.Identifier(name), sql_module.Literal(value)
                )
            )
        except psycopg.errors.InsufficientPrivilege:
            # temp_file_limit needs a superuser; a managed server's operator sets it.
            log.warning(
                "could not set %s of the TAP role (needs a superuser): set it with "
                "ALTER ROLE %s SET %s = '%s'",
                name,
                settings.tap_role,
                name,
                value,
            )


def migration_status(url: str | None = None) -> list[tuple[Migration, bool]]:
    """Each known migration with whether the database has it (a changed repeatable one
    counts as not yet applied)."""
    with connect(url) as conn:
        done = applied_migrations(conn)
    return [(m, not m.pending(done)) for m in discover_migrations()]
