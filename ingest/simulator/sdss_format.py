"""SDSS-format spectra of simulated stars: spec-PLATE-MJD-FIBER.fits like the real DR16 files.

HDU1 COADD (flux in 1e-17 erg/s/cm²/Å, vacuum loglam, ivar, and_mask, or_mask, wdisp, sky,
model), HDU2 SPECOBJ (one row), HDU3 SPZLINE (the H-alpha line fit). The continuum is the star's
own calibrated XP spectrum; the H-alpha line has the EW of the SDSS epoch (which may differ
from the XP epoch: variability); noise grows with magnitude; sky-line and bad-column pixels
are masked (ivar = 0), as in real coadds.

Around H-alpha the continuum is a straight line between the XP spectrum's levels on either
side (``SMOOTH_REGION_A``). At XP resolution (~10 nm) the parent star's spectrum there carries
smeared structure (its own H-alpha, TiO band heads, the basis functions' ringing) that an
SDSS-resolution labeller would measure as emission or absorption of tens of Angstrom: without
the smoothing a third of the simulated SDSS positives had no line in the truth table. So the
only H-alpha feature of a simulated SDSS spectrum is the one the truth table records.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

H_ALPHA_VACUUM_A = 6564.61
LOGLAM_START, LOGLAM_STEP, N_PIXELS = 3.5800, 1e-4, 4400  # 3802 - 9545 A
W_M2_NM_TO_SDSS = 1e19  # 1 W m^-2 nm^-1 = 100 erg s^-1 cm^-2 A^-1 = 1e19 x 1e-17
SKY_LINES_A = (5578.9, 5891.6, 6302.0, 6365.5, 7246.0, 7822.0, 7914.0, 8346.0, 8885.9, 8921.6)
FULLREJECT, BRIGHTSKY = 1 << 18, 1 << 23
MJD_RANGE = (51600, 58000)
SN_AT_G17 = 15.0  # median S/N per pixel at G = 17
SMOOTH_REGION_A = (6380.0, 6750.0)  # straight continuum here: wider than every label sideband
SMOOTH_ANCHOR_A = 30.0  # width of the continuum windows just outside the region


def spec_name(plate: int, mjd: int, fiber: int) -> str:
    return f"spec-{plate:04d}-{mjd:05d}-{fiber:04d}.fits"


def observation_ids(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(plate, mjd, fiber) for n spectra; plates are nights, fibers 1-1000, all unique."""
    plate = rng.integers(266, 12000, n)
    mjd = rng.integers(*MJD_RANGE, n)
    fiber = rng.integers(1, 1001, n)
    return plate, mjd, fiber


def loglam_grid() -> np.ndarray:
    return np.round(LOGLAM_START + LOGLAM_STEP * np.arange(N_PIXELS), 4).astype(np.float32)


def build_spectrum(
    rng: np.random.Generator,
    continuum_w_m2_nm: np.ndarray,
    xp_wavelength_nm: np.ndarray,
    ew_angstrom: float,
    sigma_nm: float,
    g_mag: float,
) -> dict[str, np.ndarray]:
    """COADD arrays: continuum from the XP spectrum, an H-alpha Gaussian of the given EW."""
    wavelength = 10 ** loglam_grid().astype(float)
    finite = np.isfinite(continuum_w_m2_nm)
    continuum = (
        np.interp(wavelength / 10.0, xp_wavelength_nm[finite], continuum_w_m2_nm[finite])
        * W_M2_NM_TO_SDSS
    )
    continuum = np.maximum(continuum, 1e-3 * np.nanmax(continuum))
    continuum = _straight_around_halpha(wavelength, continuum)
    sigma_a = max(sigma_nm * 10.0, 1.2)  # SDSS resolution floor, ~70 km/s
    level = np.interp(H_ALPHA_VACUUM_A, wavelength, continuum)
    line = ew_angstrom * level * np.exp(-0.5 * ((wavelength - H_ALPHA_VACUUM_A) / sigma_a) ** 2)
    spectrum = continuum + line / (sigma_a * np.sqrt(2.0 * np.pi))
    # The pipeline's model of a star is a stellar template: photospheric absorption yes,
    # emission no (that is why labellers compare the flux with the model).
    model = spectrum if ew_angstrom < 0 else continuum
    sn = SN_AT_G17 * 10 ** (-0.2 * (g_mag - 17.0))
    sky = 5.0 + 40.0 * np.exp(
        -0.5 * ((wavelength[:, None] - np.array(SKY_LINES_A)) / 2.0) ** 2
    ).sum(1)
    sigma = np.sqrt(np.abs(spectrum) * np.median(continuum) / sn**2 + 0.02 * sky)
    flux = spectrum + sigma * rng.standard_normal(wavelength.size)
    mask = np.zeros(wavelength.size, dtype=np.int32)
    mask[sky > 25.0] |= BRIGHTSKY
    for column in rng.integers(0, wavelength.size - 3, rng.poisson(3)):
        mask[column : column + 3] |= FULLREJECT
    ivar = np.where(mask & FULLREJECT, 0.0, 1.0 / sigma**2)
    return {
        "flux": flux.astype(np.float32),
        "loglam": loglam_grid(),
        "ivar": ivar.astype(np.float32),
        "and_mask": mask,
        "or_mask": mask,
        "wdisp": np.full(wavelength.size, 1.1, dtype=np.float32),
        "sky": sky.astype(np.float32),
        "model": model.astype(np.float32),
    }


