"""The command `xpha simulate`: the synthetic sky."""

from __future__ import annotations

from pathlib import Path

import typer


def simulate_command(
    out: Path = typer.Option(..., "--out", help="Output directory (created)."),
    n_sources: int = typer.Option(
        None, "--n-sources", min=0, help="Sources to simulate; omit with --load-truth to load OUT."
    ),
    seed: int = typer.Option(0, "--seed", help="One seed reproduces every byte."),
    fmt: str = typer.Option("fits", "--format", help="Gaia files as fits, csv or ecsv."),
    sdss_fraction: float = typer.Option(
        0.0, "--sdss-fraction", min=0.0, max=1.0, help="Share of sources with an SDSS spectrum."
    ),
    lamost_fraction: float = typer.Option(
        0.0, "--lamost-fraction", min=0.0, max=1.0, help="Share in the LAMOST-like catalogue."
    ),
    emitter_scale: float = typer.Option(
        1.0,
        "--emitter-scale",
        min=0.0,
        help="Multiply every emitter-class fraction (default mixture: be 2%, ttauri 1%, dme 2%, "
        "hard_negative 5%; the rest none).",
    ),
    mixture_file: Path = typer.Option(
        None,
        "--mixture",
        help="JSON list of classes {name, fraction, ew_min, ew_max, sigma_min_nm, sigma_max_nm, "
        "sign, variability_dex} replacing the default mixture (EW in Angstrom).",
    ),
    chunk_rows: int = typer.Option(None, "--chunk-rows", min=1, help="Sources per file."),
    density: str = typer.Option(None, "--density", help="Sky density: disc or uniform."),
    parents_file: Path = typer.Option(
        None,
        "--parents",
        help="File of source_ids (one per line): copy only these real parents.",
    ),
    exclude_parents_file: Path = typer.Option(
        None,
        "--exclude-parents",
        help="File of source_ids (one per line): never copy these real parents (keep them "
        "unseen; give the same file to XPHA_TRAINING_HOLDOUT_FILE for training).",
    ),
    load_truth: bool = typer.Option(
        False,
        "--load-truth",
        help="Load OUT/truth.csv into labels.simulation_truth (after simulating, or alone for "
        "an existing OUT when --n-sources is omitted).",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Write a deterministic synthetic Gaia XP sky with H-alpha emitters of known EW.

    OUT gets xp_continuous/ and gaia_source/ chunks (for `xpha ingest gaia-xp/gaia-source`),
    sdss/spec-*.fits, lamost_emitters.csv, truth.csv and manifest.json.
    """
    import json

    from ingest.settings import get_settings
    from ingest.simulator.generator import config_from_settings
    from ingest.simulator.parents import read_source_ids
    from ingest.simulator.pipeline import MANIFEST, simulate
    from ingest.simulator.population import load_mixture, scaled_mixture
    from ingest.simulator.truth import TRUTH_FILE
    from ingest.simulator.truth import load_truth as load
    from sql.errors import XphaError

    if n_sources is None and not load_truth:
        raise XphaError("give --n-sources N (or --load-truth to load an existing OUT)")
    if n_sources is not None:
        config = config_from_settings(
            get_settings(),
            n_sources,
            seed,
            sdss_fraction=sdss_fraction,
            lamost_fraction=lamost_fraction,
            mixture=load_mixture(mixture_file) if mixture_file else scaled_mixture(emitter_scale),
            chunk_rows=chunk_rows,
            density=density,
            parents=tuple(read_source_ids(parents_file, "--parents")) if parents_file else (),
            exclude_parents=tuple(read_source_ids(exclude_parents_file, "--exclude-parents"))
            if exclude_parents_file
            else (),
        )
        manifest = simulate(config, out, fmt, progress)
        counts = ", ".join(f"{k} {v}" for k, v in manifest["class_counts"].items())
        typer.echo(
            f"wrote {n_sources} sources to {out} ({counts}; "
            f"{manifest['n_sdss_spectra']} SDSS spectra, "
            f"{manifest['n_lamost_rows']} LAMOST rows)"
        )
    if load_truth:
        manifest_path = out / MANIFEST
        if not manifest_path.exists():
            raise XphaError(f"{out} holds no simulation ({MANIFEST} missing)")
        run_seed = json.loads(manifest_path.read_text())["seed"]
        rows = load(out / TRUTH_FILE, run_seed)
        typer.echo(f"loaded {rows} truth rows into labels.simulation_truth")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
    app.command("simulate")(simulate_command)
