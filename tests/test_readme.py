"""The README keeps its promises: the two commands, CI calling the test command, the settings
reference generated from the one settings object, and CLI commands that really exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from readme_support import readme_block

from xpha.settings import reference_markdown

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
START, END = "<!-- settings-reference:start -->\n", "<!-- settings-reference:end -->"


def test_two_commands_and_ci() -> None:
    assert "make demo" in README and "make test" in README
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^demo: setup$", makefile, re.M) and re.search(
        r"^test: setup$", makefile, re.M
    )
    ci = [
        line
        for line in (REPO / ".ci/run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ci[-1].strip() == "make test"


def test_settings_reference_is_generated_from_the_settings() -> None:
    table = README.split(START, 1)[1].split(END, 1)[0]
    assert table == reference_markdown(), "run `python -m xpha.settings` and paste into README"


def xpha_help(*words: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "xpha.cli", *words, "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


@pytest.mark.parametrize(
    "words",
    [
        ("db", "start"),
        ("ingest", "gaia-xp"),
        ("ingest", "gaia-source"),
        ("fetch", "gaia-xp"),
        ("labels", "measure"),
        ("labels", "crossmatch"),
        ("simulate",),
        ("evaluate", "injection"),
        ("train", "compare"),
        ("train", "snapshot"),
        ("score",),
        ("models", "list"),
        ("serve",),
        ("demo",),
    ],
)
def test_documented_commands_exist(words: tuple[str, ...]) -> None:
    result = xpha_help(*words)
    assert result.returncode == 0, result.stderr


def test_compose_jobs_run_real_commands() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        command = service.get("command")
        if command:
            words = [w for w in command if not w.startswith("/") and not w.startswith("-")]
            words = [w for w in words if w not in ("current", "0.0.0.0", "8000")]
            assert xpha_help(*words).returncode == 0, f"compose service {name}: {command}"


def test_python_section_imports_what_exists() -> None:
    """The "From Python, without TAP" block compiles and names only what sql.alchemy has (it
    runs as written against the demo's database in tests/test_demo.py)."""
    import ast

    import sql.alchemy

    tree = ast.parse(readme_block("From Python, without TAP"))
    imported = [
        a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module == "sql.alchemy"
        for a in n.names
    ]
    assert imported and all(hasattr(sql.alchemy, name) for name in imported)
