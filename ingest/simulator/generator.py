"""The synthetic sky, chunk by chunk: deterministic in the seed, flat in memory.

Each chunk has its own random stream spawned from the run's SeedSequence, so the output depends
only on (seed, parameters, chunk size), never on timing or on how far a previous run got.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ingest.settings import IngestSettings
from ingest.simulator.continua import (
    ParentLibrary,
    error_scale,
    g_flux_of,
    load_parents,
    magnitude,
)
from ingest.simulator.parents import allowed_rows
from ingest.simulator.population import DEFAULT_MIXTURE, EmitterClass, draw_lines
from ingest.simulator.sky import galactic_to_equatorial, sample_galactic, source_ids
from ingest.xp_physics.lsf import LineInjector, band_model
from sql.errors import XphaError

G_LIMIT_XP = 17.65  # DR3 published XP continuous spectra down to G = 17.65
TRANSIT_EXPOSURE_S = 4.4  # one BP/RP CCD integration per field-of-view transit


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that determines a simulated sky (recorded in the manifest)."""

    n_sources: int
    seed: int = 0
    chunk_rows: int = 50_000
    density: str = "disc"
    disc_scale: float = 0.12
    g_min: float = 10.0
    g_max: float = G_LIMIT_XP
    g_slope: float = 0.35  # dN/dG ∝ 10^(slope G)
    mixture: tuple[EmitterClass, ...] = DEFAULT_MIXTURE
    sdss_fraction: float = 0.0
    lamost_fraction: float = 0.0
    u_shift: float = 0.0  # LSF pseudo-wavelength shift (docs: +0.2 centres the RP image)
    parents: tuple[int, ...] = ()  # source_ids of the only parents copied (empty: all)
    exclude_parents: tuple[int, ...] = ()  # source_ids never copied
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["mixture"] = [asdict(c) for c in self.mixture]
        return data


def config_from_settings(
    settings: IngestSettings,
    n_sources: int,
    seed: int = 0,
    *,
    sdss_fraction: float = 0.0,
    lamost_fraction: float = 0.0,
    mixture: tuple[EmitterClass, ...] = DEFAULT_MIXTURE,
    chunk_rows: int | None = None,
    density: str | None = None,
    parents: tuple[int, ...] = (),
    exclude_parents: tuple[int, ...] = (),
) -> SimulationConfig:
    """A simulation configured from the ``XPHA_SIMULATOR_*`` settings plus the run's choices."""
    if sdss_fraction + lamost_fraction > 1.0:
        raise XphaError("the SDSS and LAMOST fractions must not add up to more than 1")
    return SimulationConfig(
        n_sources=n_sources,
        seed=seed,
        chunk_rows=chunk_rows or settings.simulator_chunk_rows,
        density=density or settings.simulator_density,
        disc_scale=settings.simulator_disc_scale,
        g_min=settings.simulator_g_range[0],
        g_max=settings.simulator_g_range[1],
        mixture=mixture,
        sdss_fraction=sdss_fraction,
        lamost_fraction=lamost_fraction,
        u_shift=settings.simulator_lsf_u_shift,
        parents=tuple(int(p) for p in parents),
        exclude_parents=tuple(int(p) for p in exclude_parents),
    )


@dataclass
class Chunk:
    """n simulated sources: the gaia_source facts, the XP record and the truth."""

    index: int
    running: np.ndarray  # global running number
    source_id: np.ndarray
    parent: np.ndarray  # parent library row
    ra: np.ndarray
    dec: np.ndarray
    l: np.ndarray  # noqa: E741
    b: np.ndarray
    parallax: np.ndarray
    pmra: np.ndarray
    pmdec: np.ndarray
    g_mag: np.ndarray
    g_flux: np.ndarray
    bp_flux: np.ndarray
    rp_flux: np.ndarray
    bp_rp: np.ndarray
    scale: np.ndarray  # flux ratio to the parent
    n_transits: np.ndarray
    bp: np.ndarray  # (n, 55), NaN rows where BP is missing
    rp: np.ndarray
    bp_err: np.ndarray
    rp_err: np.ndarray
    sdss_continuum_bp: np.ndarray  # in_sdss rows: scaled parent, no line, no added XP noise
    sdss_continuum_rp: np.ndarray
    continuum_halpha: np.ndarray  # W m^-2 nm^-1
    class_index: np.ndarray
    ew: np.ndarray
    sigma_nm: np.ndarray
    ew_other_epoch: np.ndarray
    in_sdss: np.ndarray
    in_lamost: np.ndarray
    rng_state: Mapping[str, Any]  # for the per-chunk writers that need more random numbers

    def __len__(self) -> int:
        return len(self.source_id)

    def rng(self) -> np.random.Generator:
        generator = np.random.Generator(np.random.PCG64())
        generator.bit_generator.state = self.rng_state
        return generator


