"""Shared fixtures: a throwaway PostgreSQL cluster (with q3c and pg_sphere) for the test session.

The cluster lives in its own temporary directory on a free port and is destroyed at the end;
no test ever touches the embedded cluster under ./var. ``migrated_template`` is a database with
every migration applied; ``db_url`` gives each test a fresh copy of it (CREATE DATABASE ...
TEMPLATE is fast), so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sql.cluster import LocalCluster, free_port
from sql.database import migrate
from xpha.settings import XphaSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = REPO_ROOT / "ingest" / "data" / "real"
TEMPLATE_DB = "xpha_template"
_db_counter = itertools.count()


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The shipped real Gaia/SDSS/LAMOST sample files (see their PROVENANCE.md)."""
    return REAL_DATA


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    """A PostgreSQL 15 cluster for this test session only."""
    base = Path(tempfile.mkdtemp(prefix="xpha-test-pg-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster(data_dir=base / "data", port=free_port())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def test_settings() -> XphaSettings:
    """Every part's settings as the tests use them (defaults, independent of the caller's
    environment)."""
    return XphaSettings(database_url=None)


@pytest.fixture(scope="session")
def migrated_template(pg_cluster: LocalCluster, test_settings: XphaSettings) -> str:
    """A database with every migration applied, used as the template of per-test databases."""
    url = pg_cluster.ensure_database(TEMPLATE_DB)
    migrate(url, test_settings)
    return url


@pytest.fixture
def db_url(pg_cluster: LocalCluster, migrated_template: str) -> Iterator[str]:
    """URL of a fresh, fully migrated database for one test (dropped afterwards)."""
    name = f"xpha_test_{os.getpid()}_{next(_db_counter)}"
    url = pg_cluster.ensure_database(name, template=TEMPLATE_DB)
    try:
        yield url
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def module_db_url(pg_cluster: LocalCluster, migrated_template: str) -> Iterator[str]:
    """Like ``db_url`` but shared by the tests of one module (for expensive set-up)."""
    name = f"xpha_mod_{os.getpid()}_{next(_db_counter)}"
    url = pg_cluster.ensure_database(name, template=TEMPLATE_DB)
    try:
        yield url
    finally:
        pg_cluster.drop_database(name)
