"""The embedded PostgreSQL cluster: a project-managed ``initdb`` data directory on 127.0.0.1.

PostgreSQL refuses to run as root, so when xpha runs as root (CI, containers) every server
command runs as an unprivileged OS user (``postgres`` by default) that owns the data directory.
Tests use the same class with a throwaway directory and a free port.

Every connection authenticates with scram-sha-256: the owner role's password is generated at
``initdb`` and kept, mode 0600, in ``secrets/`` beside the data directory (``var/secrets``),
so that no other local user can connect as the superuser (which could run programs through
``COPY ... TO PROGRAM``). A cluster made by an older xpha with ``trust`` is switched over the
next time it starts.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import psycopg.sql

from sql.errors import XphaError

CLUSTER_CONF = """
# --- written by xpha: tuned for one machine, bulk loads and Q3C queries ---
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 200
shared_buffers = '512MB'
work_mem = '32MB'
maintenance_work_mem = '512MB'
effective_cache_size = '4GB'
wal_level = minimal
max_wal_senders = 0
max_wal_size = '4GB'
synchronous_commit = off
checkpoint_timeout = '15min'
jit = off
logging_collector = off
"""


class ClusterError(XphaError):
    """The embedded cluster could not be created, started or stopped."""


def find_pg_bin_dir() -> Path:
    """Locate the PostgreSQL 15 server binaries (initdb, pg_ctl)."""
    candidates = [Path("/usr/lib/postgresql/15/bin")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(out.stdout.strip()))
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise ClusterError(
        "PostgreSQL 15 server binaries not found (looked in "
        + ", ".join(map(str, candidates))
        + "). Install postgresql-15, or set XPHA_DATABASE_URL to use an existing server."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalCluster:
    """A PostgreSQL cluster in ``data_dir`` listening on ``127.0.0.1:port``."""

    data_dir: Path
    port: int
    superuser: str = "xpha"
    os_user: str = "postgres"
    bin_dir: Path | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.bin_dir = self.bin_dir or find_pg_bin_dir()

    # --- helpers ------------------------------------------------------------------------
    @property
    def _as_other_user(self) -> bool:
        return os.geteuid() == 0

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def password_file(self) -> Path:
        return self.data_dir.parent / "secrets" / f"{self.data_dir.name}-{self.superuser}.password"

    @property
    def password(self) -> str:
        """The owner role's password, generated (and kept 0600) the first time it is needed."""
        path = self.password_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_urlsafe(24))
        return path.read_text(encoding="utf-8").strip()

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        assert self.bin_dir is not None
        command = [str(self.bin_dir / tool), *args]
        if self._as_other_user:
            command = ["runuser", "-u", self.os_user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise ClusterError(
                f"{tool} {' '.join(args)} failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def _prepare_directories(self) -> None:
        """Create the data directory's parent and hand it to the server's OS user."""
        parent = self.data_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        if not self._as_other_user:
            return
        try:
            user = pwd.getpwnam(self.os_user)
        except KeyError as exc:
            raise ClusterError(
                f"running as root, but OS user {self.os_user!r} (XPHA_PG_OS_USER) does not "
                "exist; install postgresql-15 or create the user"
            ) from exc
        # The server user must be able to reach the data directory through every parent.
        for directory in [parent, *parent.parents]:
            mode = directory.stat().st_mode
            if not mode & 0o001:
                os.chmod(directory, mode | 0o001)
        os.chown(parent, user.pw_uid, user.pw_gid)
        if self.data_dir.exists():
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)

    # --- lifecycle ----------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """``initdb`` the data directory (no-op when it already holds a cluster)."""
        if self.initialised:
            return
        self._prepare_directories()
        # initdb reads the password from a file its (perhaps other) OS user can read, which
        # is removed at once; the kept copy stays readable by this user only.
        handover = self.data_dir.parent / f".{self.data_dir.name}-initdb-password"
        descriptor = os.open(handover, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(self.password)
        try:
            if self._as_other_user:
                user = pwd.getpwnam(self.os_user)
                os.chown(handover, user.pw_uid, user.pw_gid)
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.superuser,
                "--auth=scram-sha-256",
                f"--pwfile={handover}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            handover.unlink(missing_ok=True)
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(CLUSTER_CONF.format(port=self.port))

    def is_running(self) -> bool:
        if not self.initialised:
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def start(self, timeout: float = 60.0) -> None:
        """Start the server (initialising it first if needed) and wait until it accepts."""
        self.init()
        if not self.is_running():
            self._prepare_directories()
            self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                str(int(timeout)),
            )
        self._require_passwords()
        self.wait_ready(timeout)

    def _require_passwords(self) -> None:
        """Switch a cluster made with ``trust`` (older xpha) to scram-sha-256, once."""
        hba = self.data_dir / "pg_hba.conf"
        lines = self._read_as_owner(hba).splitlines()
        if not any(line.split()[-1:] == ["trust"] for line in lines if not line.startswith("#")):
            return
        self.wait_ready_with(f"postgresql://{self.superuser}@127.0.0.1:{self.port}/postgres", 60)
        with psycopg.connect(
            f"postgresql://{self.superuser}@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute(
                psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    psycopg.sql.Identifier(self.superuser), psycopg.sql.Literal(self.password)
                )
            )
            self._write_as_owner(
                hba,
                "\n".join(
                    line
                    if line.startswith("#") or line.split()[-1:] != ["trust"]
                    else line.rsplit("trust", 1)[0] + "scram-sha-256"
                    for line in lines
                )
                + "\n",
            )
            conn.execute("SELECT pg_reload_conf()")

    def _read_as_owner(self, path: Path) -> str:
        if not self._as_other_user:
            return path.read_text(encoding="utf-8")
        return subprocess.run(
            ["runuser", "-u", self.os_user, "--", "cat", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def _write_as_owner(self, path: Path, text: str) -> None:
        if not self._as_other_user:
            path.write_text(text, encoding="utf-8")
            return
        subprocess.run(
            ["runuser", "-u", self.os_user, "--", "tee", str(path)],
            input=text,
            capture_output=True,
            text=True,
            check=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        self.wait_ready_with(self.url("postgres"), timeout)

    def wait_ready_with(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(url, connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(f"cluster on port {self.port} not ready: {exc}") from exc
                time.sleep(0.2)

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w")

    def destroy(self) -> None:
        """Stop the server and delete its data directory (throwaway test clusters)."""
        self.stop(mode="immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)

    # --- databases ------------------------------------------------------------------------
    def url(self, database: str) -> str:
        password = quote(self.password, safe="")
        return f"postgresql://{self.superuser}:{password}@127.0.0.1:{self.port}/{database}"

    def ensure_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` if missing; returns its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                statement = f'CREATE DATABASE "{name}"'
                if template:
                    statement += f' TEMPLATE "{template}"'
                conn.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
