"""H-alpha equivalent widths of many SDSS spectra at once, and the rule that turns them into labels.

Method (West et al. 2004/2011, vacuum wavelengths as SDSS records them):

* each spectrum is shifted to its rest frame with the catalogue redshift, and the pixels covering
  the blue sideband .. red sideband (default 6500-6625 A) are cut out into one (N, K) array per
  quantity, so everything below is numpy over the whole batch;
* each pixel's overlap with a window is exact (fractional pixels at the edges), so the EW does
  not jitter with the pixel phase;
* the continuum is a straight line fitted to both sidebands (equal weights, two 3-sigma clips to
  drop features such as [N II] in galaxies), evaluated under the line;
* EW = sum (F / C - 1) dlambda over the line window, emission positive, in rest-frame A; its
  error propagates the pixel variances (1/ivar) and the continuum's variance;
* EW relative to the pipeline model: sum (F - model) / C dlambda, which sees emission that only
  fills an absorption trough (Be / Herbig stars) where F never rises above the continuum;
* peak significance: the largest (F - C) / sigma in the line window (and (F - model) / sigma).

Masked pixels (ivar = 0 or a bad and_mask bit) in the line window are interpolated over and
flagged; too few good pixels makes a spectrum unmeasurable with its reason, never an exception.

Broad lines. The West window (+-7 A) is right for dMe stars, whose lines are unresolved
(sigma ~1.2-2 A at R~2000), but a Be star's line of sigma 1 nm keeps only half its flux there.
So every spectrum is measured twice, the same way:

* narrow: the West windows above; ``ew``, ``ew_err``, the peak and model quantities. The label
  rule's significance (EW / error, peak) always comes from here: the small window has the least
  noise and still sees a broad line;
* broad: a +-50 A line window with sidebands moved out to 6420-6500 / 6630-6710 A and its own
  straight continuum (+-30 A would still lose 5% of a sigma = 1.5 nm line, and its sidebands
  would sit in the wings); ``ew_broad``, ``ew_broad_err``.

Which one is reported (``ew_reported``, the database's ``ew_halpha``, ``window`` says which):
the broad one when the line is *resolved as broad*. A bank of Gaussians (sigma 1.2-54 A) is
fitted to F / C - 1 in the broad window; widths below broad_min_sigma (3 A) are narrow lines,
up to broad_max_sigma (20 A) broad lines, wider ones continuum structure (curvature, the
molecular bands of M dwarfs). The best broad line must beat the best narrow one by
broad_min_significance (2) sigma, and no structure may beat it by broad_structure_margin
(3.5).
Comparing the two box EWs cannot decide this: at EW = 2 A and S/N = 20 their difference for a
sigma = 1 nm line is only ~1.3 sigma, because the wide box mostly adds noise, while the matched
filter separates the widths at ~4 sigma; and a galaxy's [N II] makes its broad-box EW larger
although its lines are narrow. Mistaking a narrow line for a broad one costs only noise (the
broad box holds the whole narrow line too); the converse would cost flux, hence the low
threshold. Measured (tests/test_halpha*.py): bias of the reported EW under 5% for EW >= 2 A at
sigma 0.1-1.5 nm and S/N 20. On the simulator's population (XP-based continua, whose own
structure under the wide window is a few A) 6-10% of line-free stars take the broad window, with
|EW| < 8 A; without the structure templates it was 25%, up to 45 A in M dwarfs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest.sdss_spectra import SdssSpectrum
from ingest.settings import IngestSettings, get_settings

SKY_MASK_BITS = (1 << 23) | (1 << 27)  # BRIGHTSKY, BADSKYCHI
GAP_PIXELS = 3  # a run of this many bad pixels is a gap (chip gap, bad columns)


@dataclass(frozen=True)
class HalphaWindows:
    """Rest-frame vacuum wavelengths (A) of the line and continuum windows, and pixel rules."""

    rest: float = 6564.61
    line: tuple[float, float] = (6557.61, 6571.61)
    blue: tuple[float, float] = (6500.0, 6550.0)
    red: tuple[float, float] = (6575.0, 6625.0)
    min_line_coverage: float = 0.6
    min_sideband_pixels: int = 8
    bad_and_mask: int = (
        (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 18) | (1 << 24) | (1 << 25)
    )
    sky_ratio: float = 0.5
    broad_line: tuple[float, float] = (6514.61, 6614.61)
    broad_blue: tuple[float, float] = (6420.0, 6500.0)
    broad_red: tuple[float, float] = (6630.0, 6710.0)
    broad_min_sigma: float = 3.0
    broad_max_sigma: float = 20.0
    broad_min_significance: float = 2.0
    broad_structure_margin: float = 3.5

    @property
    def span(self) -> tuple[float, float]:
        """The rest wavelengths cut out of each spectrum: every window of both measurements."""
        return min(self.blue[0], self.broad_blue[0]), max(self.red[1], self.broad_red[1])

    @classmethod
    def from_settings(cls, settings: IngestSettings | None = None) -> HalphaWindows:
        s = settings or get_settings()
        return cls(
            rest=s.halpha_rest_vacuum,
            line=s.halpha_line_window,
            blue=s.halpha_blue_continuum,
            red=s.halpha_red_continuum,
            min_line_coverage=s.halpha_min_line_coverage,
            min_sideband_pixels=s.halpha_min_sideband_pixels,
            bad_and_mask=s.halpha_bad_and_mask,
            sky_ratio=s.halpha_sky_ratio,
            broad_line=s.halpha_broad_line_window,
            broad_blue=s.halpha_broad_blue_continuum,
            broad_red=s.halpha_broad_red_continuum,
            broad_min_sigma=s.halpha_broad_min_sigma,
            broad_max_sigma=s.halpha_broad_max_sigma,
            broad_min_significance=s.halpha_broad_min_significance,
            broad_structure_margin=s.halpha_broad_structure_margin,
        )


@dataclass(frozen=True)
class LabelRule:
    """When a measurement is a positive or a negative label (defaults: West et al. 2011).

    positive: a stellar CLASS and EW >= min_ew and EW > min_ew_sigma * error and a peak more
    than min_peak_sigma above the continuum - measured either against the sideband continuum
    or against the pipeline model (emission filling an absorption trough). Significance and
    peak come from the West window; the size compared with min_ew is the reported EW (the
    broad window's for a line resolved as broad, which the West window would halve);
    negative: a stellar CLASS, not an emitter, no masked line pixels, and a continuum S/N per
    pixel >= min_negative_snr (a weak line cannot hide in the noise);
    anything else (galaxies, QSOs, ZWARNING, a peak on a sky residual, low S/N) is no label.
    """

    min_ew: float = 0.75
    min_ew_sigma: float = 3.0
    min_peak_sigma: float = 3.0
    min_negative_snr: float = 10.0
    star_classes: tuple[str, ...] = ("STAR",)

    @classmethod
    def from_settings(cls, settings: IngestSettings | None = None) -> LabelRule:
        s = settings or get_settings()
        return cls(
            min_ew=s.label_min_ew,
            min_ew_sigma=s.label_min_ew_sigma,
            min_peak_sigma=s.label_min_peak_sigma,
            min_negative_snr=s.label_min_negative_snr,
            star_classes=tuple(c.upper() for c in s.label_star_classes),
        )

    def describe(self) -> str:
        return (
            f"positive: class in {list(self.star_classes)} and EW>={self.min_ew}A and "
            f"EW>{self.min_ew_sigma}sigma and peak>{self.min_peak_sigma}sigma (vs sideband "
            f"continuum or vs model); negative: not emitter, continuum S/N>="
            f"{self.min_negative_snr}, no masked line pixels"
        )


@dataclass
class Measurements:
    """Per-spectrum results of one batch; NaN where unmeasurable (``reason`` says why)."""

    ew: np.ndarray
    ew_err: np.ndarray
    ew_model: np.ndarray
    ew_model_err: np.ndarray
    peak_sigma: np.ndarray
    peak_model_sigma: np.ndarray
    continuum: np.ndarray
    continuum_snr: np.ndarray
    line_flux: np.ndarray
    n_line_pix: np.ndarray
    n_bad_pix: np.ndarray
    flags: list[list[str]] = field(default_factory=list)
    reason: list[str | None] = field(default_factory=list)
    # the broad-line measurement and the choice between the two windows (module docstring)
    ew_broad: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ew_broad_err: np.ndarray = field(default_factory=lambda: np.zeros(0))
    line_sigma: np.ndarray = field(default_factory=lambda: np.zeros(0))
    broad_preference: np.ndarray = field(default_factory=lambda: np.zeros(0))
    window: list[str | None] = field(default_factory=list)  # 'narrow' / 'broad' / None
    ew_reported: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ew_reported_err: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # the cut-out windows, kept for review plots: rest wavelength, flux, continuum, model
    wave: np.ndarray | None = None
    flux: np.ndarray | None = None
    cont: np.ndarray | None = None
    model: np.ndarray | None = None
    cont_broad: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ew)


@dataclass
class Verdicts:
    is_emitter: list[bool | None]
    label: list[str | None]
    label_reason: list[str]


# --- cutting the windows out -------------------------------------------------------------------
def _cutouts(spectra: Sequence[SdssSpectrum], win: HalphaWindows) -> dict[str, np.ndarray]:
    """(N, K) arrays of the pixels around the windows; padding has ivar = 0 and covered = False."""
    n = len(spectra)
    z = np.array([s.z for s in spectra], dtype=np.float64)
    dlog = np.array(
        [
            (s.loglam[-1] - s.loglam[0]) / max(len(s.loglam) - 1, 1) if len(s.loglam) > 1 else 1e-4
            for s in spectra
        ]
    )
    dlog = np.where(np.isfinite(dlog) & (dlog > 0), dlog, 1e-4)
    lo = np.log10(win.span[0] * (1 + z))
    hi = np.log10(win.span[1] * (1 + z))
    k = int(np.ceil(np.max((hi - lo) / dlog))) + 4
    out = {
        "flux": np.zeros((n, k), np.float64),
        "ivar": np.zeros((n, k), np.float64),
        "mask": np.zeros((n, k), np.int64),
        "model": np.zeros((n, k), np.float64),
        "sky": np.zeros((n, k), np.float64),
        "covered": np.zeros((n, k), bool),
        "loglam": np.zeros((n, k), np.float64),
    }
    for row, s in enumerate(spectra):
        ll = s.loglam
        start = int(np.searchsorted(ll, lo[row])) - 2
        first = max(start, 0)
        last = min(start + k, len(ll))
        # the pixel grid, extended beyond the data where the window runs off the spectrum
        base = ll[0] + (start - 0) * dlog[row] if len(ll) else lo[row]
        out["loglam"][row] = base + np.arange(k) * dlog[row]
        if last <= first:
            continue
        dst = slice(first - start, last - start)
        out["loglam"][row, dst] = ll[first:last]
        out["flux"][row, dst] = s.flux[first:last]
        out["ivar"][row, dst] = s.ivar[first:last]
        out["mask"][row, dst] = s.and_mask[first:last]
        out["model"][row, dst] = s.model[first:last]
        out["sky"][row, dst] = s.sky[first:last]
        out["covered"][row, dst] = True
    out["z"] = z
    out["dlog"] = dlog
    return out


def _overlap(lo: np.ndarray, hi: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Fraction of each pixel [lo, hi) inside the band."""
    return np.clip(np.minimum(hi, band[1]) - np.maximum(lo, band[0]), 0, None) / (hi - lo)


def _longest_run(bad: np.ndarray) -> np.ndarray:
    """Length of the longest run of True in each row."""
    run = np.zeros(bad.shape[0], np.int64)
    best = np.zeros(bad.shape[0], np.int64)
    for j in range(bad.shape[1]):
        run = np.where(bad[:, j], run + 1, 0)
        best = np.maximum(best, run)
    return best


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row's values where mask (0 for an empty row): nanmedian without NaNs,
    several times faster on many short rows."""
    ordered = np.sort(np.where(mask, values, np.inf), axis=1)
    count = mask.sum(1)
    rows = np.arange(len(values))
    low = ordered[rows, np.maximum(count - 1, 0) // 2]
    high = ordered[rows, count // 2]
    return np.where(count > 0, (low + high) / 2, 0.0)


def _continuum(
    x: np.ndarray, flux: np.ndarray, good: np.ndarray, sigma2: np.ndarray, side: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Straight line through the sideband pixels (equal weights, two 3-sigma clips).

    Returns the continuum at every pixel, its value and variance at x = 0 (the line centre),
    and the sideband pixels finally used. Only the columns holding sideband pixels are fitted.
    """
    cols = np.flatnonzero(side.any(0))
    xs, fs, sig2 = x[:, cols], flux[:, cols], sigma2[:, cols]
    candidates = good[:, cols] & side[:, cols]
    floor = np.sqrt(np.where(good[:, cols], sig2, 0.0))
    use = candidates
    for _ in range(3):
        wgt = use.astype(np.float64)
        s0, s1, s2 = wgt.sum(1), (wgt * xs).sum(1), (wgt * xs * xs).sum(1)
        sy, sxy = (wgt * fs).sum(1), (wgt * xs * fs).sum(1)
        det = s0 * s2 - s1 * s1
        ok = det > 0
        det_safe = np.where(ok, det, 1.0)
        slope = np.where(ok, (s0 * sxy - s1 * sy) / det_safe, 0.0)
        icept = np.where(ok, (s2 * sy - s1 * sxy) / det_safe, sy / np.maximum(s0, 1))
        resid = np.abs(fs - (icept[:, None] + slope[:, None] * xs))
        scale = np.maximum(1.4826 * _masked_median(resid, use)[:, None], floor)
        use = candidates & (resid <= 3 * scale)
    # variance of the continuum at the line centre (x = 0), from the sideband pixel variances
    a0 = wgt * (s2[:, None] - s1[:, None] * xs) / det_safe[:, None]
    var_c0 = (a0 * a0 * np.where(use, sig2, 0.0)).sum(1)
    used = np.zeros_like(good)
    used[:, cols] = use
    return icept[:, None] + slope[:, None] * x, icept, var_c0, used


def _equivalent_width(
    dl: np.ndarray,
    flux: np.ndarray,
    cont: np.ndarray,
    good: np.ndarray,
    sigma2: np.ndarray,
    var_c0: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EW = sum dl (F / C - 1), its error (pixel variances + continuum variance), pixel part."""
    cont_safe = np.where(cont > 0, cont, np.nan)
    ew = np.nansum(dl * (flux / cont_safe - 1.0), axis=1)
    term = np.where(good, dl / cont_safe, 0.0)
    var_pix = np.nansum(term * term * np.where(good, sigma2, 0.0), axis=1)
    dew_dc = -np.nansum(dl * flux / (cont_safe * cont_safe), axis=1)
    return ew, np.sqrt(var_pix + dew_dc * dew_dc * var_c0), var_pix


TEMPLATE_SIGMAS_A = 1.2 * np.sqrt(2.0) ** np.arange(12)  # 1.2 (SDSS resolution) .. 54 A


def _line_width(
    wave: np.ndarray,
    resid: np.ndarray,
    weight: np.ndarray,
    rest: float,
    min_sigma: float,
    max_sigma: float,
    structure_margin: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian width (A) that best fits the line, and how strongly a broad line is preferred.

    A bank of unit-EW Gaussians (TEMPLATE_SIGMAS_A) is fitted, amplitude only, to the
    normalised residual F / C - 1: the chi-square gain of width k is (sum w g r)^2 / sum w g^2
    (emission only). Widths below min_sigma are narrow lines, min_sigma..max_sigma broad
    lines, wider ones continuum structure (curvature under the wide window, molecular bands of
    cool stars). The preference, in sigma, is sqrt(best broad gain - best rival gain), where a
    structure's gain counts only beyond structure_margin sigma: at low S/N a sigma = 15 A line
    and a 27 A bump are hard to tell apart, and losing the line would cost 70% of its flux.
    A matched filter is far more sensitive to the width than the difference of two box EWs.
    """
    t = np.exp(-0.5 * ((wave - rest)[..., None] / TEMPLATE_SIGMAS_A) ** 2) / (
        TEMPLATE_SIGMAS_A * np.sqrt(2 * np.pi)
    )
    num = np.einsum("np,npk->nk", weight * resid, t)
    den = np.einsum("np,npk->nk", weight, t * t)
    gain = np.where((num > 0) & (den > 0), num * num / np.where(den > 0, den, 1.0), 0.0)
    best = np.argmax(gain, axis=1)
    sigma = np.where(gain.max(1) > 0, TEMPLATE_SIGMAS_A[best], np.nan)
    narrow = min_sigma > TEMPLATE_SIGMAS_A
    structure = max_sigma < TEMPLATE_SIGMAS_A
    broad = ~narrow & ~structure
    best_broad = gain[:, broad].max(1, initial=0.0)  # gains are >= 0; any set may be empty
    rival = np.maximum(
        gain[:, narrow].max(1, initial=0.0),
        gain[:, structure].max(1, initial=0.0) - structure_margin**2,
    )
    preference = np.sqrt(np.clip(best_broad - rival, 0, None))
    return sigma, preference


# --- measuring ----------------------------------------------------------------------------------
def measure(spectra: Sequence[SdssSpectrum], win: HalphaWindows | None = None) -> Measurements:
    """Measure H-alpha in every spectrum of the batch (vectorised); never raises on bad data."""
    win = win or HalphaWindows()
    n = len(spectra)
    if n == 0:
        empty = np.zeros(0)
        return Measurements(*(empty,) * 9, np.zeros(0, int), np.zeros(0, int), [], [],
                            *(empty,) * 4, [], empty, empty)  # fmt: skip
    c = _cutouts(spectra, win)
    z = c["z"][:, None]
    half = c["dlog"][:, None] / 2
    lo = 10 ** (c["loglam"] - half) / (1 + z)
    hi = 10 ** (c["loglam"] + half) / (1 + z)
    wave = 10 ** c["loglam"] / (1 + z)
    width = hi - lo
    flux, ivar, model, sky = c["flux"], c["ivar"], c["model"], c["sky"]

    finite = np.isfinite(flux) & np.isfinite(ivar)
    good = c["covered"] & finite & (ivar > 0) & ((c["mask"] & win.bad_and_mask) == 0)
    flux = np.where(finite, flux, 0.0)
    sigma2 = np.where(good, 1.0 / np.where(good, ivar, 1.0), np.inf)

    w_line = _overlap(lo, hi, win.line)
    w_side = np.maximum(_overlap(lo, hi, win.blue), _overlap(lo, hi, win.red))
    in_blue = _overlap(lo, hi, win.blue) > 0.5
    in_red = _overlap(lo, hi, win.red) > 0.5
    in_line = w_line > 0
    any_window = in_line | in_blue | in_red

    x = wave - win.rest
    cont, c0, var_c0, use = _continuum(x, flux, good, sigma2, w_side > 0.5)

    n_blue = (good & in_blue).sum(1)
    n_red = (good & in_red).sum(1)
    line_total = (w_line * width).sum(1)
    line_good = (w_line * width * good).sum(1)
    coverage = np.where(line_total > 0, line_good / np.maximum(line_total, 1e-12), 0.0)
    expected_line = win.line[1] - win.line[0]
    span_ok = line_total >= 0.99 * expected_line

    # interpolate over masked pixels of either line window (rows that have them only)
    w_broad = _overlap(lo, hi, win.broad_line)
    bad_line = in_line & ~good
    to_fix = (in_line | (w_broad > 0)) & ~good
    rows_to_fix = np.flatnonzero(to_fix.any(1))
    flux_fixed = flux.copy()
    model_fixed = model.copy()
    for r in rows_to_fix.tolist():
        g, b = good[r], to_fix[r]
        if g.sum() >= 2:
            flux_fixed[r, b] = np.interp(wave[r, b], wave[r, g], flux[r, g])
            model_fixed[r, b] = np.interp(wave[r, b], wave[r, g], model[r, g])

    dl = w_line * width
    ew, ew_err, var_pix = _equivalent_width(dl, flux_fixed, cont, good, sigma2, var_c0)
    cont_safe = np.where(cont > 0, cont, np.nan)

    has_model = (np.abs(np.where(in_line, model, 0.0)).sum(1) > 0) & np.isfinite(
        np.where(any_window, model, 0.0)
    ).all(1)
    ew_model = np.nansum(dl * (flux_fixed - model_fixed) / cont_safe, axis=1)
    ew_model_err = np.sqrt(var_pix)

    sig_pix = np.sqrt(np.where(good, sigma2, np.inf) + var_c0[:, None])
    core = in_line & good & (w_line > 0.5)
    peak_stat = np.where(core, (flux - cont) / sig_pix, -np.inf)
    peak_idx = np.argmax(peak_stat, axis=1)
    peak_sigma = peak_stat[np.arange(n), peak_idx]
    peak_model = np.where(core, (flux - model) * np.sqrt(np.where(good, ivar, 0.0)), -np.inf)
    peak_model_sigma = peak_model.max(1)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        noise = np.sqrt(np.nanmean(np.where(use, sigma2, np.nan), axis=1))
        continuum_snr = c0 / noise

    # the broad-line measurement: wider line window, sidebands moved out, own continuum
    w_bside = np.maximum(_overlap(lo, hi, win.broad_blue), _overlap(lo, hi, win.broad_red))
    cont_b, c0_b, var_c0_b, _ = _continuum(x, flux, good, sigma2, w_bside > 0.5)
    dl_b = w_broad * width
    ew_b, ew_b_err, _ = _equivalent_width(dl_b, flux_fixed, cont_b, good, sigma2, var_c0_b)
    b_total = dl_b.sum(1)
    b_coverage = (dl_b * good).sum(1) / np.maximum(b_total, 1e-12)
    min_side = np.minimum(
        (good & (_overlap(lo, hi, win.broad_blue) > 0.5)).sum(1),
        (good & (_overlap(lo, hi, win.broad_red) > 0.5)).sum(1),
    )
    in_broad = w_broad > 0
    broad_ok = (
        (b_total >= 0.99 * (win.broad_line[1] - win.broad_line[0]))
        & (b_coverage >= win.min_line_coverage)
        & (min_side >= win.min_sideband_pixels)
        & np.all(np.where(in_broad, cont_b, 1.0) > 0, axis=1)
        & np.isfinite(ew_b)
        & np.isfinite(ew_b_err)
    )
    cols = np.flatnonzero(in_broad.any(0))
    cb = np.where(cont_b[:, cols] > 0, cont_b[:, cols], 1.0)
    line_sigma, preference = _line_width(
        wave[:, cols],
        flux_fixed[:, cols] / cb - 1.0,
        np.where(good[:, cols] & in_broad[:, cols], cb * cb / sigma2[:, cols], 0.0),
        win.rest,
        win.broad_min_sigma,
        win.broad_max_sigma,
        win.broad_structure_margin,
    )
    use_broad = broad_ok & (preference >= win.broad_min_significance)

    bad_in_windows = any_window & ~good
    longest_gap = _longest_run(bad_in_windows & c["covered"])
    sky_at_peak = sky[np.arange(n), peak_idx]
    sky_bits = ((c["mask"] & SKY_MASK_BITS) != 0) & in_line

    flags: list[list[str]] = []
    reasons: list[str | None] = []
    for r, s in enumerate(spectra):
        f: list[str] = []
        reason: str | None = None
        if (
            not span_ok[r]
            or not (c["covered"][r] & in_blue[r]).any()
            or not (c["covered"][r] & in_red[r]).any()
        ):
            reason = (
                f"spectrum does not cover rest {win.blue[0]:.0f}-{win.red[1]:.0f} A at z={s.z:.4f}"
            )
        elif coverage[r] < win.min_line_coverage:
            reason = (
                f"only {coverage[r]:.0%} of the line window has good pixels "
                f"(need {win.min_line_coverage:.0%})"
            )
        elif n_blue[r] < win.min_sideband_pixels or n_red[r] < win.min_sideband_pixels:
            reason = (
                f"too few good continuum pixels (blue {n_blue[r]}, red {n_red[r]}, "
                f"need {win.min_sideband_pixels} each)"
            )
        elif not np.isfinite(c0[r]) or c0[r] <= 0 or not np.all(cont[r, in_line[r]] > 0):
            reason = f"non-positive continuum ({c0[r]:.3g}) under the line"
        elif not np.isfinite(ew[r]) or not np.isfinite(ew_err[r]):
            reason = "EW is not finite (corrupted flux or ivar values)"
        if reason is None:
            if bad_line[r].any():
                f.append("masked_pixels")
            if (bad_in_windows[r] & ~in_line[r]).any():
                f.append("sideband_masked")
            if longest_gap[r] >= GAP_PIXELS:
                f.append("gap")
            if (c["covered"][r] & any_window[r]).sum() < any_window[r].sum():
                f.append("window_truncated")
            if sky_bits[r].any() or sky_at_peak[r] > win.sky_ratio * c0[r]:
                f.append("sky_residual")
            if not has_model[r]:
                f.append("no_model")
            if s.z_warning:
                f.append("zwarning")
        flags.append(f)
        reasons.append(reason)

    bad_row = np.array([r is not None for r in reasons])
    no_model = ~has_model

    def blank(a: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64).copy()
        a[bad_row] = np.nan
        if extra is not None:
            a[extra] = np.nan
        return a

    return Measurements(
        ew=blank(ew),
        ew_err=blank(ew_err),
        ew_model=blank(ew_model, no_model),
        ew_model_err=blank(ew_model_err, no_model),
        peak_sigma=blank(peak_sigma),
        peak_model_sigma=blank(peak_model_sigma, no_model),
        continuum=blank(c0),
        continuum_snr=blank(continuum_snr),
        line_flux=blank(np.where(use_broad, ew_b * c0_b, ew * c0) * (1 + c["z"])),
        n_line_pix=(in_line & good).sum(1),
        n_bad_pix=bad_in_windows.sum(1),
        flags=flags,
        reason=reasons,
        ew_broad=blank(ew_b, ~broad_ok),
        ew_broad_err=blank(ew_b_err, ~broad_ok),
        line_sigma=blank(line_sigma, ~broad_ok),
        broad_preference=blank(preference, ~broad_ok),
        window=[
            None if bad else ("broad" if b else "narrow")
            for bad, b in zip(bad_row, use_broad, strict=True)
        ],
        ew_reported=blank(np.where(use_broad, ew_b, ew)),
        ew_reported_err=blank(np.where(use_broad, ew_b_err, ew_err)),
        wave=wave,
        flux=flux,
        cont=cont,
        model=model,
        cont_broad=cont_b,
    )


# --- the label rule -----------------------------------------------------------------------------
def _passes(ew: float, err: float, peak: float, rule: LabelRule, size: float | None = None) -> bool:
    """Significant (ew / err, peak) and large enough (``size``, the reported EW, else ew)."""
    size = ew if size is None else size
    return bool(
        np.isfinite(ew)
        and np.isfinite(size)
        and size >= rule.min_ew
        and err > 0
        and ew / err > rule.min_ew_sigma
        and peak > rule.min_peak_sigma
    )


def apply_rule(
    m: Measurements, classes: Sequence[str | None], rule: LabelRule | None = None
) -> Verdicts:
    """The label of each measurement and the reason for it (see :class:`LabelRule`)."""
    rule = rule or LabelRule()
    out = Verdicts([], [], [])
    for r, object_class in enumerate(classes):
        if m.reason[r] is not None:
            out.is_emitter.append(None)
            out.label.append(None)
            out.label_reason.append(f"unmeasurable: {m.reason[r]}")
            continue
        # significance from the West window (right for narrow dMe lines, still sees broad
        # ones); the size compared with min_ew is the reported EW (the broad window's if broad)
        line = _passes(m.ew[r], m.ew_err[r], m.peak_sigma[r], rule, m.ew_reported[r])
        filled = _passes(m.ew_model[r], m.ew_model_err[r], m.peak_model_sigma[r], rule)
        emitter = line or filled
        out.is_emitter.append(emitter)
        significance = m.ew[r] / m.ew_err[r] if m.ew_err[r] > 0 else float("nan")
        facts = f"EW={m.ew[r]:.2f}+-{m.ew_err[r]:.2f}A ({significance:.1f} sigma)"
        if m.window[r] == "broad":
            facts = (
                f"broad line (sigma~{m.line_sigma[r]:.1f}A): EW={m.ew_reported[r]:.2f}+-"
                f"{m.ew_reported_err[r]:.2f}A in the broad window, West window {facts}"
            )
        cls = (object_class or "").upper()
        if cls not in rule.star_classes:
            label, why = None, f"class {object_class or 'unknown'} is not a stellar label"
        elif "zwarning" in m.flags[r]:
            label, why = None, "ZWARNING set: redshift (rest frame) unreliable"
        elif emitter and "sky_residual" in m.flags[r]:
            label, why = None, f"emission peak on a sky residual; {facts}"
        elif line:
            label, why = "positive", f"{facts}, peak {m.peak_sigma[r]:.1f} sigma"
        elif filled:
            label = "positive"
            why = (
                f"emission over the model: EW_model={m.ew_model[r]:.2f}+-"
                f"{m.ew_model_err[r]:.2f}A, peak {m.peak_model_sigma[r]:.1f} sigma; {facts}"
            )
        elif "masked_pixels" in m.flags[r]:
            label, why = None, f"no emission but masked line pixels; {facts}"
        elif m.continuum_snr[r] >= rule.min_negative_snr:
            label, why = (
                "negative",
                f"no emission at continuum S/N {m.continuum_snr[r]:.0f}; {facts}",
            )
        else:
            label = None
            why = (
                f"no emission but continuum S/N {m.continuum_snr[r]:.1f} < "
                f"{rule.min_negative_snr:g}; {facts}"
            )
        out.label.append(label)
        out.label_reason.append(why)
    return out
