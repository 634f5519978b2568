"""Where simulated stars are: positions from a sky density and Gaia-consistent source_ids.

A Gaia DR3 source_id holds the HEALPix level-12 nested pixel of the source in its top bits
(source_id // 2**35); the low 35 bits are a running number. Simulated ids follow the same rule,
so partitioning by HEALPix cell and Q3C/cone searches behave as with the real catalogue.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

HEALPIX_LEVEL = 12
NSIDE = 2**HEALPIX_LEVEL
SOURCE_ID_CELL = 2**35
DENSITIES = ("disc", "uniform")


@lru_cache(maxsize=1)
def galactic_to_icrs() -> np.ndarray:
    """The fixed rotation from Galactic to ICRS unit vectors (from astropy once)."""
    from astropy.coordinates import SkyCoord

    axes = SkyCoord(l=[0.0, 90.0, 0.0], b=[0.0, 0.0, 90.0], unit="deg", frame="galactic").icrs
    return axes.cartesian.xyz.value  # columns: images of the Galactic x, y, z axes


def _unit_vectors(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _lonlat(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.degrees(np.arctan2(vectors[1], vectors[0])) % 360.0
    lat = np.degrees(np.arcsin(np.clip(vectors[2], -1.0, 1.0)))
    return lon, lat


def sample_galactic(
    rng: np.random.Generator, n: int, density: str = "disc", scale_height: float = 0.12
) -> tuple[np.ndarray, np.ndarray]:
    """Galactic (l, b) in degrees.

    'disc': sin(b) Laplace-distributed with the given scale (clipped to [-1, 1]), so the
    density falls exponentially with height above the plane; 'uniform': isotropic.
    """
    if density not in DENSITIES:
        from sql.errors import XphaError

        raise XphaError(f"unknown sky density {density!r}: choose one of {', '.join(DENSITIES)}")
    lon = rng.uniform(0.0, 360.0, n)
    if density == "uniform":
        sin_b = rng.uniform(-1.0, 1.0, n)
    else:
        sin_b = rng.laplace(0.0, scale_height, n)
        outside = np.abs(sin_b) > 1.0
        sin_b[outside] = rng.uniform(-1.0, 1.0, outside.sum())
    return lon, np.degrees(np.arcsin(sin_b))


def galactic_to_equatorial(l_deg: np.ndarray, b_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ra, dec) in degrees, ICRS."""
    return _lonlat(galactic_to_icrs() @ _unit_vectors(l_deg, b_deg))


def healpix_level12(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Nested level-12 HEALPix pixel of each position."""
    import astropy.units as u
    from astropy_healpix import lonlat_to_healpix

    return lonlat_to_healpix(
        np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg, NSIDE, order="nested"
    ).astype(np.int64)


def source_ids(ra_deg: np.ndarray, dec_deg: np.ndarray, running: np.ndarray) -> np.ndarray:
    """Gaia-style ids: the level-12 cell in the top bits, a globally unique running number below."""
    running = np.asarray(running, dtype=np.int64)
    if running.size and running.max() >= SOURCE_ID_CELL:
        raise ValueError("running numbers must stay below 2**35")
    return healpix_level12(ra_deg, dec_deg) * SOURCE_ID_CELL + running


def propagate(
    ra_deg: np.ndarray,
    dec_deg: np.ndarray,
    pmra_mas_yr: np.ndarray,
    pmdec_mas_yr: np.ndarray,
    years: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions moved by proper motion over `years` (linear; pmra includes cos dec)."""
    mas_to_deg = 1.0 / 3.6e6
    cos_dec = np.maximum(np.cos(np.radians(dec_deg)), 1e-9)
    ra = (ra_deg + pmra_mas_yr * years * mas_to_deg / cos_dec) % 360.0
    dec = np.clip(dec_deg + pmdec_mas_yr * years * mas_to_deg, -90.0, 90.0)
    return ra, dec
