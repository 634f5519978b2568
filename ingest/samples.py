"""The real sample files shipped inside the ingest package (``ingest/data/real``, each folder
with its PROVENANCE.md), found through importlib.resources wherever the package is installed."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def real_sample(relative: str = "") -> Path:
    """A shipped real sample file or folder, as a path (the package is installed unzipped)."""
    return Path(str(files("ingest").joinpath("data", "real", *filter(None, relative.split("/")))))


def package_data(package: str, name: str) -> Path:
    """A data file shipped in ``package``'s data/ folder, as a path."""
    return Path(str(files(package).joinpath("data", name)))
