"""Model artefacts on disk: ``<var>/models/<kind>-<version>/`` with config.json, the saved
normaliser and the weights; never overwritten, hashed for the registry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sql.errors import XphaError
from training.settings import TrainingSettings

CONFIG = "config.json"
NORMALISER = "normaliser.npz"


class ArtifactExistsError(XphaError):
    """A model directory for this kind and version is already there."""


def new_model_dir(settings: TrainingSettings, kind: str, version: str) -> Path:
    """Create the model's directory; an existing one is an error (models are immutable)."""
    path = settings.var_dir / "models" / f"{kind}-{version}"
    if path.exists():
        raise ArtifactExistsError(f"model directory {path} already exists; refusing to overwrite")
    path.mkdir(parents=True)
    return path


def write_config(path: Path, config: dict[str, Any]) -> None:
    (path / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True, default=str) + "\n")


def read_config(path: Path) -> dict[str, Any]:
    file = Path(path) / CONFIG
    if not file.exists():
        raise XphaError(f"{file} is missing: {path} is not a saved xpha model")
    return json.loads(file.read_text())


def sha256_dir(path: Path) -> str:
    """One hash over every file's relative name and bytes (what the registry records)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()
