"""`xpha demo`: the README's main job, from an empty machine to a queryable service.

The demo is a list of steps, each a plain call into the service modules that the other commands
use too. A step that finishes is written to a small state file, so a re-run skips it (and the
steps themselves are idempotent: ingest logs checksums, labels and crossmatches rebuild), and a
failed step names itself and its reason; the next run resumes there.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import typer

from ingest.samples import real_sample
from sql.errors import XphaError
from xpha.settings import XphaSettings, get_settings

REAL = real_sample()
REAL_XP_FILES = (
    "gaiaxpy_tests/XP_CONTINUOUS_RAW.fits",
    "gaiaxpy_tests/XP_CONTINUOUS_RAW_with_missing_BP.csv",
    "gaiaxpy_tests/18Sco-XP-spectra.csv",
    "xp_spectral_lines/xp_continuous_combined_chunk0.fits",
    "xp_spectral_lines/xp_continuous_combined_weiler2023_examples.vot",
)
REAL_SOURCE_FILES = ("astroquery_gaia/1710099405832VAL-result.vot",)
REAL_LAMOST_FILES = (
    "lamost_emission_bestars/Hou2016_VPHAS-SDSS-IPHAS-2MASS.csv",
    "lamost_emission_bestars/Liu2019_labelled_Liu_Etiq.csv",
)
REAL_SDSS_DIR = "sdss_spectra"


class DemoStepError(XphaError):
    """A demo step failed; the message names the step and how to resume."""


@dataclass(frozen=True)
class DemoPlan:
    """What the demo builds: a simulated sky of ``n_sources`` around the real samples."""

    n_sources: int
    seed: int
    sdss_fraction: float
    lamost_fraction: float
    dae_epochs: int
    exclude_parents: tuple[int, ...] = ()  # real stars kept out of the sky and of training

    @property
    def key(self) -> str:
        """Identifies the plan: a different plan is a different demo with its own state."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class DemoContext:
    """What steps share: settings, the database URL, where files go, and what came out."""

    plan: DemoPlan
    settings: XphaSettings
    url: str = ""
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        return self.settings.var_dir / "demo" / self.plan.key

    @property
    def sky_dir(self) -> Path:
        return self.workdir / "sky"


# --- the steps ----------------------------------------------------------------------------
def step_database(ctx: DemoContext) -> str:
    from sql.database import database_url, embedded_cluster, migrate

    if ctx.settings.database_url:
        where = "external server (XPHA_DATABASE_URL)"
    else:
        cluster = embedded_cluster(ctx.settings)
        cluster.start()
        cluster.ensure_database(ctx.settings.pg_database)
        where = f"embedded PostgreSQL on 127.0.0.1:{ctx.settings.pg_port}"
    ctx.url = database_url(ctx.settings)
    applied = migrate(ctx.url, ctx.settings)
    return f"{where}; {len(applied)} migration(s) applied"


def step_real_samples(ctx: DemoContext) -> str:
    from ingest.gaia_source import ingest_source
    from ingest.gaia_xp import ingest_xp
    from ingest.lamost import load_file
    from ingest.sdss import measure_files

    chunk = ctx.settings.ingest_chunk_rows
    xp = ingest_xp([REAL / f for f in REAL_XP_FILES], ctx.url, chunk_rows=chunk)
    sources = ingest_source([REAL / f for f in REAL_SOURCE_FILES], ctx.url, chunk_rows=chunk)
    lamost_entries = sum(load_file(REAL / f, url=ctx.url)[2] for f in REAL_LAMOST_FILES)
    sdss = measure_files([REAL / REAL_SDSS_DIR], ctx.url, ctx.settings)
    return (
        f"real Gaia XP rows {sum(r.rows_read for r in xp)}, gaia_source rows "
        f"{sum(r.rows_read for r in sources)}, LAMOST entries {lamost_entries}, "
        f"SDSS spectra {sdss.files}"
    )


def step_simulate(ctx: DemoContext) -> str:
    from ingest.simulator.generator import config_from_settings
    from ingest.simulator.pipeline import simulate

    plan = ctx.plan
    config = config_from_settings(
        ctx.settings,
        plan.n_sources,
        plan.seed,
        sdss_fraction=plan.sdss_fraction,
        lamost_fraction=plan.lamost_fraction,
        exclude_parents=plan.exclude_parents,
    )
    manifest = simulate(config, ctx.sky_dir, "fits", progress=True)
    classes = ", ".join(f"{k} {v}" for k, v in manifest["class_counts"].items())
    return (
        f"{plan.n_sources} sources ({classes}), {manifest['n_sdss_spectra']} SDSS spectra, "
        f"{manifest['n_lamost_rows']} LAMOST rows in {ctx.sky_dir}"
    )


