"""The embedded cluster, migrations and Q3C: the foundation every other test stands on."""

from __future__ import annotations

import math

import numpy as np
import psycopg
import pytest
from pydantic import SecretStr

from sql.database import discover_migrations, migrate, migration_status


def test_extensions_and_schemas_exist(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        extensions = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
    assert {"q3c", "pg_sphere"} <= extensions
    assert {"gaia", "labels", "xmatch", "ml", "uws", "tap_schema", "xpha"} <= schemas


def test_migrations_are_idempotent(db_url: str, test_settings) -> None:
    assert migrate(db_url, test_settings) == []
    assert all(applied for _, applied in migration_status(db_url))
    with psycopg.connect(db_url) as conn:
        count = conn.execute("SELECT count(*) FROM public.xpha_migrations").fetchone()[0]
    assert count == len(discover_migrations())


def test_a_changed_published_description_is_applied_again(db_url: str, test_settings) -> None:
    """A database migrated by an older release (older views and TAP_SCHEMA rows, recorded
    under another checksum) gets the current ones; hand-written migrations never re-run."""
    schema = test_settings.published_schema
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP VIEW {schema}.emitter_candidates")
        conn.execute(f"CREATE VIEW {schema}.emitter_candidates AS SELECT 1::bigint AS source_id")
        conn.execute("DELETE FROM tap_schema.columns WHERE column_name LIKE 'halpha_excess%'")
        conn.execute(
            "UPDATE public.xpha_migrations SET checksum = 'older release'"
            " WHERE version IN (3, 41, 43)"
        )
    stale = {m.version for m, applied in migration_status(db_url) if not applied}
    assert stale == {41, 43}
    assert [m.version for m in migrate(db_url, test_settings)] == [41, 43]
    assert migrate(db_url, test_settings) == []
    with psycopg.connect(db_url) as conn:
        conn.execute(f"SET ROLE {test_settings.tap_role}")  # the grant came back with the view
        columns = [
            c.name
            for c in conn.execute(f"SELECT * FROM {schema}.emitter_candidates LIMIT 0").description
        ]
        published = conn.execute(
            "SELECT count(*) FROM tap_schema.columns WHERE column_name LIKE 'halpha_excess%'"
        ).fetchone()[0]
    assert {"probability", "halpha_excess_ew", "halpha_excess_snr"} <= set(columns)
    assert published == 4  # two columns in emitter_candidates and emitter_scores


def test_xp_table_has_every_archive_column(db_url: str) -> None:
    archive_columns = ["source_id", "solution_id"] + [
        f"{band}_{name}"
        for band in ("bp", "rp")
        for name in (
            "basis_function_id",
            "degrees_of_freedom",
            "n_parameters",
            "n_measurements",
            "n_rejected_measurements",
            "standard_deviation",
            "chi_squared",
            "coefficients",
            "coefficient_errors",
            "coefficient_correlations",
            "n_relevant_bases",
            "relative_shrinking",
        )
    ]
    with psycopg.connect(db_url) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema='gaia'"
                " AND table_name='xp_continuous' ORDER BY ordinal_position"
            )
        ]
    assert columns == archive_columns


def test_xp_arrays_must_have_55_coefficients(db_url: str) -> None:
    with psycopg.connect(db_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO gaia.xp_continuous (source_id, bp_coefficients) VALUES (1, %s)",
            ([1.0] * 54,),
        )


def _angular_distance_deg(ra1, dec1, ra2, dec2):
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    hav = (
        np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    )
    return np.degrees(2 * np.arcsin(np.sqrt(hav)))


@pytest.mark.parametrize(
    ("ra0", "dec0", "radius"), [(10.0, 20.0, 0.5), (359.9, 0.0, 0.3), (0.0, 89.8, 0.4)]
)
def test_q3c_cone_matches_brute_force(db_url: str, ra0: float, dec0: float, radius: float) -> None:
    rng = np.random.default_rng(42)
    n = 20000
    ra = (ra0 + rng.uniform(-3, 3, n)) % 360.0
    dec = np.clip(dec0 + rng.uniform(-2, 2, n), -90, 90)
    ids = np.arange(n, dtype=np.int64) * (1 << 35) + 7  # spread over HEALPix partitions
    with psycopg.connect(db_url) as conn:
        with conn.cursor().copy("COPY gaia.source (source_id, ra, dec) FROM STDIN") as copy:
            for row in zip(ids.tolist(), ra.tolist(), dec.tolist(), strict=True):
                copy.write_row(row)
        conn.execute("ANALYZE gaia.source")
        found = {
            r[0]
            for r in conn.execute(
                "SELECT source_id FROM gaia.source WHERE q3c_radial_query(ra, dec, %s, %s, %s)",
                (ra0, dec0, radius),
            )
        }
    expected = set(ids[_angular_distance_deg(ra0, dec0, ra, dec) <= radius].tolist())
    assert expected, "the test cone must contain sources"
    assert found == expected
    assert not math.isnan(ra0)


def test_migrate_sets_the_tap_role_password_from_settings(db_url: str, test_settings) -> None:
    settings = test_settings.model_copy(update={"tap_role_password": SecretStr("s3cret'; --")})
    migrate(db_url, settings)
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (settings.tap_role,)
        ).fetchone()[0]
    migrate(db_url, test_settings)  # roles are cluster-wide: back to the derived password
    assert stored and stored.startswith(("SCRAM-SHA-256$", "md5"))


def test_cli_says_to_migrate_when_the_schema_is_older(pg_cluster, tmp_path) -> None:
    import os
    import subprocess
    import sys

    url = pg_cluster.ensure_database("xpha_unmigrated")
    env = {**os.environ, "XPHA_DATABASE_URL": url, "XPHA_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "xpha.cli", "labels", "summary"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    pg_cluster.drop_database("xpha_unmigrated")
    assert result.returncode == 1
    assert "run `xpha db migrate`" in result.stderr
    assert "Traceback" not in result.stderr