def _straight_around_halpha(wavelength: np.ndarray, continuum: np.ndarray) -> np.ndarray:
    """The continuum with ``SMOOTH_REGION_A`` replaced by a line between its edge levels."""
    lo, hi = SMOOTH_REGION_A
    blue = (wavelength >= lo - SMOOTH_ANCHOR_A) & (wavelength < lo)
    red = (wavelength > hi) & (wavelength <= hi + SMOOTH_ANCHOR_A)
    inside = (wavelength >= lo) & (wavelength <= hi)
    x = np.array([lo - SMOOTH_ANCHOR_A / 2, hi + SMOOTH_ANCHOR_A / 2])
    y = np.array([np.median(continuum[blue]), np.median(continuum[red])])
    smooth = continuum.copy()
    smooth[inside] = np.interp(wavelength[inside], x, y)
    return smooth


def write_spec(
    directory: Path,
    plate: int,
    mjd: int,
    fiber: int,
    ra: float,
    dec: float,
    coadd: dict[str, np.ndarray],
    ew_angstrom: float,
    sigma_nm: float,
    subclass: str,
) -> Path:
    """Write one spec file (no timestamps: same input, same bytes)."""
    from astropy.io import fits

    primary = fits.PrimaryHDU()
    for key, value in (
        ("TELESCOP", "SDSS 2.5-M"), ("PLATEID", plate), ("MJD", mjd), ("FIBERID", fiber),
        ("RADEG", ra), ("DECDEG", dec), ("EQUINOX", 2000.0), ("RUN2D", "26"),
        ("COMMENT", "xpha simulated spectrum (not a real SDSS observation)"),
    ):  # fmt: skip
        primary.header[key] = value
    formats = {"and_mask": "J", "or_mask": "J"}
    coadd_hdu = fits.BinTableHDU.from_columns(
        [fits.Column(name=k, format=formats.get(k, "E"), array=v) for k, v in coadd.items()],
        name="COADD",
    )
    good = coadd["ivar"] > 0
    sn = float(np.median(coadd["flux"][good] * np.sqrt(coadd["ivar"][good])))
    specobjid = (plate << 50) | (fiber << 38) | ((mjd - 50000) << 24) | (26 << 10)
    specobj = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="SURVEY", format="6A", array=["sdss"]),
            fits.Column(name="RUN2D", format="4A", array=["26"]),
            fits.Column(name="SPECOBJID", format="22A", array=[str(specobjid)]),
            fits.Column(name="PLATE", format="J", array=[plate]),
            fits.Column(name="MJD", format="J", array=[mjd]),
            fits.Column(name="FIBERID", format="J", array=[fiber]),
            fits.Column(name="PLUG_RA", format="D", array=[ra]),
            fits.Column(name="PLUG_DEC", format="D", array=[dec]),
            fits.Column(name="CLASS", format="6A", array=["STAR"]),
            fits.Column(name="SUBCLASS", format="21A", array=[subclass]),
            fits.Column(name="Z", format="E", array=[0.0]),
            fits.Column(name="Z_ERR", format="E", array=[1e-5]),
            fits.Column(name="ZWARNING", format="J", array=[0]),
            fits.Column(name="SN_MEDIAN_ALL", format="E", array=[sn]),
            fits.Column(name="WAVEMIN", format="E", array=[10 ** float(coadd["loglam"][0])]),
            fits.Column(name="WAVEMAX", format="E", array=[10 ** float(coadd["loglam"][-1])]),
        ],
        name="SPECOBJ",
    )
    spzline = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="PLATE", format="J", array=[plate]),
            fits.Column(name="MJD", format="J", array=[mjd]),
            fits.Column(name="FIBERID", format="J", array=[fiber]),
            fits.Column(name="LINENAME", format="13A", array=["H_alpha"]),
            fits.Column(name="LINEWAVE", format="D", array=[H_ALPHA_VACUUM_A]),
            fits.Column(name="LINEZ", format="E", array=[0.0]),
            fits.Column(name="LINESIGMA", format="E", array=[sigma_nm * 10.0]),
            fits.Column(name="LINEEW", format="E", array=[ew_angstrom]),
        ],
        name="SPZLINE",
    )
    path = directory / spec_name(plate, mjd, fiber)
    fits.HDUList([primary, coadd_hdu, specobj, spzline]).writeto(path, overwrite=True)
    return path