def step_load_sky(ctx: DemoContext) -> str:
    from ingest.gaia_source import ingest_source
    from ingest.gaia_xp import ingest_xp
    from ingest.simulator.truth import TRUTH_FILE, load_truth

    chunk = ctx.settings.ingest_chunk_rows
    xp = ingest_xp([ctx.sky_dir / "xp_continuous"], ctx.url, chunk_rows=chunk)
    sources = ingest_source([ctx.sky_dir / "gaia_source"], ctx.url, chunk_rows=chunk)
    truth = load_truth(ctx.sky_dir / TRUTH_FILE, ctx.plan.seed, ctx.url)
    return (
        f"XP rows new {sum(r.rows_loaded for r in xp)}, gaia_source rows new "
        f"{sum(r.rows_loaded for r in sources)}, truth rows {truth}"
    )


def step_labels(ctx: DemoContext) -> str:
    from ingest.crossmatch import crossmatch
    from ingest.lamost import load_file
    from ingest.sdss import measure_files

    sdss = measure_files([ctx.sky_dir / "sdss"], ctx.url, ctx.settings)
    load_file(ctx.sky_dir / "lamost_emitters.csv", url=ctx.url)
    matches = [
        crossmatch(survey, url=ctx.url, settings=ctx.settings) for survey in ("sdss", "lamost")
    ]
    counts = _label_counts(ctx.url)
    return (
        f"{sdss.files} SDSS spectra measured; crossmatch "
        + ", ".join(f"{m.survey} {m.matched}/{m.entries}" for m in matches)
        + f"; training labels: {counts.get('positive', 0)} positive, "
        f"{counts.get('negative', 0)} negative"
    )


def step_train(ctx: DemoContext) -> str:
    from training import pipeline

    update: dict = {"dae_epochs": ctx.plan.dae_epochs}
    if ctx.plan.exclude_parents:  # their own real rows stay out of training too
        holdout = ctx.workdir / "holdout_source_ids.txt"
        holdout.write_text("".join(f"{i}\n" for i in ctx.plan.exclude_parents))
        update["training_holdout_file"] = holdout
    settings = ctx.settings.model_copy(update=update)
    result = pipeline.run(ctx.url, settings, set_current=True)
    best = max(result.evaluations, key=lambda e: e.metrics["pr_auc"])
    ctx.facts["report"] = str(result.report)
    return (
        f"{len(result.evaluations)} models trained; current {result.current} "
        f"(PR-AUC {best.metrics['pr_auc']:.3f}, ROC-AUC {best.metrics['roc_auc']:.3f}); "
        f"report {result.report}"
    )


def step_score(ctx: DemoContext) -> str:
    from training.scoring import score_all

    result = score_all(ctx.url, ctx.settings, "current")
    return (
        f"{result.scored} sources scored by {result.model.name} (model_id {result.model.model_id})"
    )


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    run: Callable[[DemoContext], str]
    always: bool = False  # re-run every time (cheap, and later steps need its context)


STEPS = (
    Step("database", "start the database and apply migrations", step_database, always=True),
    Step("real", "load the real Gaia, SDSS and LAMOST samples", step_real_samples),
    Step("simulate", "simulate a sky with H-alpha emitters", step_simulate),
    Step("load", "ingest the simulated sky", step_load_sky),
    Step("labels", "measure H-alpha, load LAMOST, crossmatch, build labels", step_labels),
    Step("train", "train baselines and the autoencoder, write the report", step_train),
    Step("score", "score every source with the current model", step_score),
)


def _label_counts(url: str) -> dict[str, int]:
    from sql.database import connect

    with connect(url) as conn:
        rows = conn.execute(
            "SELECT label, count(*) FROM labels.source_evidence GROUP BY label"
        ).fetchall()
    return {str(label): int(n) for label, n in rows}


# --- running --------------------------------------------------------------------------------
def _state_path(ctx: DemoContext) -> Path:
    """One state file per plan and database: another database starts from scratch."""
    from sql.database import database_url

    where = hashlib.sha256(database_url(ctx.settings).encode()).hexdigest()[:12]
    return ctx.workdir / f"state-{where}.json"


def _load_state(ctx: DemoContext) -> dict:
    path = _state_path(ctx)
    return json.loads(path.read_text()) if path.exists() else {"plan": asdict(ctx.plan), "done": {}}


