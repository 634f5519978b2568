"""Simulated chunks as Gaia DR3 archive tables: xp_continuous_mean_spectrum and gaia_source.

Column names, order and types follow the archive (see ingest/data/real/gaiaxpy_tests/
XP_CONTINUOUS_RAW.fits). Correlations are the parent's where it had them (the simulated noise
was drawn with them); for chunk0 parents, which have none, they are zeros, which is exactly how
that copy's noise was drawn (independent), and GaiaXPy needs a covariance to accept a band.
In FITS, rows with the same correlations point at one copy in the heap (legal FITS: a
descriptor is just a count and an offset), so they cost 8 bytes a row, not 5940.
A missing band is NULL throughout and its arrays are empty, as in the archive.
"""

from __future__ import annotations

import numpy as np

from ingest.simulator.continua import N_CORRELATIONS, ParentLibrary
from ingest.simulator.generator import Chunk
from ingest.simulator.writer import ArchiveColumn, TableData

SIMULATED_SOLUTION_ID = 6842472982426402816  # 0x5EED000000000000: marks simulated records
BASIS_FUNCTION_ID = {"bp": 56, "rp": 57}
SAMPLES_PER_TRANSIT = 60


def _band_columns(band: str) -> list[ArchiveColumn]:
    upper = band.upper()
    return [
        ArchiveColumn(f"{band}_basis_function_id", "I", f"Identifier of the basis functions of {upper}", "meta.id"),
        ArchiveColumn(f"{band}_degrees_of_freedom", "I", f"Degrees of freedom for the {upper} spectrum representation", "stat.fit.dof"),
        ArchiveColumn(f"{band}_n_parameters", "I", f"Number of parameters for the {upper} spectrum representation", "stat.fit.param"),
        ArchiveColumn(f"{band}_n_measurements", "I", f"Number of measurements used for the {upper} spectrum generation", "meta.number"),
        ArchiveColumn(f"{band}_n_rejected_measurements", "I", f"Number of rejected measurements in the {upper} spectrum generation", "meta.number"),
        ArchiveColumn(f"{band}_standard_deviation", "E", f"Standard deviation for the {upper} spectrum representation", "stat.stdev"),
        ArchiveColumn(f"{band}_chi_squared", "E", f"Chi squared for the {upper} spectrum representation", "stat.fit.chi2"),
        ArchiveColumn(f"{band}_coefficients", "PD", f"Basis function coefficients for the {upper} spectrum representation", "stat.fit.param", max_length=55),
        ArchiveColumn(f"{band}_coefficient_errors", "PE", f"Basis function coefficient errors for the {upper} spectrum representation", "stat.error", max_length=55),
        ArchiveColumn(f"{band}_coefficient_correlations", "PE", f"Correlation matrix for {upper} coefficients", "stat.correlation", max_length=N_CORRELATIONS),
        ArchiveColumn(f"{band}_n_relevant_bases", "I", f"Number of bases that are relevant for the representation of this mean {upper} spectrum", "meta.number"),
        ArchiveColumn(f"{band}_relative_shrinking", "E", f"Measure of the relative shrinking of the coefficient vector for {upper}", "stat.fit.param"),
    ]  # fmt: skip


XP_COLUMNS: tuple[ArchiveColumn, ...] = (
    ArchiveColumn("source_id", "K", "Unique source identifier (unique within a particular Data Release)", "meta.id;meta.main"),
    ArchiveColumn("solution_id", "K", "Solution Identifier", "meta.version"),
    *_band_columns("bp"),
    *_band_columns("rp"),
)  # fmt: skip

