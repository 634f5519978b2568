"""The settings of training (``XPHA_*`` variables, on top of the database's).

The two DAE phases' configurations are settings models themselves (:class:`Phase1Config`,
:class:`Phase2Config`): one source of defaults. :class:`TrainingSettings` is both, so a run passes
its settings to each phase as they are; a test builds just the phase it needs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from sql.settings import XPHA_SETTINGS, Settings, cached_settings


class RunSettings(BaseSettings):
    """Where torch runs and the seed of every random choice of a run."""

    model_config = XPHA_SETTINGS

    training_device: str = Field(
        "auto",
        description="torch device: auto (CUDA with AMP when available, else CPU), cpu, cuda.",
    )
    training_seed: int = Field(
        42, description="Seed of splits, shuffling and model initialisation."
    )


class Phase1Config(RunSettings):
    """DAE phase 1: the autoencoder's shape, its corruption and its optimiser."""

    dae_latent_dim: int = Field(16, description="Latent dimension of the denoising autoencoder.")
    dae_hidden: int = Field(256, description="Width of the autoencoder's hidden layers.")
    dae_batch_size: int = Field(1024, description="Phase-1 minibatch size.")
    dae_epochs: int = Field(10, description="Phase-1 epochs over all training-split sources.")
    dae_lr: float = Field(2e-3, description="Phase-1 AdamW learning rate (cosine decay).")
    dae_mask_mode: str = Field(
        "band", description="Phase-1 corruption: band (mask all BP or all RP) or band+block."
    )
    dae_weight_decay: float = Field(1e-4, description="Phase-1 AdamW weight decay.")
    dae_warmup_steps: int = Field(50, description="Phase-1 linear learning-rate warm-up, in steps.")
    dae_p_band: float = Field(
        0.5,
        description="Phase-1 corruption: fraction of rows with one whole band (BP or RP) hidden.",
    )
    dae_p_block: float = Field(
        0.25,
        description="Phase-1 corruption (band+block only): fraction of rows with a random "
        "block of coefficients hidden.",
    )
    dae_block_length: tuple[int, int] = Field(
        (4, 24), description="Phase-1 corruption: shortest and longest hidden block, coefficients."
    )
    dae_noise: float = Field(
        1.0, description="Phase-1 input noise, in units of the quoted coefficient errors."
    )


class Phase2Config(RunSettings):
    """DAE phase 2: the classifier head and how it is fitted (the mode comes with the kind)."""

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
    head_weight_decay: float = Field(1e-4, description="Phase-2 AdamW weight decay.")
    head_recon_weight: float = Field(
        1.0,
        description="Unfreeze mode: weight of the kept reconstruction loss (against "
        "representation collapse).",
    )


class TrainingSettings(Settings, Phase2Config, Phase1Config):
    """Database settings plus the feed, splits, every model kind, evaluation and both DAE phases."""

    dask_scheduler: str | None = Field(
        None,
        description="Address of a Dask scheduler (tcp://host:8786); a local cluster when unset.",
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
        5,
        description="HEALPix level of the sky cells that train/val/test are grouped by where a "
        "source has no simulation parent (a simulated source splits with its parent star).",
    )
    split_val_fraction: float = Field(
        0.15, description="Fraction of parent stars (sky cells where none) in validation."
    )
    split_test_fraction: float = Field(
        0.15, description="Fraction of parent stars (sky cells where none) in the test split."
    )
    training_holdout_file: Path | None = Field(
        None,
        description="File of source_ids (one per line) kept out of everything the models learn: "
        "these sources, and every simulated copy of them, always go to the test split.",
    )
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
    baseline_max_rounds: int = Field(400, description="Boosting rounds of XGBoost and LightGBM.")
    line_excess_fit_rows: int = Field(
        200_000,
        description="Unlabelled training-split sources (a random sample) that the H-alpha "
        "continuum regressor learns from.",
    )
    line_excess_rounds: int = Field(
        800, description="Boosting rounds of the H-alpha continuum regressor (LightGBM, Huber)."
    )
    continuum_library_sources: int = Field(
        40_000,
        description="Brightest training-split sources from which the line_snr continuum library "
        "is built (copies of one spectrum merge into one entry).",
    )
    continuum_validation_sources: int = Field(
        30_000, description="Validation-split sources that calibrate the line S/N per magnitude."
    )
    continuum_neighbours: int = Field(
        40, description="Library stars that define each source's local continuum and scatter."
    )
    continuum_scatter_weight: float = Field(
        0.5,
        gt=0,
        description="Weight w of the library neighbours' scatter S in the local continuum's "
        "covariance C + w·S (1: the 40-star sample covariance as it is, which overstates its "
        "leading directions).",
    )
    continuum_misfit_quantile: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Share of validation stars whose line S/N is kept whole; a star its library "
        "neighbours fit worse has its S/N divided by the root of the excess misfit (1: no guard).",
    )
    continuum_epochs: int = Field(8, description="Epochs of the continuum network.")
    continuum_rows_per_epoch: int = Field(
        150_000, description="Augmented library stars (fainter copies, binaries) per epoch."
    )
    continuum_hidden: int = Field(256, description="Width of the continuum network's layers.")
    continuum_threads: int = Field(
        1, description="torch threads of the continuum network (the machine may be shared)."
    )
    bootstrap_samples: int = Field(200, description="Bootstrap resamples for metric intervals.")
    evaluation_truth_min_ew: float = Field(
        5.0,
        description="On a simulated sky, the true H-alpha EW (Angstrom) from which a source counts "
        "as an emitter in the headline truth metrics; weaker emitters join neither class.",
    )


def get_settings() -> TrainingSettings:
    """The training settings of this process."""
    return cached_settings(TrainingSettings)
