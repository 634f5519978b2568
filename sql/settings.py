"""The database's settings, the base of every part's settings (environment prefix ``XPHA_``).

Each part has one typed pydantic-settings model that extends :class:`Settings` with its own
fields (``ingest.settings``, ``training.settings``; the composition root ``xpha.settings``
joins them for ``xpha demo``); nothing reads ``os.environ`` directly. Field names are the
``XPHA_*`` variable names, so a field moving between parts renames nothing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TypeVar, cast

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every part's model: XPHA_ variables; a keyword that names no field is an error, not ignored
# (another part's variables in the environment are simply not read).
XPHA_SETTINGS = SettingsConfigDict(env_prefix="XPHA_", case_sensitive=False, extra="forbid")
AnySettings = TypeVar("AnySettings", bound=BaseSettings)


class Settings(BaseSettings):
    """The database, where run outputs live, and the published schema's read-only TAP role."""

    model_config = XPHA_SETTINGS

    # --- database -------------------------------------------------------------------------
    database_url: str | None = Field(
        None,
        description="An external PostgreSQL (with q3c and pg_sphere) to use instead of the "
        "embedded cluster, e.g. postgresql://user@db:5432/xpha (docker-compose sets this).",
    )
    var_dir: Path = Field(
        Path("var"),
        description="Where the embedded cluster, logs, models, reports and demo data live; a "
        "relative path is taken from the working directory when xpha starts.",
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

    # --- what the database publishes, and the TAP role it grants it to ----------------------
    published_schema: str = Field("xpha", description="The schema TAP exposes (with tap_schema).")
    tap_role: str = Field("xpha_tap", description="Read-only database role TAP queries run as.")
    tap_role_password: SecretStr | None = Field(
        None, description="Password of the TAP role on an external database (trust when unset)."
    )
    tap_temp_file_limit: str = Field(
        "2GB", description="PostgreSQL temp_file_limit of the TAP role (sorts and hashes on disk)."
    )
    tap_work_mem: str = Field("32MB", description="PostgreSQL work_mem of the TAP role.")

    @field_validator("var_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        """Fixed when the settings are read: a later chdir, or a Dask worker elsewhere, sees the
        same directory."""
        return path.absolute()

    @property
    def pg_data_dir(self) -> Path:
        """Data directory of the embedded cluster."""
        return self.var_dir / "pgdata"


@cache
def _cached(model: type[BaseSettings]) -> BaseSettings:
    return model()


def cached_settings(model: type[AnySettings]) -> AnySettings:
    """The process-wide settings of one part's model, read once from the environment."""
    return cast(AnySettings, _cached(model))


def clear_cached_settings() -> None:
    """Forget every part's cached settings (tests that change the environment)."""
    _cached.cache_clear()


def get_settings() -> Settings:
    """The database settings of this process."""
    return cached_settings(Settings)