SOURCE_COLUMNS: tuple[ArchiveColumn, ...] = (
    ArchiveColumn("source_id", "K", "Unique source identifier", "meta.id;meta.main"),
    ArchiveColumn("ra", "D", "Right ascension (ICRS, epoch ref_epoch)", "pos.eq.ra;meta.main", "deg"),
    ArchiveColumn("ra_error", "E", "Standard error of right ascension", "stat.error;pos.eq.ra", "mas"),
    ArchiveColumn("dec", "D", "Declination (ICRS, epoch ref_epoch)", "pos.eq.dec;meta.main", "deg"),
    ArchiveColumn("dec_error", "E", "Standard error of declination", "stat.error;pos.eq.dec", "mas"),
    ArchiveColumn("ref_epoch", "D", "Reference epoch", "meta.ref;time.epoch", "yr"),
    ArchiveColumn("parallax", "D", "Parallax", "pos.parallax.trig", "mas"),
    ArchiveColumn("parallax_error", "E", "Standard error of parallax", "stat.error;pos.parallax.trig", "mas"),
    ArchiveColumn("pmra", "D", "Proper motion in right ascension direction (times cos dec)", "pos.pm;pos.eq.ra", "mas.yr**-1"),
    ArchiveColumn("pmra_error", "E", "Standard error of pmra", "stat.error;pos.pm;pos.eq.ra", "mas.yr**-1"),
    ArchiveColumn("pmdec", "D", "Proper motion in declination direction", "pos.pm;pos.eq.dec", "mas.yr**-1"),
    ArchiveColumn("pmdec_error", "E", "Standard error of pmdec", "stat.error;pos.pm;pos.eq.dec", "mas.yr**-1"),
    ArchiveColumn("ruwe", "E", "Renormalised unit weight error", "stat.error;phys.distance"),
    ArchiveColumn("phot_g_mean_flux", "D", "G-band mean flux", "phot.flux;em.opt", "electron.s**-1"),
    ArchiveColumn("phot_g_mean_flux_error", "E", "Error on G-band mean flux", "stat.error;phot.flux;em.opt", "electron.s**-1"),
    ArchiveColumn("phot_g_mean_mag", "E", "G-band mean magnitude", "phot.mag;em.opt", "mag"),
    ArchiveColumn("phot_bp_mean_flux", "D", "Integrated BP mean flux", "phot.flux;em.opt.B", "electron.s**-1"),
    ArchiveColumn("phot_bp_mean_mag", "E", "Integrated BP mean magnitude", "phot.mag;em.opt.B", "mag"),
    ArchiveColumn("phot_rp_mean_flux", "D", "Integrated RP mean flux", "phot.flux;em.opt.R", "electron.s**-1"),
    ArchiveColumn("phot_rp_mean_mag", "E", "Integrated RP mean magnitude", "phot.mag;em.opt.R", "mag"),
    ArchiveColumn("bp_rp", "E", "BP - RP colour", "phot.color;em.opt.B;em.opt.R", "mag"),
    ArchiveColumn("phot_bp_rp_excess_factor", "E", "BP/RP excess factor", "arith.factor;phot.flux;em.opt"),
    ArchiveColumn("radial_velocity", "E", "Radial velocity", "spect.dopplerVeloc.opt", "km.s**-1"),
    ArchiveColumn("l", "D", "Galactic longitude", "pos.galactic.lon", "deg"),
    ArchiveColumn("b", "D", "Galactic latitude", "pos.galactic.lat", "deg"),
    ArchiveColumn("has_xp_continuous", "L", "Flag indicating the availability of mean BP/RP spectrum in continuous representation", "meta.code"),
)  # fmt: skip


