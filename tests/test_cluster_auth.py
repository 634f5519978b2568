"""Database authentication (issue 12): no local user reaches the embedded cluster without its
password, the TAP role is limited, and a cluster made with ``trust`` is switched over."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import psycopg
import pytest
from tap_support import tap_settings

from sql.cluster import LocalCluster, free_port
from sql.database import migrate, tap_role_password
from tap_service.query import tap_conninfo


@pytest.fixture(scope="module")
def cluster():
    base = Path(tempfile.mkdtemp(prefix="xpha-test-auth-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster(data_dir=base / "data", port=free_port())
    cluster.start()
    yield cluster
    cluster.destroy()


def without_password(url: str) -> str:
    return url.replace(f":{url.split(':')[2].split('@')[0]}@", "@")


def test_the_owner_needs_its_password(cluster: LocalCluster) -> None:
    url = cluster.url("postgres")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == cluster.superuser
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(without_password(url), connect_timeout=5)
    wrong = url.replace(cluster.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)


def test_the_password_is_kept_for_its_owner_only(cluster: LocalCluster) -> None:
    mode = stat.S_IMODE(cluster.password_file.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(cluster.password_file.parent.stat().st_mode) == 0o700
    assert len(cluster.password) >= 24
    hba = cluster._read_as_owner(cluster.data_dir / "pg_hba.conf")
    rules = [line.split() for line in hba.splitlines() if line.strip() and line[0] != "#"]
    assert rules and all(rule[-1] == "scram-sha-256" for rule in rules)


def test_the_tap_role_logs_in_with_its_password_and_has_limits(cluster: LocalCluster) -> None:
    url = cluster.ensure_database("auth_tap")
    settings = tap_settings(url)
    migrate(url, settings)
    with psycopg.connect(tap_conninfo(settings, url)) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == settings.tap_role
        assert conn.execute("SHOW temp_file_limit").fetchone()[0] == settings.tap_temp_file_limit
        assert conn.execute("SHOW work_mem").fetchone()[0] == settings.tap_work_mem
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'true'")
    password = tap_role_password(settings, url)
    assert password and password != cluster.password
    no_password = f"postgresql://{settings.tap_role}@127.0.0.1:{cluster.port}/auth_tap"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(no_password, connect_timeout=5)


def test_a_cluster_made_with_trust_is_switched_to_passwords(tmp_path: Path) -> None:
    """What an older xpha left behind: trust on loopback. The next start requires passwords."""
    os.chmod(tmp_path, 0o755)
    cluster = LocalCluster(data_dir=tmp_path / "old", port=free_port())
    cluster.start()
    try:
        hba = cluster.data_dir / "pg_hba.conf"
        text = cluster._read_as_owner(hba).replace("scram-sha-256", "trust")
        cluster._write_as_owner(hba, text)
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f"ALTER ROLE {cluster.superuser} PASSWORD NULL")
        bare = f"postgresql://{cluster.superuser}@127.0.0.1:{cluster.port}/postgres"
        psycopg.connect(bare, connect_timeout=5).close()  # trust: anyone gets in
        cluster.stop()
        cluster.start()
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(bare, connect_timeout=5)
        psycopg.connect(cluster.url("postgres"), connect_timeout=5).close()
    finally:
        cluster.destroy()
