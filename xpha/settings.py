"""The settings of the whole house: every part's model joined, plus the demo's own.

``xpha demo`` runs every part in one process, so its settings are all of theirs; the README's
configuration table is generated here from each part's model (a test keeps them in step).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from ingest.settings import IngestSettings
from sql.settings import XPHA_SETTINGS, Settings, cached_settings
from tap_service.settings import TapSettings
from training.settings import TrainingSettings


class DemoSettings(BaseSettings):
    """What `xpha demo` builds."""

    model_config = XPHA_SETTINGS

    demo_n_sources: int = Field(
        100_000,
        description="Simulated sources in `xpha demo` (chosen to finish in under 15 "
        "minutes on 2 cores; larger with --n-sources).",
    )
    demo_sdss_fraction: float = Field(
        0.03, description="Share of the demo's simulated sources given an SDSS spectrum."
    )
    demo_lamost_fraction: float = Field(
        0.02, description="Share of the demo's simulated sources in its LAMOST-like catalogue."
    )
    demo_dae_epochs: int = Field(3, description="Autoencoder phase-1 epochs in the demo (brief).")


class XphaSettings(IngestSettings, TrainingSettings, TapSettings, DemoSettings):
    """Every part's settings in one object (the demo, tests that run the whole chain)."""


# In the README's order: the base first, then each part's own variables.
PARTS: tuple[type[BaseSettings], ...] = (
    Settings,
    DemoSettings,
    IngestSettings,
    TrainingSettings,
    TapSettings,
)


def get_settings() -> XphaSettings:
    """Every setting of this process."""
    return cached_settings(XphaSettings)


def reference_markdown() -> str:
    """The configuration reference (README): every ``XPHA_*`` variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    seen: set[str] = set()
    for part in PARTS:
        for name, field in part.model_fields.items():
            if name in seen:
                continue
            seen.add(name)
            default = field.default
            if isinstance(default, Path) and not default.is_absolute():
                default = f"./{default}"
            shown = "" if default is None else f"`{default}`"
            meaning = " ".join((field.description or "").split()).replace("|", "\\|")
            lines.append(f"| `XPHA_{name.upper()}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
