"""One typed settings object for all of xpha (environment prefix ``XPHA_``).

Every component reads its configuration from :func:`get_settings`; nothing reads
``os.environ`` directly. Fields are grouped by the part of the system that uses them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration of every xpha component, from ``XPHA_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="XPHA_", case_sensitive=False, extra="ignore")

    # --- database -------------------------------------------------------------------------
    database_url: str | None = Field(
        None,
        description="An external PostgreSQL (with q3c and pg_sphere) to use instead of the "
        "embedded cluster, e.g. postgresql://user@db:5432/xpha (docker-compose sets this).",
    )
    var_dir: Path = Field(
        PROJECT_ROOT / "var",
        description="Where the embedded cluster, logs, models and demo data live.",
    )
    pg_port: int = Field(54329, description="Port of the embedded cluster (127.0.0.1 only).")
    pg_database: str = Field("xpha", description="Database name in the embedded cluster.")
    pg_superuser: str = Field("xpha", description="Owner role of the embedded cluster.")
    pg_bin_dir: Path | None = Field(
        None, description="Directory holding initdb/pg_ctl; found automatically when unset."
    )
    pg_os_user: str = Field(
        "postgres",
        description="Unprivileged OS user that runs the embedded cluster when xpha runs as root.",
    )

    # --- published schema and TAP ---------------------------------------------------------
    published_schema: str = Field("xpha", description="The schema TAP exposes (with tap_schema).")
    tap_role: str = Field("xpha_tap", description="Read-only database role TAP queries run as.")
    tap_role_password: SecretStr | None = Field(
        None, description="Password of the TAP role on an external database (trust when unset)."
    )
    tap_host: str = Field("127.0.0.1", description="Address `xpha serve` listens on.")
    tap_port: int = Field(8000, description="Port `xpha serve` listens on.")
    tap_base_url: str | None = Field(
        None, description="Public base URL of the service (for links in VOSI/UWS documents)."
    )

    # --- ingest ---------------------------------------------------------------------------
    ingest_chunk_rows: int = Field(
        5000, description="Rows parsed and COPYed per chunk; memory stays flat at any file size."
    )

    @property
    def pg_data_dir(self) -> Path:
        """Data directory of the embedded cluster."""
        return self.var_dir / "pgdata"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
