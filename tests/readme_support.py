"""The README's code blocks, for tests that run them as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def readme_block(heading: str, language: str = "python") -> str:
    """The first ``language`` code block under the README section ``## {heading}``."""
    section = README.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def run_python_block(code: str, **environment: str) -> subprocess.CompletedProcess:
    """Run a block in a fresh interpreter from the repository root, as a reader would."""
    env = {**os.environ, **environment}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
        check=False,
    )