def xp_table(chunk: Chunk, library: ParentLibrary, rng: np.random.Generator) -> TableData:
    """The chunk as xp_continuous_mean_spectrum rows."""
    n = len(chunk)
    data = TableData(n)
    data.set("source_id", chunk.source_id)
    data.set("solution_id", np.full(n, SIMULATED_SOLUTION_ID, dtype=np.int64))
    for band in ("bp", "rp"):
        coefficients = getattr(chunk, band)
        present = np.isfinite(coefficients).all(axis=1)
        # Distinct correlation arrays: zeros (independent noise) and each correlated parent's.
        table = library.bp_correlations if band == "bp" else library.rp_correlations
        distinct = np.zeros((1 + len(table), N_CORRELATIONS), dtype=np.float32)
        index = np.where(present, 0, -1)
        for k, (row, values) in enumerate(table.items(), start=1):
            distinct[k] = values
            index[(chunk.parent == row) & present] = k
        measurements = chunk.n_transits * SAMPLES_PER_TRANSIT - rng.integers(0, 40, n)
        rejected = rng.binomial(measurements, 0.004)
        dof = measurements - rejected - 55
        deviation = 1.0 + np.abs(rng.normal(0.0, 0.08, n))
        null = lambda values, p=present: np.where(p, values, np.nan)  # noqa: E731
        data.set(f"{band}_basis_function_id", null(np.full(n, BASIS_FUNCTION_ID[band])))
        data.set(f"{band}_degrees_of_freedom", null(dof))
        data.set(f"{band}_n_parameters", null(np.full(n, 55)))
        data.set(f"{band}_n_measurements", null(measurements))
        data.set(f"{band}_n_rejected_measurements", null(rejected))
        data.set(f"{band}_standard_deviation", null(deviation))
        data.set(f"{band}_chi_squared", null(deviation**2 * dof))
        data.set(f"{band}_coefficients", coefficients, present)
        data.set(f"{band}_coefficient_errors", getattr(chunk, f"{band}_err"), present)
        data.set_shared(f"{band}_coefficient_correlations", distinct, index)
        relevant = getattr(library, f"{band}_n_relevant_bases")[chunk.parent]
        data.set(f"{band}_n_relevant_bases", null(relevant))
        data.set(f"{band}_relative_shrinking", np.full(n, np.nan))
    return data


def _astrometric_error(g_mag: np.ndarray) -> np.ndarray:
    """DR3-like parallax error (mas) vs G (Gaia science performance, bright end floored)."""
    z = 10 ** (0.4 * (np.maximum(g_mag, 13.0) - 15.0))
    return np.sqrt(40 + 800 * z + 30 * z**2) / 1000.0


def source_table(chunk: Chunk, rng: np.random.Generator) -> TableData:
    """The chunk as gaia_source rows (ref_epoch 2016.0)."""
    n = len(chunk)
    data = TableData(n)
    error = _astrometric_error(chunk.g_mag)
    relative_flux_error = 0.0003 + 0.002 * 10 ** (0.4 * (chunk.g_mag - 17.0))
    data.set("source_id", chunk.source_id)
    data.set("ra", chunk.ra)
    data.set("ra_error", 0.8 * error)
    data.set("dec", chunk.dec)
    data.set("dec_error", 0.7 * error)
    data.set("ref_epoch", np.full(n, 2016.0))
    data.set("parallax", chunk.parallax + rng.standard_normal(n) * error)
    data.set("parallax_error", error)
    data.set("pmra", chunk.pmra)
    data.set("pmra_error", 1.1 * error)
    data.set("pmdec", chunk.pmdec)
    data.set("pmdec_error", error)
    data.set("ruwe", 1.0 + np.abs(rng.normal(0.0, 0.1, n)))
    data.set("phot_g_mean_flux", chunk.g_flux)
    data.set("phot_g_mean_flux_error", chunk.g_flux * relative_flux_error)
    data.set("phot_g_mean_mag", chunk.g_mag)
    data.set("phot_bp_mean_flux", chunk.bp_flux)
    data.set("phot_bp_mean_mag", -2.5 * np.log10(chunk.bp_flux) + 25.3385)
    data.set("phot_rp_mean_flux", chunk.rp_flux)
    data.set("phot_rp_mean_mag", -2.5 * np.log10(chunk.rp_flux) + 24.7479)
    data.set("bp_rp", chunk.bp_rp)
    data.set("phot_bp_rp_excess_factor", (chunk.bp_flux + chunk.rp_flux) / chunk.g_flux)
    data.set("radial_velocity", np.full(n, np.nan))
    data.set("l", chunk.l)
    data.set("b", chunk.b)
    data.set("has_xp_continuous", np.ones(n, dtype=bool))
    return data
