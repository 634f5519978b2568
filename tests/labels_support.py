"""Helpers of the labels tests: SDSS-like spectra with a known injected H-alpha line.

The spectra are built on the SDSS grid (log10 lambda steps of 1e-4, vacuum wavelengths,
flux in 1e-17 erg/s/cm2/A) with Gaussian noise of a chosen S/N per pixel; ``write_spec_file``
writes them as real spec-PLATE-MJD-FIBER.fits files (COADD + SPECOBJ HDUs) through astropy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ingest.sdss_spectra import SdssSpectrum, spec_id

HALPHA = 6564.61
SQRT_2PI = np.sqrt(2 * np.pi)


def synthetic_spectrum(
    ew: float,
    snr: float,
    rng: np.random.Generator,
    z: float = 0.0,
    sigma_a: float = 1.5,
    continuum: float = 50.0,
    slope: float = -0.01,
    absorption_ew: float = 0.0,
    plate: int = 1000,
    mjd: int = 52000,
    fiber: int = 1,
    object_class: str = "STAR",
    ra: float = 10.0,
    dec: float = 10.0,
) -> SdssSpectrum:
    """A spectrum with an H-alpha line of rest EW ``ew`` (emission positive), noise S/N ``snr``.

    ``absorption_ew`` adds a broad photospheric absorption trough (in the model too), so the
    emission may fill it without rising above the continuum.
    """
    loglam = np.round(np.arange(3.5800, 3.9650, 1e-4), 4)
    rest = 10**loglam / (1 + z)
    cont = continuum * (1 + slope * (rest - HALPHA) / 100)
    trough = absorption_ew / (8.0 * SQRT_2PI) * np.exp(-0.5 * ((rest - HALPHA) / 8.0) ** 2)
    line = ew / (sigma_a * SQRT_2PI) * np.exp(-0.5 * ((rest - HALPHA) / sigma_a) ** 2)
    model = cont * (1 - trough)
    truth = cont * (1 - trough + line)
    sigma = continuum / snr
    flux = truth + rng.normal(0, sigma, size=truth.size)
    ivar = np.full(truth.size, 1 / sigma**2)
    return SdssSpectrum(
        spec_id=spec_id(plate, mjd, fiber),
        plate=plate,
        mjd=mjd,
        fiber=fiber,
        loglam=loglam.astype(np.float32),
        flux=flux.astype(np.float32),
        ivar=ivar.astype(np.float32),
        and_mask=np.zeros(truth.size, np.int32),
        model=model.astype(np.float32),
        sky=np.full(truth.size, 1.0, np.float32),
        z=z,
        z_err=1e-5,
        z_warning=0,
        object_class=object_class,
        subclass=None,
        ra=ra,
        dec=dec,
        sn_median=snr,
        specobjid=None,
    )


def write_spec_file(spectrum: SdssSpectrum, directory: Path) -> Path:
    """Write a spec-PLATE-MJD-FIBER.fits file with COADD and SPECOBJ HDUs (astropy)."""
    from astropy.io import fits

    s = spectrum
    coadd = fits.BinTableHDU.from_columns(
        [
            fits.Column("flux", "E", array=s.flux),
            fits.Column("loglam", "E", array=s.loglam),
            fits.Column("ivar", "E", array=s.ivar),
            fits.Column("and_mask", "J", array=s.and_mask),
            fits.Column("or_mask", "J", array=s.and_mask),
            fits.Column("wdisp", "E", array=np.ones_like(s.flux)),
            fits.Column("sky", "E", array=s.sky),
            fits.Column("model", "E", array=s.model),
        ],
        name="COADD",
    )
    specobj = fits.BinTableHDU.from_columns(
        [
            fits.Column("PLATE", "J", array=[s.plate]),
            fits.Column("MJD", "J", array=[s.mjd]),
            fits.Column("FIBERID", "J", array=[s.fiber]),
            fits.Column("CLASS", "6A", array=[s.object_class or ""]),
            fits.Column("SUBCLASS", "21A", array=[s.subclass or ""]),
            fits.Column("Z", "E", array=[s.z]),
            fits.Column("Z_ERR", "E", array=[s.z_err or 0.0]),
            fits.Column("ZWARNING", "J", array=[s.z_warning or 0]),
            fits.Column("PLUG_RA", "D", array=[s.ra]),
            fits.Column("PLUG_DEC", "D", array=[s.dec]),
            fits.Column("SN_MEDIAN_ALL", "E", array=[s.sn_median or 0.0]),
        ],
        name="SPECOBJ",
    )
    path = Path(directory) / f"spec-{s.plate:04d}-{s.mjd:05d}-{s.fiber:04d}.fits"
    fits.HDUList([fits.PrimaryHDU(), coadd, specobj]).writeto(path, overwrite=True)
    return path


def simulator_spectrum(
    rng: np.random.Generator, ew: float, sigma_nm: float, g_mag: float, fiber: int = 1
) -> tuple[SdssSpectrum, dict[str, np.ndarray]]:
    """A spectrum built by the simulator's SDSS writer (ingest/simulator/sdss_format.py), in memory.

    The continuum is a gently falling XP-like spectrum; S/N per pixel follows the simulator's
    magnitude law (g = 16.35 gives ~20). Returns the spectrum and the COADD arrays, which
    ``sdss_format.write_spec`` writes into a real spec file.
    """
    from ingest.simulator import sdss_format

    xp_nm = np.linspace(330, 1050, 343)
    continuum = 1e-17 * (1.5 - (xp_nm - 330) / 1440)  # W/m2/nm
    coadd = sdss_format.build_spectrum(rng, continuum, xp_nm, ew, sigma_nm, g_mag=g_mag)
    good = coadd["ivar"] > 0
    sn = float(np.median(coadd["flux"][good] * np.sqrt(coadd["ivar"][good])))
    spectrum = SdssSpectrum(
        spec_id=spec_id(1000 + fiber, 55000, 1),
        plate=1000 + fiber,
        mjd=55000,
        fiber=1,
        loglam=coadd["loglam"],
        flux=coadd["flux"],
        ivar=coadd["ivar"],
        and_mask=coadd["and_mask"],
        model=coadd["model"],
        sky=coadd["sky"],
        z=0.0,
        z_err=1e-5,
        z_warning=0,
        object_class="STAR",
        subclass="Be",
        ra=10.0,
        dec=10.0,
        sn_median=sn,
        specobjid=None,
    )
    return spectrum, coadd
