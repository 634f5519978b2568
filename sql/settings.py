"""One typed settings object for all of xpha (environment prefix ``XPHA_``).

Every component reads its configuration from :func:`get_settings`; nothing reads
``os.environ`` directly. Fields are grouped by the part of the system that uses them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration of every xpha component, from ``XPHA_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="XPHA_", case_sensitive=False, extra="ignore")

    # --- database -------------------------------------------------------------------------
    database_url: str | None = Field(
        None,
        description="An external PostgreSQL (with q3c and pg_sphere) to use instead of the "
        "embedded cluster, e.g. postgresql://user@db:5432/xpha (docker-compose sets this).",
    )
    var_dir: Path = Field(
        PROJECT_ROOT / "var",
        description="Where the embedded cluster, logs, models and demo data live.",
    )
    pg_port: int = Field(54329, description="Port of the embedded cluster (127.0.0.1 only).")
    pg_database: str = Field("xpha", description="Database name in the embedded cluster.")
    pg_superuser: str = Field("xpha", description="Owner role of the embedded cluster.")
    pg_bin_dir: Path | None = Field(
        None, description="Directory holding initdb/pg_ctl; found automatically when unset."
    )
    pg_os_user: str = Field(
        "postgres",
        description="Unprivileged OS user that runs the embedded cluster when xpha runs as root.",
    )

    # --- published schema and TAP ---------------------------------------------------------
    published_schema: str = Field("xpha", description="The schema TAP exposes (with tap_schema).")
    tap_role: str = Field("xpha_tap", description="Read-only database role TAP queries run as.")
    tap_role_password: SecretStr | None = Field(
        None, description="Password of the TAP role on an external database (trust when unset)."
    )
    tap_host: str = Field("127.0.0.1", description="Address `xpha serve` listens on.")
    tap_port: int = Field(8000, description="Port `xpha serve` listens on.")
    tap_base_url: str | None = Field(
        None,
        description="Public URL of the TAP service itself, ending in /tap (e.g. "
        "https://astro.example.org/xpha/tap behind a proxy), used in VOSI and UWS links; "
        "derived from each request when unset.",
    )
    # TAP service core (tap_service/query.py, app.py, scs.py)
    tap_maxrec_default: int = Field(
        10_000, ge=0, description="Rows a TAP query returns when the client gives no MAXREC."
    )
    tap_hard_limit: int = Field(
        2_000_000, ge=1, description="Most rows any TAP query returns, whatever MAXREC says."
    )
    tap_sync_timeout_s: float = Field(
        60.0, gt=0, description="Statement timeout of a /sync query; longer queries belong in async."
    )
    tap_async_timeout_s: float = Field(
        3600.0, gt=0, description="Statement timeout of a query run by an async job."
    )
    tap_pool_size: int = Field(
        8, ge=1, description="Database connections (as the TAP role) shared by sync and async."
    )
    tap_pool_wait_s: float = Field(
        10.0, gt=0, description="How long a query waits for a free connection before a 503."
    )
    tap_fetch_rows: int = Field(
        5000, ge=1, description="Rows fetched from the server-side cursor per batch (memory bound)."
    )
    tap_copy_fetch: bool = Field(
        True,
        description="Fetch all-numeric results by binary COPY into numpy columns (fast); off: "
        "row tuples for every result.",
    )
    tap_upload_max_bytes: int = Field(
        20_000_000, ge=0, description="Largest TAP_UPLOAD VOTable accepted, in bytes."
    )
    tap_upload_max_rows: int = Field(
        1_000_000, ge=0, description="Most rows one TAP_UPLOAD table may hold."
    )
    tap_upload_http: bool = Field(
        True,
        description="Let TAP_UPLOAD name an http(s) URL the server fetches itself (TAPRegExt's "
        "upload-http); inline uploads always work.",
    )
    tap_upload_http_private: bool = Field(
        False,
        description="Also fetch upload URLs that resolve to loopback, private or link-local "
        "addresses (off: a client cannot make the server reach its own network).",
    )
    tap_upload_max_columns: int = Field(
        500, ge=1, description="Most columns (FIELDs) one TAP_UPLOAD table may have."
    )
    tap_upload_max_decoded_bytes: int = Field(
        100_000_000,
        ge=0,
        description="Most bytes a TAP_UPLOAD VOTable may decompress to (gzip, bzip2, xz); "
        "checked while decompressing.",
    )
    tap_upload_http_timeout_s: float = Field(
        15.0,
        gt=0,
        description="Deadline of a whole upload-URL fetch (connect, headers and body), in seconds.",
    )
    tap_catalog_ttl_s: float = Field(
        60.0, ge=0, description="How long the TAP_SCHEMA catalogue is cached before re-reading it."
    )
    # What one request or one client may take (tap_service/limits.py); see README "Security".
    tap_request_max_bytes: int = Field(
        25_000_000,
        ge=1024,
        description="Largest request body, in bytes, refused before it is read (413).",
    )
    tap_query_max_chars: int = Field(
        100_000,
        ge=100,
        description="Longest QUERY, in characters; long lists of ids or positions belong in a "
        "TAP_UPLOAD table.",
    )
    tap_sync_per_client: int = Field(
        4, ge=1, description="Queries (/sync and /scs) one client may run at once; more get 503."
    )
    tap_temp_file_limit: str = Field(
        "2GB", description="PostgreSQL temp_file_limit of the TAP role (sorts and hashes on disk)."
    )
    tap_work_mem: str = Field("32MB", description="PostgreSQL work_mem of the TAP role.")
    tap_allowed_hosts: str = Field(
        "localhost,127.0.0.1,::1",
        description="Host names (comma-separated) the service answers to when "
        "XPHA_TAP_BASE_URL is unset (links are built from the request's Host); other Host "
        "headers get 400.",
    )
    tap_auth: Literal["none", "bearer"] = Field(
        "none",
        description="none: anonymous TAP (a job's URL is its secret); bearer: every /tap and "
        "/scs request needs `Authorization: Bearer TOKEN` from the tokens file, and jobs "
        "belong to the token's user.",
    )
    tap_tokens_file: Path | None = Field(
        None,
        description="Bearer tokens (`xpha tap token add NAME`); var_dir/secrets/tap-tokens "
        "when unset.",
    )
    scs_max_sr_deg: float = Field(
        5.0, gt=0, description="Largest cone-search radius (SR, degrees) /scs accepts."
    )
    scs_maxrec_default: int = Field(
        10_000, ge=0, description="Rows a cone search returns when the client gives no MAXREC."
    )


    # --- TAP async jobs (UWS 1.1, tap_service/uws) --------------------------------------------
    uws_dir: Path | None = Field(
        None, description="Directory of async result files; var_dir/uws when unset."
    )
    uws_workers: int = Field(2, ge=1, description="Worker threads executing async jobs.")
    uws_queue_size: int = Field(
        100,
        ge=1,
        description="Most jobs QUEUED at once; PHASE=RUN beyond it answers 503 TransientFault "
        "and leaves the job PENDING, so the client can retry.",
    )
    uws_wait_max_s: float = Field(
        30.0, ge=0, description="Cap of a blocking WAIT on a job (UWS 1.1), in seconds."
    )
    uws_execution_duration_s: int = Field(
        3600, ge=1, description="Default executionDuration of a job, in seconds."
    )
    uws_execution_duration_max_s: int = Field(
        4 * 3600, ge=1, description="Longest executionDuration a client may ask for, in seconds."
    )
    uws_destruction_s: int = Field(
        7 * 86400, ge=1, description="Default lifetime of a job and its result, in seconds."
    )
    uws_destruction_max_s: int = Field(
        30 * 86400, ge=1, description="Longest job lifetime a client may ask for, in seconds."
    )
    uws_max_attempts: int = Field(
        2,
        ge=1,
        description="Executions a job may start; a job interrupted by a server crash is re-queued "
        "until it has used them, then ends in ERROR.",
    )
    uws_housekeeping_s: float = Field(
        1.0,
        gt=0,
        description="Period of the heartbeat, executionDuration checks and destruction reaper.",
    )
    uws_list_limit: int = Field(
        1000, ge=1, description="Most jobs a job list returns (newest first) without LAST."
    )
    uws_pending_per_client: int = Field(
        20, ge=1, description="Most PENDING and QUEUED jobs one client may hold at once."
    )
    uws_pending_max: int = Field(
        1000, ge=1, description="Most PENDING and QUEUED jobs of all clients together."
    )
    uws_upload_bytes_per_client: int = Field(
        200_000_000,
        ge=0,
        description="Most bytes of stored job uploads one client may hold (until its jobs end).",
    )
    uws_upload_bytes_max: int = Field(
        2_000_000_000, ge=0, description="Most bytes of stored job uploads of all clients."
    )

    @property
    def uws_results_dir(self) -> Path:
        """Where async result files are written."""
        return self.uws_dir or self.var_dir / "uws"

    @property
    def tap_tokens_path(self) -> Path:
        """The bearer-token file (`xpha tap token add`)."""
        return self.tap_tokens_file or self.var_dir / "secrets" / "tap-tokens"

    # --- demo (`xpha demo`) --------------------------------------------------------------
    demo_n_sources: int = Field(
        100_000, description="Simulated sources in `xpha demo` (chosen to finish in under 15 "
        "minutes on 2 cores; larger with --n-sources)."
    )
    demo_sdss_fraction: float = Field(
        0.03, description="Share of the demo's simulated sources given an SDSS spectrum."
    )
    demo_lamost_fraction: float = Field(
        0.02, description="Share of the demo's simulated sources in its LAMOST-like catalogue."
    )
    demo_dae_epochs: int = Field(3, description="Autoencoder phase-1 epochs in the demo (brief).")

    # --- ingest ---------------------------------------------------------------------------
    ingest_chunk_rows: int = Field(
        5000, description="Rows parsed and COPYed per chunk; memory stays flat at any file size."
    )

    # --- Gaia archive fetcher (ingest/fetch_gaia.py) -------------------------------------------
    gaia_fetch_dir: Path | None = Field(
        None, description="Where `xpha fetch gaia-xp` keeps the archive's files (default: "
        "<var_dir>/fetch/gaia)."
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
        0.5, description="Flag sky_residual when the sky at the line peak exceeds this many "
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

    # --- simulator (ingest/simulator, training/injection.py) ---------------------------------
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

    # --- training -------------------------------------------------------------------------
    training_device: str = Field(
        "auto", description="torch device: auto (CUDA with AMP when available, else CPU), cpu, cuda."
    )
    training_seed: int = Field(42, description="Seed of splits, shuffling and model initialisation.")
    dask_scheduler: str | None = Field(
        None, description="Address of a Dask scheduler (tcp://host:8786); a local cluster when unset."
    )
    dask_local_workers: int = Field(2, description="Workers of the local Dask cluster.")
    feed_partition_rows: int = Field(
        50_000, description="Target rows per Dask partition (whole HEALPix cells are merged)."
    )
    feed_healpix_level: int = Field(
        6, description="HEALPix level of the cells that partitions are built from (0..12)."
    )
    feed_prefetch: int = Field(2, description="Partitions read ahead while the model trains.")
    feed_snapshot: Path | None = Field(
        None,
        description="Directory of a Parquet snapshot (`xpha train snapshot`) that the training "
        "and scoring feed reads instead of PostgreSQL; scores are still written to the database.",
    )
    split_healpix_level: int = Field(
        5, description="HEALPix level of the sky cells that train/val/test are grouped by."
    )
    split_val_fraction: float = Field(0.15, description="Fraction of sky cells in validation.")
    split_test_fraction: float = Field(0.15, description="Fraction of sky cells in the test split.")
    normalise_mode: str = Field(
        "g", description="Per-star flux normalisation: g (phot_g_mean_flux) or rp (RP flux)."
    )
    training_labels_relation: str = Field(
        "labels.training_labels",
        description="Relation with (source_id, is_emitter, ew_halpha, conflict) labels.",
    )
    training_truth_relation: str = Field(
        "labels.simulation_truth",
        description="Relation with simulated truth (source_id, ew_halpha_true); optional.",
    )
    dae_latent_dim: int = Field(16, description="Latent dimension of the denoising autoencoder.")
    dae_hidden: int = Field(256, description="Width of the autoencoder's hidden layers.")
    dae_batch_size: int = Field(1024, description="Phase-1 minibatch size.")
    dae_epochs: int = Field(10, description="Phase-1 epochs over all training-split sources.")
    dae_lr: float = Field(2e-3, description="Phase-1 AdamW learning rate (cosine decay).")
    dae_mask_mode: str = Field(
        "band", description="Phase-1 corruption: band (mask all BP or all RP) or band+block."
    )
    head_batch_size: int = Field(256, description="Phase-2 minibatch size.")
    head_epochs: int = Field(60, description="Phase-2 epochs over the labelled training split.")
    head_lr: float = Field(1e-3, description="Phase-2 learning rate of the head.")
    head_unfreeze_lr_factor: float = Field(
        0.05, description="Encoder LR relative to the head's in unfreeze mode."
    )
    head_hidden: int = Field(128, description="Width of the phase-2 MLP head.")
    head_depth: int = Field(2, description="Hidden layers of the phase-2 MLP head.")
    head_dropout: float = Field(0.3, description="Dropout after each hidden layer of the head.")
    head_patience: int = Field(
        0, description="Stop phase 2 after this many epochs without a better val PR-AUC (0: never)."
    )
    head_xp_ew: bool = Field(
        True,
        description="Also give the DAE heads the XP-native H-alpha line features (sideband EW, "
        "learned-continuum excess, and their S/N).",
    )
    head_residual: bool = Field(
        False,
        description="MLP heads also get the 110 error-scaled reconstruction residuals (with a few "
        "hundred labelled emitters they overfit; the H-alpha excess is the residual that matters).",
    )
    baseline_max_rounds: int = Field(400, description="Boosting rounds of XGBoost and LightGBM.")
    line_excess_fit_rows: int = Field(
        200_000,
        description="Unlabelled training-split sources (a random sample) that the H-alpha "
        "continuum regressor learns from.",
    )
    line_excess_rounds: int = Field(
        800, description="Boosting rounds of the H-alpha continuum regressor (LightGBM, Huber)."
    )
    bootstrap_samples: int = Field(200, description="Bootstrap resamples for metric intervals.")
    evaluation_truth_min_ew: float = Field(
        5.0,
        description="On a simulated sky, the true H-alpha EW (Angstrom) from which a source counts "
        "as an emitter in the headline truth metrics; weaker emitters join neither class.",
    )

    @property
    def pg_data_dir(self) -> Path:
        """Data directory of the embedded cluster."""
        return self.var_dir / "pgdata"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def reference_markdown() -> str:
    """The configuration reference (README): every ``XPHA_*`` variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, Path):
            default = "./" + str(default.relative_to(PROJECT_ROOT)) if default.is_relative_to(
                PROJECT_ROOT) else str(default)
        shown = "" if default is None else f"`{default}`"
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        lines.append(f"| `XPHA_{name.upper()}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
