"""Commands ``xpha train``, ``xpha score``, ``xpha models`` and ``xpha evaluate``: a thin layer
over the services.

Heavy libraries (torch, dask, xgboost) are imported inside the commands so ``xpha --help``
stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from training.kinds import KINDS

train_app = typer.Typer(help="Train and compare H-alpha emitter models.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry (ml.models).", no_args_is_help=True)
evaluate_app = typer.Typer(help="Evaluate detectors on simulated injections.", no_args_is_help=True)

SCHEDULER = typer.Option(
    None, "--scheduler", help="Dask scheduler address (tcp://host:8786); local cluster if unset."
)


@train_app.command("compare")
def train_compare(
    models: str = typer.Option("all", help=f"Comma-separated kinds: {','.join(KINDS)} (or all)."),
    scheduler: str | None = SCHEDULER,
    report_dir: Path | None = typer.Option(None, help="Where the report goes (var/reports/...)."),
    phase1_dir: Path | None = typer.Option(
        None, help="DAE phase-1 checkpoint directory: resumed if it holds a checkpoint."
    ),
    epochs: int | None = typer.Option(None, help="DAE phase-1 epochs (XPHA_DAE_EPOCHS)."),
    set_current: bool = typer.Option(
        True, help="Make the model with the best validation PR-AUC current."
    ),
) -> None:
    """Train every model on the same parent-disjoint split, register them, write the report."""
    from sql.database import database_url
    from training import pipeline
    from training.settings import get_settings

    settings = get_settings()
    if epochs is not None:
        settings = settings.model_copy(update={"dae_epochs": epochs})
    kinds = tuple(KINDS) if models == "all" else tuple(m.strip() for m in models.split(","))
    result = pipeline.run(
        database_url(settings),
        settings,
        kinds,
        report_dir=report_dir,
        scheduler=scheduler,
        set_current=set_current,
        phase1_dir=phase1_dir,
    )
    for ev in sorted(result.evaluations, key=lambda e: -e.metrics["pr_auc"]):
        m = ev.metrics
        typer.echo(
            f"{ev.kind:<14} model_id={result.model_ids[ev.kind]:<5} PR-AUC {m['pr_auc']:.3f}"
            f"  ROC-AUC {m['roc_auc']:.3f}"
        )
    typer.echo(f"current model: {result.current}; report: {result.report}")


@train_app.command("snapshot")
def train_snapshot(
    out_dir: Path = typer.Argument(..., help="Directory of the snapshot (created or resumed)."),
    scheduler: str | None = SCHEDULER,
) -> None:
    """Export the training feed to Parquet (one file per partition + manifest.json); resumable.

    Set XPHA_FEED_SNAPSHOT=OUT_DIR to train (and score) from it. With --scheduler, OUT_DIR
    must be a path every Dask worker can write.
    """
    from sql.database import database_url
    from training.settings import get_settings
    from training.snapshot import export

    settings = get_settings()
    result = export(database_url(settings), settings, out_dir, scheduler)
    typer.echo(
        f"snapshot {result.directory}: {result.files} files ({result.written} written,"
        f" {result.kept} kept), {result.rows} rows, {result.bytes / 2**20:.1f} MiB,"
        f" {result.seconds:.1f} s"
    )


def score(
    model: str = typer.Argument(
        ..., help="Model id, kind-version or current (see `xpha models list`)."
    ),
    scheduler: str | None = SCHEDULER,
) -> None:
    """Score every source with a model; scores and latents are COPYed into ml.*."""
    from sql.database import database_url
    from training.scoring import score_all
    from training.settings import get_settings

    settings = get_settings()
    result = score_all(database_url(settings), settings, model, scheduler)
    typer.echo(
        f"{result.model.name} (model_id {result.model.model_id}): {result.scored} sources scored,"
        f" {result.skipped} without usable XP data skipped"
    )
    if result.known is not None:
        typer.echo(result.known.summary())


@models_app.command("list")
def models_list() -> None:
    """Every registered model with its test metrics and how many sources it scored."""
    from sql.database import database_url
    from training.registry import list_models

    rows = list_models(database_url())
    if not rows:
        typer.echo("no models yet: run `xpha train compare`")
    for model_id, kind, version, current, _, pr_auc, roc_auc, scored in rows:
        mark = "*" if current else " "
        typer.echo(
            f"{mark} {model_id:<5} {kind + '-' + version:<34} PR-AUC {pr_auc or '-':<8.8}"
            f" ROC-AUC {roc_auc or '-':<8.8} scored {scored}"
        )


@models_app.command("set-current")
def models_set_current(model: str = typer.Argument(..., help="Model id or kind-version.")) -> None:
    """Make a model current: the published candidate view follows it."""
    from sql.database import database_url
    from training import registry

    url = database_url()
    record = registry.find(url, model)
    registry.set_current(url, record.model_id)
    typer.echo(f"current model: {record.name} (model_id {record.model_id})")


@evaluate_app.command("injection")
def evaluate_injection(
    scorer: str = typer.Option(
        "xp-ew",
        "--scorer",
        help="xp-ew (the XP-native H-alpha EW) or a model of ml.models (id or kind-version).",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for table + PNG (default <XPHA_VAR_DIR>/injection)."
    ),
    copies: int = typer.Option(
        4, "--copies", min=1, help="Copies of each parent per (EW, G) cell."
    ),
    parents: int = typer.Option(300, "--parents", min=10, help="Real parents used."),
    false_positive_rate: float = typer.Option(
        0.01, "--fpr", min=1e-4, max=0.5, help="FPR on EW = 0 copies that sets the threshold."
    ),
    seed: int = typer.Option(0, "--seed"),
    only_parents: Path | None = typer.Option(
        None,
        "--only-parents",
        help="File of source_ids (one per line): copy only these real parents, e.g. the ones a "
        "demo run kept out (xpha demo --exclude-parents) to measure stars no model has seen.",
    ),
) -> None:
    """Recall vs true EW and G at a fixed false-positive rate (table CSV + PNG)."""
    from ingest.simulator.parents import read_source_ids
    from ingest.simulator.plots import plot_emitter
    from training.injection import InjectionPlan, resolve_scorer, run_injection
    from training.settings import get_settings

    listed = read_source_ids(only_parents, "--only-parents") if only_parents else ()
    plan = InjectionPlan(
        n_parents=parents, copies=copies, false_positive_rate=false_positive_rate, seed=seed,
        parents=tuple(int(i) for i in listed),
    )  # fmt: skip
    out = out or get_settings().var_dir / "injection"
    result = run_injection(resolve_scorer(scorer), plan, out, label=scorer)
    example = plot_emitter(out / "emitter_vs_parent.png", parent_row=5, ew_angstrom=30.0)
    typer.echo(result.summary())
    typer.echo(f"plots: {result.files['plot']}, {example}")


@evaluate_app.command("heldout")
def evaluate_heldout(
    out: Path | None = typer.Option(
        None, "--out", help="Directory for report.md, metrics.json, PNG (default <var>/heldout)."
    ),
    folds: int = typer.Option(5, "--folds", min=2, help="Folds of the real parents."),
    seeds: int = typer.Option(1, "--seeds", min=1, help="Repeats with other fold deals."),
    train_sources: int = typer.Option(
        60_000, "--train-sources", min=2_000, help="Simulated sources the detectors learn from."
    ),
    null_copies: int = typer.Option(
        200_000, "--null-copies", min=1_000, help="Line-free copies of test parents per fold."
    ),
    val_null_copies: int = typer.Option(
        200_000,
        "--val-null-copies",
        min=1_000,
        help="Line-free copies of validation parents per fold: they choose the thresholds whose "
        "FPR on test parents is reported (20 above a 1e-4 threshold at the default).",
    ),
    only_folds: str = typer.Option(
        "", "--only-folds", help="Comma-separated fold numbers to run (default: every fold)."
    ),
) -> None:
    """Line detectors on parents they have never seen: grouped k-fold by parent, thresholds at
    FPR 1e-2/1e-3/1e-4, recall vs EW and G, threshold transfer, PR-AUC with parent-bootstrap
    intervals, against the physical limit."""
    from sql.errors import XphaError
    from training.heldout import HeldOutPlan, run
    from training.settings import get_settings

    try:
        chosen = tuple(int(k) for k in only_folds.split(",") if k.strip())
    except ValueError:
        raise XphaError(f"--only-folds {only_folds!r}: give fold numbers like 0,2") from None
    if any(not 0 <= k < folds for k in chosen):
        raise XphaError(f"--only-folds {only_folds!r}: folds are numbered 0..{folds - 1}")
    plan = HeldOutPlan(folds=folds, seeds=tuple(range(seeds)), train_sources=train_sources,
                       null_copies=null_copies, val_null_copies=val_null_copies,
                       only_folds=chosen)  # fmt: skip
    out = out or get_settings().var_dir / "heldout"
    run(plan, out, progress=typer.echo)
    typer.echo(f"report: {out / 'report.md'}")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
    app.add_typer(train_app, name="train")
    app.add_typer(models_app, name="models")
    app.command("score")(score)
    app.add_typer(evaluate_app, name="evaluate")
