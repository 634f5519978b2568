"""Who is an emitter: the mixture of H-alpha classes and their equivalent widths.

Most stars have no line added. Classical Be stars carry strong, broad emission; T Tauri stars
and dMe flare stars weak to moderate emission; 'hard negatives' get strengthened absorption,
so a detector must tell emission from absorption and not just flag "something at H-alpha".
EW in Angstrom, emission POSITIVE, absorption negative; widths are Gaussian σ in nm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EmitterClass:
    """One component: its share of all sources, |EW| range (log-uniform) and line width."""

    name: str
    fraction: float
    ew_min: float  # Angstrom, > 0
    ew_max: float
    sigma_min_nm: float
    sigma_max_nm: float
    sign: int = 1  # +1 emission, -1 absorption
    variability_dex: float = 0.15  # scatter of EW between the XP and the SDSS epoch


DEFAULT_MIXTURE: tuple[EmitterClass, ...] = (
    EmitterClass("be", 0.02, 5.0, 80.0, 0.3, 1.0, variability_dex=0.2),
    EmitterClass("ttauri", 0.01, 3.0, 60.0, 0.2, 0.6, variability_dex=0.25),
    EmitterClass("dme", 0.02, 1.0, 12.0, 0.1, 0.3, variability_dex=0.3),
    EmitterClass("hard_negative", 0.05, 1.0, 8.0, 0.5, 1.5, sign=-1, variability_dex=0.05),
)
NONE = "none"


def class_names(mixture: tuple[EmitterClass, ...] = DEFAULT_MIXTURE) -> tuple[str, ...]:
    """Index -> name: 0 is 'none', then the mixture's components in order."""
    return (NONE, *(component.name for component in mixture))


def scaled_mixture(emitter_scale: float) -> tuple[EmitterClass, ...]:
    """The default mixture with every non-'none' fraction multiplied (e.g. 0 for a quiet sky)."""
    from dataclasses import replace

    mixture = tuple(replace(c, fraction=c.fraction * emitter_scale) for c in DEFAULT_MIXTURE)
    if sum(c.fraction for c in mixture) > 1.0:
        from sql.errors import XphaError

        raise XphaError(f"--emitter-scale {emitter_scale} makes the class fractions exceed 1")
    return mixture


def load_mixture(path) -> tuple[EmitterClass, ...]:
    """A mixture from JSON: a list of {name, fraction, ew_min, ew_max, sigma_min_nm,
    sigma_max_nm[, sign, variability_dex]}; 'none' takes whatever fraction is left."""
    import json
    from pathlib import Path

    from sql.errors import XphaError

    path = Path(path)
    try:
        entries = json.loads(path.read_text())
        mixture = tuple(EmitterClass(**entry) for entry in entries)
    except (OSError, ValueError, TypeError) as exc:
        raise XphaError(f"mixture file {path}: {exc}") from exc
    for component in mixture:
        if component.name == NONE or not 0.0 <= component.fraction <= 1.0:
            raise XphaError(f"mixture file {path}: class {component.name!r} is not allowed "
                            "(name 'none' is implicit; fractions lie in 0..1)")  # fmt: skip
        if not 0.0 < component.ew_min <= component.ew_max or component.sign not in (1, -1):
            raise XphaError(f"mixture file {path}: class {component.name!r} needs "
                            "0 < ew_min <= ew_max and sign +1 or -1")  # fmt: skip
    if sum(c.fraction for c in mixture) > 1.0:
        raise XphaError(f"mixture file {path}: class fractions add up to more than 1")
    return mixture


@dataclass(frozen=True)
class LineDraw:
    """Per-source class index, true EW (Angstrom), line σ (nm) and EW at the SDSS epoch."""

    class_index: np.ndarray
    ew: np.ndarray
    sigma_nm: np.ndarray
    ew_other_epoch: np.ndarray


def draw_lines(
    rng: np.random.Generator, n: int, mixture: tuple[EmitterClass, ...] = DEFAULT_MIXTURE
) -> LineDraw:
    """Draw classes and lines for n sources."""
    fractions = np.array([c.fraction for c in mixture])
    probabilities = np.concatenate([[1.0 - fractions.sum()], fractions])
    class_index = rng.choice(len(probabilities), size=n, p=probabilities).astype(np.int8)
    unit = rng.random(n)
    width = rng.random(n)
    scatter = rng.standard_normal(n)
    ew = np.zeros(n)
    sigma = np.zeros(n)
    other = np.zeros(n)
    for k, component in enumerate(mixture, start=1):
        rows = class_index == k
        log_lo, log_hi = np.log10(component.ew_min), np.log10(component.ew_max)
        magnitude = 10 ** (log_lo + (log_hi - log_lo) * unit[rows])
        ew[rows] = component.sign * magnitude
        sigma[rows] = (
            component.sigma_min_nm + (component.sigma_max_nm - component.sigma_min_nm) * width[rows]
        )
        other[rows] = ew[rows] * 10 ** (component.variability_dex * scatter[rows])
    return LineDraw(class_index=class_index, ew=ew, sigma_nm=sigma, ew_other_epoch=other)
