"""Review pictures: the H-alpha window of chosen spectra (flux, continuum, model, EW) + contact sheet.

A person spot-checks the labeller here: each PNG shows the rest-frame windows with the flux,
the West and broad sideband continuum fits, the pipeline model, both integrated line bands (the
reported one shaded darker), and the reported EW, its window, the West-window EW, label and flags
in the title. The contact sheet tiles them for a quick look.
"""

from __future__ import annotations

from pathlib import Path

from sql.database import connect
from sql.errors import XphaError

SELECTIONS = {
    "flagged": "status = 'unmeasurable' OR cardinality(flags) > 0"
    " OR (is_emitter AND label IS NULL)",
    "positive": "label = 'positive'",
    "negative": "label = 'negative'",
    "all": "true",
}


def review(
    out: Path, which: str = "flagged", limit: int = 48, url: str | None = None
) -> tuple[list[Path], Path | None]:
    """Draw up to ``limit`` spectra of a selection; returns the PNGs and the contact sheet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ingest.halpha import HalphaWindows, measure
    from ingest.sdss_spectra import SpectrumReadError, read_spectrum

    if which not in SELECTIONS:
        raise XphaError(f"unknown selection {which!r}; choose one of {', '.join(SELECTIONS)}")
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT spec_id, file_name, status, reason, ew_halpha, ew_halpha_err, ew_model,"
            " label, flags, ew_window, ew_narrow FROM labels.sdss_spectra"
            f" WHERE {SELECTIONS[which]} ORDER BY spec_id LIMIT %s",
            (limit,),
        ).fetchall()
    out.mkdir(parents=True, exist_ok=True)
    win = HalphaWindows.from_settings()
    pngs: list[Path] = []
    for row in rows:
        spec_id, file_name, status, reason, ew, ew_err, ew_model, label, flags = row[:9]
        window, ew_narrow = row[9:]
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=90)
        try:
            spectrum = read_spectrum(file_name)
        except (SpectrumReadError, TypeError):
            ax.text(
                0.5,
                0.5,
                f"unreadable:\n{reason}",
                ha="center",
                va="center",
                wrap=True,
                transform=ax.transAxes,
                fontsize=9,
            )
            ax.set_axis_off()
        else:
            m = measure([spectrum], win)
            # measure() keeps the cut-out windows of every spectrum it is given
            assert m.wave is not None and m.flux is not None and m.cont is not None
            assert m.cont_broad is not None and m.model is not None
            ax.plot(m.wave[0], m.flux[0], color="k", lw=0.8, drawstyle="steps-mid", label="flux")
            ax.plot(m.wave[0], m.cont[0], color="tab:blue", lw=1, label="West continuum")
            ax.plot(m.wave[0], m.cont_broad[0], color="tab:green", lw=1, ls="--",
                    label="broad continuum")  # fmt: skip
            ax.plot(m.wave[0], m.model[0], color="tab:orange", lw=0.8, label="model")
            broad = window == "broad"
            ax.axvspan(*win.broad_line, color="tab:red", alpha=0.15 if broad else 0.05,
                       label="broad band")  # fmt: skip
            ax.axvspan(*win.line, color="tab:red", alpha=0.05 if broad else 0.15,
                       label="West band")  # fmt: skip
            for band in (win.blue, win.red, win.broad_blue, win.broad_red):
                ax.axvspan(*band, color="tab:blue", alpha=0.05)
            ax.set_xlim(win.span[0] - 5, win.span[1] + 5)
            ax.set_xlabel("rest vacuum wavelength [A]")
            ax.set_ylabel("flux [1e-17 erg/s/cm2/A]")
            ax.legend(fontsize=6, loc="upper right")
        model_ew = ew_model if ew_model is None else round(ew_model, 2)
        west = "" if ew_narrow is None else f"; West {ew_narrow:.2f}"
        detail = (
            f"EW={ew:.2f}+-{ew_err:.2f} A ({window} window{west}), vs model {model_ew}"
            if status == "measured"
            else f"unmeasurable: {reason}"
        )
        ax.set_title(f"{spec_id} [{label or 'no label'}] {','.join(flags)}\n{detail}", fontsize=8)
        fig.tight_layout()
        path = out / f"halpha_{spec_id.replace(':', '_')}.png"
        fig.savefig(path)
        plt.close(fig)
        pngs.append(path)
    return pngs, contact_sheet(pngs, out / "contact_sheet.png") if pngs else None


def contact_sheet(pngs: list[Path], path: Path, columns: int = 4) -> Path:
    """Tile review PNGs into one picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    rows = -(-len(pngs) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.5 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, png in zip(axes.ravel(), pngs, strict=False):
        ax.imshow(mpimg.imread(png))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
