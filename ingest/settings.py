"""The settings of ingest: loading, the Gaia fetcher, labels (SDSS, LAMOST, crossmatch), the
simulator; ``XPHA_*`` variables, on top of the database's."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from sql.settings import Settings, cached_settings


class IngestSettings(Settings):
    """Database settings plus everything ingest, labels and the simulator read."""

    ingest_chunk_rows: int = Field(
        5000, description="Rows parsed and COPYed per chunk; memory stays flat at any file size."
    )

    # --- Gaia archive fetcher (ingest/fetch_gaia.py) -------------------------------------------
    gaia_fetch_dir: Path | None = Field(
        None,
        description="Where `xpha fetch gaia-xp` keeps the archive's files (default: "
        "<var_dir>/fetch/gaia).",
    )
    gaia_fetch_batch: int = Field(
        5000, description="source_ids per DataLink request (the Gaia archive's limit is 5000)."
    )
    gaia_data_release: str = Field("Gaia DR3", description="DataLink data release to fetch.")

    # --- labels (SDSS H-alpha, LAMOST catalogues, crossmatch; ingest/halpha.py etc.) --------
    halpha_rest_vacuum: float = Field(
        6564.61, description="H-alpha rest wavelength in vacuum, A (SDSS wavelengths are vacuum)."
    )
    halpha_line_window: tuple[float, float] = Field(
        (6557.61, 6571.61), description="Rest-frame vacuum band integrated for EW(H-alpha), A."
    )
    halpha_blue_continuum: tuple[float, float] = Field(
        (6500.0, 6550.0), description="Blue continuum sideband (rest, vacuum), A (West et al.)."
    )
    halpha_red_continuum: tuple[float, float] = Field(
        (6575.0, 6625.0), description="Red continuum sideband (rest, vacuum), A (West et al.)."
    )
    halpha_min_line_coverage: float = Field(
        0.6, description="Least fraction of good pixels in the line window to measure at all."
    )
    halpha_min_sideband_pixels: int = Field(
        8, description="Least good pixels in each continuum sideband to measure at all."
    )
    halpha_bad_and_mask: int = Field(
        (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 18) | (1 << 24) | (1 << 25),
        description="and_mask bits that make a pixel unusable (NOPLUG, BADTRACE, BADFLAT, "
        "BADARC, FULLREJECT, NODATA, COMBINEREJ); ivar = 0 pixels are always unusable.",
    )
    halpha_sky_ratio: float = Field(
        0.5,
        description="Flag sky_residual when the sky at the line peak exceeds this many "
        "continuum levels (or BRIGHTSKY/BADSKYCHI is set there).",
    )
    halpha_broad_line_window: tuple[float, float] = Field(
        (6514.61, 6614.61),
        description="Rest-frame vacuum band integrated for the broad-line EW, A (+-50 A: a "
        "Gaussian of sigma 1.5 nm keeps 99.9% of its flux there; +-30 A would lose 5%).",
    )
    halpha_broad_blue_continuum: tuple[float, float] = Field(
        (6420.0, 6500.0), description="Blue continuum sideband of the broad-line EW, A."
    )
    halpha_broad_red_continuum: tuple[float, float] = Field(
        (6630.0, 6710.0), description="Red continuum sideband of the broad-line EW, A."
    )
    halpha_broad_min_sigma: float = Field(
        3.0,
        description="Gaussian sigma (A) from which a line counts as broad (the West window "
        "loses over 1% of a line wider than ~2.7 A).",
    )
    halpha_broad_max_sigma: float = Field(
        20.0,
        description="Widest Gaussian sigma (A) still a broad line; wider profiles are continuum "
        "structure (curvature, molecular bands of cool stars) and keep the West window.",
    )
    halpha_broad_min_significance: float = Field(
        2.0,
        description="Report the broad-window EW when a broad Gaussian fits the line better "
        "than any narrow one (and than continuum structure, see the margin) by this many sigma "
        "(sqrt of the chi-square gain).",
    )
    halpha_broad_structure_margin: float = Field(
        3.5,
        description="A profile wider than halpha_broad_max_sigma (continuum structure) must fit "
        "this many sigma better than the best broad line to keep the West window.",
    )
    label_min_ew: float = Field(0.75, description="Positive: EW(H-alpha) >= this, A.")
    label_min_ew_sigma: float = Field(3.0, description="Positive: EW / EW error > this.")
    label_min_peak_sigma: float = Field(
        3.0, description="Positive: line peak more than this many sigma above the continuum."
    )
    label_min_negative_snr: float = Field(
        10.0, description="Negative: a non-emitter whose sideband continuum S/N per pixel >= this."
    )
    label_star_classes: list[str] = Field(
        ["STAR"], description="SDSS CLASS values whose measurements may become labels."
    )
    sdss_data_release: int = Field(17, description="SDSS data release queried and downloaded.")
    sdss_download_dir: Path | None = Field(
        None, description="Where spec-*.fits are downloaded; var_dir/sdss when unset."
    )
    sdss_measure_batch: int = Field(
        256, description="Spectra read, measured (vectorised) and COPYed per batch."
    )
    xmatch_radius_arcsec: float = Field(1.0, description="Crossmatch radius, arcsec.")
    xmatch_max_pm_mas_yr: float = Field(
        11000.0,
        description="Largest proper motion followed (Barnard's star: 10400 mas/yr). Sources "
        "above 100 mas/yr are searched out to max_pm * |epoch difference| through a partial "
        "Q3C index; the exact propagated distance then decides.",
    )

    # --- simulator (ingest/simulator) ------------------------------------------------------
    simulator_chunk_rows: int = Field(
        50_000, description="Sources simulated and written per chunk (one file per chunk)."
    )
    simulator_density: str = Field(
        "disc", description="Sky density of simulated sources: disc (falls with |b|) or uniform."
    )
    simulator_disc_scale: float = Field(
        0.12, description="Scale of the Laplace distribution of sin(b) for the disc density."
    )
    simulator_g_range: tuple[float, float] = Field(
        (10.0, 17.65), description="G magnitude range of simulated sources (XP limit 17.65)."
    )
    simulator_lsf_u_shift: float = Field(
        0.0,
        description="Pseudo-wavelength shift (samples) of injected lines; +0.2 centres the "
        "calibrated RP image on H-alpha (docs/xp-line-injection.md), 0 is the published model.",
    )


def get_settings() -> IngestSettings:
    """The ingest settings of this process."""
    return cached_settings(IngestSettings)
