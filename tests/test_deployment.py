"""docker-compose.yml: valid for Debian's docker-compose, with the services, profiles, volumes and
health checks the README promises. (No Docker engine runs here, so images are not built.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")


PASSWORDS = {"XPHA_DB_PASSWORD": "db-secret-from-env", "XPHA_TAP_ROLE_PASSWORD": "tap-secret"}


def compose_config(env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    """docker-compose's own reading of the file, with only ``env`` (and PATH) set."""
    return subprocess.run(
        [COMPOSE, "-f", str(REPO / "docker-compose.yml"), "--profile", "jobs", "config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **env},
    )


@pytest.fixture(scope="module")
def config() -> dict:
    """The fully resolved configuration, as docker-compose itself reads the file."""
    result = compose_config(PASSWORDS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_there_are_no_default_passwords() -> None:
    """Without the two passwords, docker-compose refuses to start anything and says which."""
    result = compose_config({})
    assert result.returncode != 0
    assert "set XPHA_DB_PASSWORD" in result.stderr or "set XPHA_TAP_ROLE_PASSWORD" in (
        result.stderr
    )


def test_passwords_come_from_the_environment(config: dict) -> None:
    services = config["services"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == "db-secret-from-env"
    env = services["tap"]["environment"]
    assert env["XPHA_DATABASE_URL"].startswith("postgresql://xpha:db-secret-from-env@")
    assert env["XPHA_TAP_ROLE_PASSWORD"] == "tap-secret"
    text = (REPO / "docker-compose.yml").read_text()
    assert ":-xpha" not in text and ":-xpha_tap" not in text


def test_default_services_are_db_migrate_tap(config: dict) -> None:
    default = {name for name, s in config["services"].items() if not s.get("profiles")}
    assert default == {"db", "migrate", "tap"}
    assert set(config["volumes"]) >= {"pgdata", "xpha-var"}


def test_jobs_profile_adds_one_shot_jobs(config: dict) -> None:
    services = config["services"]
    for job in ("ingest", "train", "score"):
        assert "jobs" in services[job]["profiles"]
    for job in ("ingest", "train", "score", "migrate"):
        assert services[job]["restart"] == "no"


def test_services_wait_for_a_healthy_database(config: dict) -> None:
    services = config["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    for name in ("migrate", "tap", "ingest", "train", "score"):
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["tap"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_app_is_configured_by_xpha_environment(config: dict) -> None:
    services = config["services"]
    env = services["tap"]["environment"]
    assert env["XPHA_DATABASE_URL"].startswith("postgresql://xpha:")
    assert "@db:5432/xpha" in env["XPHA_DATABASE_URL"]
    assert str(services["tap"]["ports"][0]).startswith("127.0.0.1:") or (
        services["tap"]["ports"][0].get("host_ip") == "127.0.0.1"
    )


@pytest.mark.parametrize("dockerfile", ["sql/Dockerfile", "tap_service/Dockerfile"])
def test_dockerfiles_exist_and_pin_what_matters(dockerfile: str) -> None:
    text = (REPO / dockerfile).read_text()
    if dockerfile.startswith("sql/"):
        assert "postgresql-15-q3c" in text and "postgresql-15-pgsphere" in text
    else:
        assert "torch==2.13.0" in text and 'ENTRYPOINT ["xpha"]' in text
