"""Injection-recovery: how strong must an H-alpha line be for a detector to find it?

Real parents (chosen as the simulator chooses them) are copied to a grid of G magnitudes; each copy gets H-alpha of a known EW through
the LSF (the simulator's physics), or none. The detection threshold is the score exceeded by a
fixed fraction of the EW = 0 copies (the false-positive rate), so a detector's own zero point
does not matter; recall is then counted per (true EW, G) cell, and the EW of 50% recall is
interpolated in log EW. EWs are TRUE (injected) values.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
EW_GRID = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0, 50.0, 80.0)
G_EDGES = (10.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 17.65)


@dataclass(frozen=True)
class InjectionPlan:
    """The grid and sample sizes of an injection-recovery run."""

    n_parents: int = 300
    copies: int = 4
    false_positive_rate: float = 0.01
    seed: int = 0
    ew_grid: tuple[float, ...] = EW_GRID
    g_edges: tuple[float, ...] = G_EDGES
    line_sigma_nm: float = 0.5
    parents: tuple[int, ...] = ()  # copy only these real parents (e.g. ones no model has seen)


@dataclass
class InjectionResult:
    """Recall per (G bin, EW), the threshold and the EW of 50% recall per G bin."""

    label: str
    threshold: float
    false_positive_rate: float
    g_edges: list[float]
    ew_grid: list[float]
    recall: list[list[float]]  # [g bin][ew]
    ew50: list[float | None]
    n_per_cell: int
    ew50_all: float | None = None  # every G bin pooled
    files: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [
            f"G {lo:g}-{hi:g}: EW50 = {'>' + str(self.ew_grid[-1]) if e is None else f'{e:.1f}'} A"
            for lo, hi, e in zip(self.g_edges[:-1], self.g_edges[1:], self.ew50, strict=True)
        ]
        pooled = "-" if self.ew50_all is None else f"{self.ew50_all:.1f}"
        return (
            f"{self.label}: threshold {self.threshold:.3g} at FPR {self.false_positive_rate:g} "
            f"(EW = 0 copies); " + "; ".join(parts) + f"; all G bins: EW50 = {pooled} A"
            f"; table {self.files.get('table', '-')}"
        )


def xp_ew_scorer(bp, rp, bp_err, rp_err) -> np.ndarray:
    """The XP-native H-alpha EW (Angstrom) as a score; unmeasurable sources score -inf."""
    from ingest.xp_physics.halpha_ew import halpha_ew

    ew, _ = halpha_ew(bp, rp, bp_err, rp_err)
    return np.where(np.isfinite(ew), ew, -np.inf)


def resolve_scorer(name: str, url: str | None = None) -> Scorer:
    """'xp-ew', or a model of ml.models by id or name (its raw score, higher = emitter)."""
    if name == "xp-ew":
        return xp_ew_scorer
    from sql.database import database_url
    from training.registry import find, verify
    from training.scorers import load_scorer

    record = find(url or database_url(), name)
    verify(record)
    return model_scorer(load_scorer(record.artifact_path))


def coefficient_batch(bp, rp, bp_err, rp_err) -> dict[str, np.ndarray]:
    """The training feed's batch layout built from coefficient arrays alone: G flux, G and
    BP-RP derived from the integrated XP fluxes as the simulator does (Riello+2021 excess)."""
    from ingest.simulator.continua import g_flux_from_bp_rp, magnitude
    from ingest.xp_physics.lsf import band_model

    bp_flux = band_model("bp").integrated_rate(bp)
    rp_flux = band_model("rp").integrated_rate(rp)
    g_flux = g_flux_from_bp_rp(bp_flux, rp_flux)
    return {
        "source_id": np.arange(len(rp), dtype=np.int64),
        "bp": bp, "bp_err": bp_err.astype(np.float32),
        "rp": rp, "rp_err": rp_err.astype(np.float32),
        "g_flux": g_flux, "g_mag": magnitude(g_flux, "g").astype(np.float32),
        "bp_rp": (magnitude(bp_flux, "bp") - magnitude(rp_flux, "rp")).astype(np.float32),
    }  # fmt: skip


def model_scorer(model) -> Scorer:
    """Wrap a trained model (``score(batch) -> (raw score, latent)``) as a coefficient scorer."""

    def score(bp, rp, bp_err, rp_err) -> np.ndarray:
        raw, _ = model.score(coefficient_batch(bp, rp, bp_err, rp_err))
        return np.where(np.isfinite(raw), raw, -np.inf)

    return score


def ew_at_recall(ew: np.ndarray, recall: np.ndarray, level: float = 0.5) -> float | None:
    """The EW where recall first reaches `level`, interpolated in log EW (None if never)."""
    above = np.flatnonzero(recall >= level)
    if above.size == 0:
        return None
    k = above[0]
    if k == 0:
        return float(ew[0])
    x0, x1 = np.log(ew[k - 1]), np.log(ew[k])
    y0, y1 = recall[k - 1], recall[k]
    return float(np.exp(x0 + (level - y0) * (x1 - x0) / max(y1 - y0, 1e-12)))


def run_injection(
    scorer: Scorer, plan: InjectionPlan, out: Path, label: str = "xp-ew"
) -> InjectionResult:
    """Score injected copies, write recall table (CSV), summary (JSON) and curve (PNG)."""
    from ingest.simulator.continua import load_parents
    from ingest.simulator.generator import choose_parents, inject_lines, perturbed_copies
    from ingest.simulator.parents import allowed_rows
    from ingest.xp_physics.halpha_ew import continuum_at_halpha
    from ingest.xp_physics.lsf import LineInjector

    rng = np.random.default_rng(plan.seed)
    library = load_parents()
    rows = allowed_rows(library.source_id, plan.parents, ())
    injector = LineInjector()
    ew_grid = np.asarray(plan.ew_grid, dtype=float)
    edges = np.asarray(plan.g_edges, dtype=float)
    n_bins = len(edges) - 1
    per_cell = plan.n_parents * plan.copies
    scores = np.empty((n_bins, ew_grid.size, per_cell))
    for b in range(n_bins):
        # Parents as the simulator picks them (never much fainter than the copy), with BP.
        g_new = rng.uniform(edges[b], edges[b + 1], plan.n_parents)
        parent = choose_parents(library, g_new, rng, rows)
        while not np.isfinite(library.bp[parent]).all():
            missing = ~np.isfinite(library.bp[parent]).all(axis=1)
            parent[missing] = choose_parents(library, g_new[missing], rng, rows)
        parent, g_new = np.repeat(parent, plan.copies), np.repeat(g_new, plan.copies)
        for k, ew in enumerate(ew_grid):
            coefficients, errors, _ = perturbed_copies(library, parent, g_new, rng)
            continuum = continuum_at_halpha(coefficients["bp"], coefficients["rp"])
            observed, grown = inject_lines(
                injector, coefficients, errors, continuum, np.full(per_cell, ew),
                np.full(per_cell, plan.line_sigma_nm), np.full(per_cell, 40), rng,
            )  # fmt: skip
            scores[b, k] = scorer(observed["bp"], observed["rp"], grown["bp"], grown["rp"])
    null = scores[:, ew_grid == 0].ravel()
    threshold = float(np.quantile(null[np.isfinite(null)], 1.0 - plan.false_positive_rate))
    recall = (scores > threshold).mean(axis=2)  # (bins, ew)
    positive = ew_grid > 0
    ew50 = [ew_at_recall(ew_grid[positive], recall[b, positive]) for b in range(n_bins)]
    ew50_all = ew_at_recall(ew_grid[positive], recall.mean(axis=0)[positive])
    result = InjectionResult(
        label=label,
        threshold=threshold,
        false_positive_rate=plan.false_positive_rate,
        g_edges=edges.tolist(),
        ew_grid=ew_grid.tolist(),
        recall=recall.tolist(),
        ew50=ew50,
        n_per_cell=per_cell,
        ew50_all=ew50_all,
    )
    _write(result, plan, out)
    return result


def _write(result: InjectionResult, plan: InjectionPlan, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    stem = f"injection_{result.label}"
    table = out / f"{stem}.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["g_min", "g_max", "ew_true", "n", "recall"])
        for b, (lo, hi) in enumerate(zip(result.g_edges[:-1], result.g_edges[1:], strict=True)):
            for k, ew in enumerate(result.ew_grid):
                writer.writerow([lo, hi, ew, result.n_per_cell, round(result.recall[b][k], 5)])
    with plt.rc_context({"text.usetex": False}):
        plot = _plot(result, out / f"{stem}.png", plt)
    result.files = {"table": str(table), "plot": str(plot)}
    summary = {**asdict(result), "plan": asdict(plan)}
    (out / f"{stem}.json").write_text(json.dumps(summary, indent=1) + "\n")


def _plot(result: InjectionResult, plot: Path, plt) -> Path:
    figure, axis = plt.subplots(figsize=(7, 4.5))
    ew = np.asarray(result.ew_grid)
    positive = ew > 0
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(result.ew50)))
    for b, colour in enumerate(colours):
        lo, hi = result.g_edges[b], result.g_edges[b + 1]
        axis.plot(ew[positive], np.asarray(result.recall[b])[positive], "o-", color=colour,
                  label=f"G {lo:g}-{hi:g}")  # fmt: skip
    axis.axhline(0.5, color="grey", lw=0.8, ls=":")
    axis.set_xscale("log")
    axis.set_xlabel("true (injected) H-alpha EW [Å]")
    axis.set_ylabel(f"recall at FPR = {result.false_positive_rate:g}")
    axis.set_title(f"Injection-recovery: {result.label} ({result.n_per_cell} copies per cell)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(plot, dpi=110)
    plt.close(figure)
    return plot
