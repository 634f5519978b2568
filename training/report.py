"""The comparison report: one Markdown and one HTML page with PNG figures (matplotlib, Agg)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from training.evaluate import EW_BINS, GRID, TRUTH_MIN_EWS, Evaluation
from training.kinds import KINDS
from training.model_kind import LatentSpace

REFERENCE = "reference (blog XGBoost, real data): ROC-AUC 0.979, PR-AUC 0.899"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["text.usetex"] = False  # gaiaxpy's import turns LaTeX on; no TeX here

    return plt


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def plot_curves(evaluations: list[Evaluation], out: Path) -> list[str]:
    plt = _plt()
    names = []
    for name, band_attr, xlabel, ylabel in (
        ("roc.png", "roc_band", "false-positive rate", "true-positive rate"),
        ("pr.png", "pr_band", "recall", "precision"),
    ):
        fig, ax = plt.subplots(figsize=(6, 5))
        for ev in evaluations:
            band = getattr(ev, band_attr)
            key = "roc_auc" if name == "roc.png" else "pr_auc"
            ax.plot(GRID, band[1], label=f"{ev.kind} ({ev.metrics[key]:.3f})")
            ax.fill_between(GRID, band[0], band[2], alpha=0.2)
        ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(0, 1), ylim=(0, 1.01))
        title = "ROC" if name == "roc.png" else "Precision-recall"
        ax.set_title(f"{title} (95% bootstrap over parent stars)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    for ev in evaluations:
        c = ev.calibration
        ax.plot(c["predicted"], c["observed"], "o-", ms=3, label=f"{ev.kind} (ECE {c['ece']:.3f})")
    ax.set(xlabel="predicted P(emitter)", ylabel="observed fraction", title="Calibration")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "calibration.png", dpi=110)
    plt.close(fig)
    names.append("calibration.png")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    centres = np.sqrt(EW_BINS[:-1] * EW_BINS[1:])
    for ax, slice_name in zip(axes, ("all", "G=15", "G=17"), strict=True):
        for ev in evaluations:
            recall = ev.recall_vs_ew["slices"][slice_name]["recall"]
            ax.plot(centres, recall, "o-", ms=3, label=ev.kind)
        ax.axhline(0.5, color="k", ls=":", lw=1)
        ax.set(
            xscale="log",
            xlim=(EW_BINS[0], EW_BINS[-1]),
            ylim=(-0.02, 1.02),
            xlabel="true EW(H-alpha) [A]",
            title=f"recall vs EW, {slice_name}",
        )
    axes[0].set_ylabel("recall (P >= 0.5)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "recall_vs_ew.png", dpi=110)
    plt.close(fig)
    names.append("recall_vs_ew.png")
    return names


def plot_latents(spaces: list[LatentSpace], out: Path) -> str:
    """PCA of each latent space, coloured by BP-RP (top) and by label (bottom)."""
    plt = _plt()
    fig, axes = plt.subplots(2, len(spaces), figsize=(4.5 * len(spaces), 8), squeeze=False)
    for col, space in enumerate(spaces):
        assert space.points is not None
        name, (z, bp_rp, y) = space.title, space.points
        centred = z - z.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        pcs = centred @ vt[:2].T
        top = axes[0, col].scatter(pcs[:, 0], pcs[:, 1], c=bp_rp, s=3, cmap="coolwarm")
        fig.colorbar(top, ax=axes[0, col], label="BP-RP")
        order = np.argsort(y)
        axes[1, col].scatter(pcs[order, 0], pcs[order, 1], c=y[order], s=3, cmap="viridis")
        axes[0, col].set_title(f"{name}: colour = BP-RP")
        axes[1, col].set_title(f"{name}: yellow = emitter, purple = not")
        for row in range(2):
            axes[row, col].set(xlabel="PC1", ylabel="PC2")
    fig.tight_layout()
    fig.savefig(out / "latent_pca.png", dpi=110)
    plt.close(fig)
    return "latent_pca.png"


def plot_training(history: list[dict], out: Path) -> str:
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    phase1 = [h for h in history if h.get("phase") == 1]
    if phase1:
        epochs = [h["epoch"] for h in phase1]
        a.plot(epochs, [h["train_loss"] for h in phase1], "o-", label="train")
        a.plot(epochs, [h["val_loss"] for h in phase1], "o-", label="validation")
        a.set(xlabel="epoch", ylabel="error-weighted loss", title="DAE phase 1")
        a.legend()
    for mode in sorted({str(h["mode"]) for h in history if h.get("phase") == 2}):
        rows = [h for h in history if h.get("phase") == 2 and h.get("mode") == mode]
        b.plot([h["epoch"] for h in rows], [h["val_ap"] for h in rows], label=mode)
    b.set(xlabel="epoch", ylabel="validation PR-AUC", title="DAE phase 2")
    b.legend()
    fig.tight_layout()
    fig.savefig(out / "training_curves.png", dpi=110)
    plt.close(fig)
    return "training_curves.png"


def write(
    out: Path,
    evaluations: list[Evaluation],
    latent_spaces: dict[str, LatentSpace],
    history: list[dict],
    context: dict,
) -> Path:
    """Write report.md, report.html, metrics.json and the figures into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    figures = plot_curves(evaluations, out)
    plotted = [space for space in latent_spaces.values() if space.points is not None]
    if plotted:
        figures.append(plot_latents(plotted, out))
    if history:
        figures.append(plot_training(history, out))
    sections = [("Models", ["model", "what it is"],
                 [[ev.kind, KINDS[ev.kind].description] for ev in evaluations]),
                ("Test split (parent-disjoint: stars no model learned from), survey labels", *_label_table(evaluations))]  # fmt: skip
    if any("truth_min_ew" in ev.metrics for ev in evaluations):
        sections.append(("Test split against the simulation truth, every source",
                         *_truth_table(evaluations)))  # fmt: skip
    if any("flagged_by_class" in ev.metrics for ev in evaluations):
        sections.append(("Flagged at P>=0.5 per simulated class (recall for emitters, "
                         "false-positive rate for the rest)", *_class_table(evaluations)))  # fmt: skip
    if any(KINDS[ev.kind].produces_latents for ev in evaluations):
        geo_header = ["latent space", "PC1 fraction", "effective rank"]
        geo_rows = [[space.title, _fmt(space.pc1_fraction), _fmt(space.effective_rank, 2)]
                    for space in latent_spaces.values()]  # fmt: skip
        sections.append(("Latent space (collapse check: phase 1 against the fine-tuned encoder; "
                         "frozen heads leave phase 1's latents unchanged by construction)",
                         geo_header, geo_rows))  # fmt: skip
    md = ["# xpha model comparison", "", f"{REFERENCE}", ""]
    md += [f"- {k}: {v}" for k, v in context.items()]
    for title, header, rows in sections:
        md += ["", f"## {title}", "", *_md_table(header, rows)]
    md += ["", *[f"![{f}]({f})" for f in figures]]
    (out / "report.md").write_text("\n".join(md) + "\n")
    page = [
        "<!doctype html><html><head><meta charset='utf-8'><title>xpha model comparison</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "td,th{border:1px solid #ccc;padding:3px 8px}table{border-collapse:collapse}</style>",
        "</head><body><h1>xpha model comparison</h1>",
        f"<p>{html.escape(REFERENCE)}</p><ul>",
    ]
    page += [f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in context.items()]
    page.append("</ul>")
    for title, header, rows in sections:
        page += [f"<h2>{html.escape(title)}</h2>", _html_table(header, rows)]
    page += [f"<p><img src='{f}' style='max-width:100%'></p>" for f in figures]
    (out / "report.html").write_text("\n".join([*page, "</body></html>"]) + "\n")
    metrics = {ev.kind: ev.metrics for ev in evaluations}
    geometry = {space.source: space.geometry for space in latent_spaces.values()}
    (out / "metrics.json").write_text(
        json.dumps({"models": metrics, "latent_geometry": geometry, "context": context}, indent=2)
    )
    return out / "report.md"


def _interval(m: dict, key: str, ci_key: str) -> str:
    value, ci = m.get(key), m.get(ci_key)
    if value is None:
        return "-"
    return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _label_table(evaluations: list[Evaluation]) -> tuple[list[str], list[list[str]]]:
    header = ["model", "PR-AUC [95%, parents resampled]", "ROC-AUC [95%]", "ECE", "recall@P>=0.5",
              "EW50 G=15 [A]", "EW50 G=17 [A]", "val PR-AUC"]  # fmt: skip
    rows = []
    for ev in sorted(evaluations, key=lambda e: -e.metrics["pr_auc"]):
        m = ev.metrics
        rows.append([
            ev.kind,
            _interval(m, "pr_auc", "pr_auc_ci"),
            _interval(m, "roc_auc", "roc_auc_ci"),
            _fmt(m["ece"]),
            _fmt(m["recall_at_p50"]),
            _fmt(m.get("ew50_G=15"), 1),
            _fmt(m.get("ew50_G=17"), 1),
            _fmt(m.get("val_pr_auc")),
        ])  # fmt: skip
    return header, rows


def _truth_table(evaluations: list[Evaluation]) -> tuple[list[str], list[list[str]]]:
    """PR/ROC-AUC against the truth: headline minimum EW with intervals, then the others."""
    headline = next(
        ev.metrics["truth_min_ew"] for ev in evaluations if "truth_min_ew" in ev.metrics
    )
    key = f"truth_ew{headline:g}"
    others = [e for e in TRUTH_MIN_EWS if e != headline]
    header = ["model", f"PR-AUC, EW>={headline:g} A [95%]", f"ROC-AUC, EW>={headline:g} A [95%]"]
    header += [f"PR-AUC, {'any line' if e == 0 else f'EW>={e:g} A'}" for e in others]
    header += ["sources (emitters)"]
    rows = []
    for ev in sorted(evaluations, key=lambda e: -e.metrics.get(f"{key}_pr_auc", 0.0)):
        m = ev.metrics
        row = [ev.kind, _interval(m, f"{key}_pr_auc", "truth_pr_auc_ci"),
               _interval(m, f"{key}_roc_auc", "truth_roc_auc_ci")]  # fmt: skip
        row += [_fmt(m.get(f"truth_ew{e:g}_pr_auc")) for e in others]
        row.append(f"{m.get('truth_n', '-')} ({m.get('truth_emitters', '-')})")
        rows.append(row)
    return header, rows


def _class_table(evaluations: list[Evaluation]) -> tuple[list[str], list[list[str]]]:
    tables = [ev for ev in evaluations if "flagged_by_class" in ev.metrics]
    classes = list(tables[0].metrics["flagged_by_class"])
    counts = tables[0].metrics["flagged_by_class"]
    header = ["model", *[f"{c} ({counts[c]['n']})" for c in classes]]
    rows = [[ev.kind, *[_fmt(ev.metrics["flagged_by_class"][c]["flagged"]) for c in classes]]
            for ev in tables]  # fmt: skip
    return header, rows


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