def target_g(rng: np.random.Generator, n: int, config: SimulationConfig) -> np.ndarray:
    """G magnitudes with dN/dG ∝ 10^(slope G) between g_min and g_max (inverse CDF)."""
    k = config.g_slope * np.log(10.0)
    lo, hi = np.exp(k * config.g_min), np.exp(k * config.g_max)
    return np.log(lo + (hi - lo) * rng.random(n)) / k


def _noise(
    rng: np.random.Generator, library: ParentLibrary, band: str, parent: np.ndarray, sigma
) -> np.ndarray:
    """Gaussian noise with per-coefficient σ and the parent's correlations where it has them."""
    z = rng.standard_normal(sigma.shape, dtype=np.float32).astype(np.float64)
    table = library.bp_correlations if band == "bp" else library.rp_correlations
    for row in table:
        rows = np.flatnonzero(parent == row)
        if rows.size:
            factor = library.correlation_factor(band, row)
            assert factor is not None  # every parent in the table has correlations
            z[rows] = z[rows] @ factor.T
    z *= sigma
    return z


BRIGHTENING_LIMIT_MAG = 0.5  # a copy is at most this much brighter than its parent
MIN_PARENTS = 20


def choose_parents(
    library: ParentLibrary,
    g_new: np.ndarray,
    rng: np.random.Generator,
    rows: np.ndarray | None = None,
):
    """A parent for each target G among stars no fainter than G + 0.5 mag (among ``rows`` of
    the library when given).

    Scaling a faint parent up would scale its noise realisation up too, leaving a bright copy
    far noisier than its (shrunk) quoted errors; scaling down is safe because the missing
    noise is added. The brightest MIN_PARENTS stars are always eligible.
    """
    rows = np.arange(len(library)) if rows is None else rows
    order = rows[np.argsort(library.g_mag[rows], kind="stable")]
    limit = np.searchsorted(library.g_mag[order], g_new + BRIGHTENING_LIMIT_MAG)
    eligible = np.minimum(np.maximum(limit, MIN_PARENTS), len(order))
    return order[(rng.random(len(g_new)) * eligible).astype(np.int64)]