def _save_state(ctx: DemoContext, state: dict) -> None:
    path = _state_path(ctx)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def run_demo(plan: DemoPlan, settings: XphaSettings | None = None, echo=typer.echo) -> DemoContext:
    """Run every step not yet done for this plan; returns the context (URL, facts)."""
    ctx = DemoContext(plan, settings or get_settings())
    state = _load_state(ctx)
    total = len(STEPS)
    for number, step in enumerate(STEPS, start=1):
        done = state["done"].get(step.name)
        if done and not step.always:
            echo(f"[{number}/{total}] {step.title}: done earlier ({done['summary']})")
            continue
        echo(f"[{number}/{total}] {step.title} ...")
        start = time.perf_counter()
        try:
            summary = step.run(ctx)
        except Exception as exc:  # a failed step must say which and why, then resume later
            raise DemoStepError(
                f"demo step {number}/{total} '{step.name}' ({step.title}) failed: {exc}. "
                "Fix the cause and run `xpha demo` again: finished steps are not repeated."
            ) from exc
        elapsed = time.perf_counter() - start
        echo(f"[{number}/{total}] {step.title}: {summary} ({elapsed:.1f} s)")
        state["done"][step.name] = {"summary": summary, "seconds": round(elapsed, 1)}
        _save_state(ctx, state)
    ctx.facts.setdefault("report", str(state["done"].get("train", {}).get("summary", "")))
    return ctx


def known_stars_section(url: str) -> str:
    """Where the current model ranks the known real emitters (``training/known_stars.py``),
    read from the database, so a re-run whose scoring step was done earlier prints it too."""
    from training import known_stars, registry

    record = registry.find(url, "current")
    return known_stars.markdown(record, known_stars.rank(url, record.model_id))


def next_steps(settings: XphaSettings) -> str:
    """What a person does next: TOPCAT, pyvo and three example queries."""
    tap = settings.tap_base_url or f"http://{settings.tap_host}:{settings.tap_port}/tap"
    base = tap.rstrip("/").removesuffix("/tap")
    return f"""
xpha is ready.
  Landing page : {base}/
  TAP service  : {base}/tap      (TOPCAT: VO > Table Access Protocol (TAP) Query > TAP URL)
  Cone search  : {base}/scs?RA=280.0&DEC=-5.0&SR=1.0

From Python (pyvo):
  import pyvo
  tap = pyvo.dal.TAPService("{base}/tap")
  tap.run_sync("SELECT TOP 10 * FROM xpha.emitter_candidates ORDER BY probability DESC").to_table()

Three queries to start with:
  -- the 20 most likely emitters
  SELECT TOP 20 source_id, ra, dec, phot_g_mean_mag, bp_rp, probability
  FROM xpha.emitter_candidates ORDER BY probability DESC

  -- candidates in a 2-degree cone (Q3C-indexed)
  SELECT source_id, ra, dec, probability FROM xpha.emitter_candidates
  WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 280.0, -5.0, 2.0))

  -- how the scores compare with the spectroscopic labels
  SELECT l.label, COUNT(*) AS n, AVG(c.probability) AS mean_probability
  FROM xpha.emitter_candidates AS c JOIN xpha.training_labels AS l USING (source_id)
  GROUP BY l.label
"""


def demo_command(
    n_sources: int = typer.Option(
        None, "--n-sources", min=1000, help="Simulated sources (default XPHA_DEMO_N_SOURCES)."
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the simulated sky."),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Start the TAP service at the end."
    ),
    exclude_parents: Path = typer.Option(
        None,
        "--exclude-parents",
        help="File of source_ids (one per line) kept out of everything the models learn: the "
        "sky copies none of them and their own rows go to the test split.",
    ),
) -> None:
    """Start the database, load real samples and a simulated sky, label, train, score, serve."""
    from ingest.simulator.parents import read_source_ids

    settings = get_settings()
    excluded = read_source_ids(exclude_parents, "--exclude-parents") if exclude_parents else ()
    plan = DemoPlan(
        n_sources=n_sources or settings.demo_n_sources,
        seed=seed,
        sdss_fraction=settings.demo_sdss_fraction,
        lamost_fraction=settings.demo_lamost_fraction,
        dae_epochs=settings.demo_dae_epochs,
        exclude_parents=tuple(int(i) for i in excluded),
    )
    start = time.perf_counter()
    ctx = run_demo(plan, settings)
    typer.echo(f"demo finished in {time.perf_counter() - start:.0f} s")
    typer.echo(known_stars_section(ctx.url))
    typer.echo(next_steps(settings))
    if serve:
        from tap_service.cli import serve as serve_command

        serve_command(host=settings.tap_host, port=settings.tap_port, workers=1)


def register(app: typer.Typer) -> None:
    """Add ``xpha demo`` to the root app."""
    app.command("demo")(demo_command)