def perturbed_copies(
    library: ParentLibrary, parent: np.ndarray, g_new: np.ndarray, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Parents scaled in flux to G = g_new, with errors grown as real XP errors grow
    (calibration floor, photon and background noise: ``error_scale``).

    Noise is added for the fainter copy's larger errors; at least half its own errors, so that
    copies of one parent are distinct draws. Returns coefficients, errors, flux ratios.
    """
    scale = 10 ** (-0.4 * (g_new - library.g_mag[parent]))
    coefficients, errors = {}, {}
    for band in ("bp", "rp"):
        grow = error_scale(scale, library.g_flux[parent], band)
        # σ_new = grow σ_parent; added noise σ_parent × sqrt(max(grow² - scale², grow² / 4)).
        added = np.sqrt(np.maximum(grow**2 - scale**2, 0.25 * grow**2))[:, None]
        parent_err = getattr(library, f"{band}_err")[parent]
        noise = _noise(rng, library, band, parent, parent_err)
        noise *= added
        coefficients[band] = getattr(library, band)[parent] * scale[:, None] + noise
        parent_err *= grow[:, None]
        errors[band] = parent_err
    return coefficients, errors, scale


def inject_lines(
    injector: LineInjector,
    coefficients: dict[str, np.ndarray],
    errors: dict[str, np.ndarray],
    continuum_halpha: np.ndarray,
    ew_angstrom: np.ndarray,
    sigma_nm: np.ndarray,
    n_transits: np.ndarray,
    rng: np.random.Generator,
    copy: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Add H-alpha of the given EW to both bands: flux = EW × continuum at H-alpha, through
    the LSF; the line's own photon noise is drawn and added to the errors in quadrature.
    With copy=False the inputs are updated in place (and returned)."""
    observed = {
        band: coefficients[band].copy() if copy else coefficients[band] for band in ("bp", "rp")
    }
    grown = {band: errors[band].copy() if copy else errors[band] for band in ("bp", "rp")}
    lines = np.flatnonzero(ew_angstrom != 0)  # most stars have none: skip them
    line_flux = ew_angstrom[lines] / 10.0 * np.nan_to_num(continuum_halpha[lines])  # W m^-2
    increments = injector.increments(line_flux, sigma_nm[lines])
    exposure = (n_transits[lines] * TRANSIT_EXPOSURE_S)[:, None]
    for band in ("bp", "rp"):
        rate = band_model(band).photon_rate(1.0, injector.center_nm)
        # Var(Δc_k) = |E| t_k² / τ with Δc = E t, E = F × rate and τ the exposure time.
        per_flux = increments[band] ** 2 / np.maximum(np.abs(line_flux), 1e-300)[:, None]
        line_var = per_flux / rate / exposure
        noise = rng.standard_normal(line_var.shape) * np.sqrt(line_var)
        observed[band][lines] += increments[band] + noise
        grown[band][lines] = np.sqrt(errors[band][lines] ** 2 + line_var)
    return observed, grown


def make_chunk(
    config: SimulationConfig,
    index: int,
    start: int,
    n: int,
    library: ParentLibrary | None = None,
    injector: LineInjector | None = None,
) -> Chunk:
    """Simulate sources start .. start + n - 1 (chunk `index`)."""
    from ingest.xp_physics.halpha_ew import continuum_at_halpha

    library = library or load_parents()
    injector = injector or LineInjector(u_shift=config.u_shift)
    seed = np.random.SeedSequence(config.seed).spawn(index + 1)[index]
    rng = np.random.default_rng(seed)
    running = np.arange(start, start + n, dtype=np.int64)

    # Sky and kinematics.
    gal_l, gal_b = sample_galactic(rng, n, config.density, config.disc_scale)
    ra, dec = galactic_to_equatorial(gal_l, gal_b)
    parallax = rng.lognormal(np.log(0.8), 0.8, n)  # mas: a few kpc for the disc population
    pmra = rng.normal(0.0, 1.0, n) * (2.0 + 4.0 * parallax)
    pmdec = rng.normal(0.0, 1.0, n) * (2.0 + 4.0 * parallax)

    g_new = target_g(rng, n, config)
    rows = allowed_rows(library.source_id, config.parents, config.exclude_parents)
    parent = choose_parents(library, g_new, rng, rows)
    coefficients, errors, scale = perturbed_copies(library, parent, g_new, rng)
    continuum_halpha = continuum_at_halpha(coefficients["bp"], coefficients["rp"])
    n_transits = rng.poisson(30, n) + 10
    lines = draw_lines(rng, n, config.mixture)
    survey = rng.random(n)
    in_sdss = survey < config.sdss_fraction
    in_lamost = (survey >= config.sdss_fraction) & (
        survey < config.sdss_fraction + config.lamost_fraction
    )
    # SDSS sees the star, not the XP noise: its continuum is the scaled parent spectrum.
    sdss_continuum = {
        band: getattr(library, band)[parent[in_sdss]] * scale[in_sdss, None]
        for band in ("bp", "rp")
    }
    bp_flux = band_model("bp").integrated_rate(coefficients["bp"])
    rp_flux = band_model("rp").integrated_rate(coefficients["rp"])
    observed, errors = inject_lines(
        injector, coefficients, errors, continuum_halpha, lines.ew, lines.sigma_nm, n_transits,
        rng, copy=False,
    )  # fmt: skip

    g_flux = g_flux_of(bp_flux, rp_flux)
    state = np.random.default_rng(seed.spawn(1)[0]).bit_generator.state
    return Chunk(
        index=index,
        running=running,
        source_id=source_ids(ra, dec, running),
        parent=parent,
        ra=ra,
        dec=dec,
        l=gal_l,
        b=gal_b,
        parallax=parallax,
        pmra=pmra,
        pmdec=pmdec,
        g_mag=magnitude(g_flux, "g"),
        g_flux=g_flux,
        bp_flux=bp_flux,
        rp_flux=rp_flux,
        bp_rp=magnitude(bp_flux, "bp") - magnitude(rp_flux, "rp"),
        scale=scale,
        n_transits=n_transits,
        bp=observed["bp"],
        rp=observed["rp"],
        bp_err=errors["bp"],
        rp_err=errors["rp"],
        sdss_continuum_bp=sdss_continuum["bp"],
        sdss_continuum_rp=sdss_continuum["rp"],
        continuum_halpha=continuum_halpha,
        class_index=lines.class_index,
        ew=lines.ew,
        sigma_nm=lines.sigma_nm,
        ew_other_epoch=lines.ew_other_epoch,
        in_sdss=in_sdss,
        in_lamost=in_lamost,
        rng_state=state,
    )


def chunks(config: SimulationConfig) -> Iterator[Chunk]:
    """All chunks of a run, in order."""
    library = load_parents()
    injector = LineInjector(u_shift=config.u_shift)
    for index, start in enumerate(range(0, config.n_sources, config.chunk_rows)):
        n = min(config.chunk_rows, config.n_sources - start)
        yield make_chunk(config, index, start, n, library, injector)
