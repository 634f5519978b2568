"""The continuum line detector: line-blind geometry, the local GLS statistic, a library built
from a contaminated sky, the fitted detector (EW recovery, calibration, save/load) and the
held-out metrics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ingest.simulator.continua import load_parents
from ingest.simulator.generator import SimulationConfig, make_chunk
from training import heldout
from training.continuum.detector import DetectorSettings, LineDetector, Stars
from training.continuum.geometry import (
    Split,
    line_blind_flux_weights,
    line_template,
    normalise,
)
from training.continuum.library import LibrarySettings, build
from training.continuum.local import LocalSettings, local_snr
from training.continuum.matched_filter import MatchedFilter
from training.continuum.network import NetworkSettings

SMALL = DetectorSettings(
    library=LibrarySettings(max_candidates=6000),
    local=LocalSettings(neighbours=20),
    network=NetworkSettings(hidden=32, epochs=1, rows_per_epoch=4000),
    calibration_bins=3,
    pca_components=8,
)


def _chunk(n, seed, parents=(), lines=True):
    from ingest.simulator.population import DEFAULT_MIXTURE

    config = SimulationConfig(n_sources=n, seed=seed, parents=parents,
                              mixture=DEFAULT_MIXTURE if lines else ())  # fmt: skip
    return make_chunk(config, 0, 0, n)


def _batch(chunk):
    return {"bp": chunk.bp, "rp": chunk.rp, "bp_err": chunk.bp_err, "rp_err": chunk.rp_err}


@pytest.fixture(scope="module")
def parents():
    """Two disjoint halves of the real parents (both bands)."""
    library = load_parents()
    ids = library.source_id[np.isfinite(library.bp).all(1)]
    order = np.random.default_rng(0).permutation(ids.size)
    return tuple(int(i) for i in ids[order[::2]]), tuple(int(i) for i in ids[order[1::2]])


@pytest.fixture(scope="module")
def detector(parents):
    train = Stars.of(_batch(_chunk(8000, 1, parents[0])))
    val = Stars.of(_batch(_chunk(3000, 2, parents[0][:200])))
    fitted, history = LineDetector.fit(train, val, SMALL)
    assert history and np.isfinite(history[-1]["train_loss"])
    return fitted


def test_a_line_moves_only_beta_and_never_the_line_blind_part():
    t = line_template()
    w = line_blind_flux_weights()
    assert abs(w @ t) < 1e-12 * np.linalg.norm(w) * np.linalg.norm(t)
    chunk = _chunk(50, 3, lines=False)
    y = np.concatenate([chunk.bp, chunk.rp], 1)
    e = np.concatenate([chunk.bp_err, chunk.rp_err], 1)
    flux = np.geomspace(1e-17, 1e-15, 50)
    u0, _, f0 = normalise(y, e)
    u1, _, f1 = normalise(y + flux[:, None] * t, e)
    np.testing.assert_allclose(f1, f0, rtol=1e-12)
    split = Split(1.0 / np.median(e / f0[:, None], axis=0) ** 2)
    np.testing.assert_allclose(split.beta(u1) - split.beta(u0), flux / f0, rtol=1e-9)
    np.testing.assert_allclose(split.perpendicular(u1), split.perpendicular(u0), atol=1e-12)


@pytest.mark.parametrize("scatter_weight", [0.5, 1.0])
def test_local_statistic_is_linear_in_the_line_and_matches_a_direct_solve(scatter_weight):
    library = Stars.of(_batch(_chunk(400, 4, lines=False)))
    stars = Stars.of(_batch(_chunk(30, 5, lines=False)))
    settings = LocalSettings(neighbours=15, shrink=0.3, scatter_weight=scatter_weight)
    base = local_snr(stars.u, stars.e, library.u, None, settings)
    a = np.linspace(0, 3, 30) / base.gain  # 0..3 sigma
    moved = local_snr(stars.u + a[:, None] * line_template(), stars.e, library.u, None, settings)
    np.testing.assert_allclose(moved.snr - base.snr, a * base.gain, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(moved.gain, base.gain, rtol=1e-9)
    # the Woodbury inversion against an explicit Σ for one star
    expect, chi2 = _explicit(stars.u[0], stars.e[0], stars.u[0], library.u, settings)
    assert base.snr[0] == pytest.approx(expect, rel=1e-6)
    # the misfit: chi-square against the neighbours with the best line removed, per dof
    assert base.misfit[0] == pytest.approx(chi2 / (len(line_template()) - 1), rel=1e-6)
    np.testing.assert_allclose(moved.misfit, base.misfit, rtol=1e-6)  # a line is no misfit


def _explicit(u, e, select, refs, settings: LocalSettings) -> tuple[float, float]:
    """S/N and line-removed chi-square of one star by an explicit Σ, with the neighbours of
    ``select`` (weighted by e)."""
    from training.continuum.local import nearest

    near = nearest(select[None], e[None], refs, None, settings)[0]
    mean = refs[near].mean(0)
    dev = refs[near] - mean
    cov = dev.T @ dev / (settings.neighbours - 1)
    shrunk = (1 - settings.shrink) * cov + settings.shrink * np.diag(np.diag(cov))
    sigma = settings.scatter_weight * shrunk + np.diag(e**2)
    t = line_template()
    solved = np.linalg.solve(sigma, t)
    snr = solved @ (u - mean) / np.sqrt(solved @ t)
    return float(snr), float((u - mean) @ np.linalg.solve(sigma, u - mean) - snr**2)


def test_neighbours_can_be_chosen_by_another_shape_than_the_one_measured():
    """``select``: a diagnosis chooses the neighbours of a copy by its noise-free parent."""
    library = Stars.of(_batch(_chunk(400, 4, lines=False)))
    clean = Stars.of(_batch(_chunk(20, 5, lines=False)))
    noisy_u = clean.u + 3 * clean.e * np.random.default_rng(6).standard_normal(clean.u.shape)
    settings = LocalSettings(neighbours=15)
    by_clean = local_snr(noisy_u, clean.e, library.u, None, settings, select=clean.u)
    by_noisy = local_snr(noisy_u, clean.e, library.u, None, settings)
    for row in range(3):
        expect, _ = _explicit(noisy_u[row], clean.e[row], clean.u[row], library.u, settings)
        assert by_clean.snr[row] == pytest.approx(expect, rel=1e-6)
    assert not np.allclose(by_clean.snr, by_noisy.snr)


def test_detector_settings_saved_before_the_scatter_weight_keep_their_weight():
    """A model saved before Σ = C + w·S had w = 1: it must score as it did when it was made."""
    saved = DetectorSettings().to_dict()
    del saved["local"]["scatter_weight"]
    assert DetectorSettings.from_dict(saved).local.scatter_weight == 1.0
    now = DetectorSettings.from_dict(DetectorSettings().to_dict())
    assert now.local.scatter_weight == LocalSettings().scatter_weight == 0.5


def test_the_library_merges_copies_and_drops_the_ones_carrying_lines():
    ids = tuple(int(i) for i in load_parents().source_id[100:160])
    chunk = _chunk(6000, 6, ids)  # 100 copies per star, ~9% of them with a line
    stars = Stars.of(_batch(chunk))
    library = build(stars.u, stars.e, stars.mag, LibrarySettings(), LocalSettings(neighbours=10))
    assert 40 <= len(library) <= 75  # about one entry per star, not one per copy
    assert library.members.sum() < len(chunk.ew)  # line-bearing copies were left out
    # no entry keeps a strong line: every entry agrees with its own parent along the line
    y = np.concatenate([load_parents().bp, load_parents().rp], 1)[
        np.isin(load_parents().source_id, ids)
    ]
    e = np.concatenate([load_parents().bp_err, load_parents().rp_err], 1)[
        np.isin(load_parents().source_id, ids)
    ]
    u_parent, e_parent, _ = normalise(y, e)
    t = line_template()
    for u, err in zip(library.u, library.e, strict=True):
        w = 1 / (err**2 + e_parent**2)
        amplitude = ((u - u_parent) * w * t).sum(1) / (w * t * t).sum(1)
        sigma = 1 / np.sqrt((w * t * t).sum(1))
        chi = (((u - u_parent - amplitude[:, None] * t) ** 2) * w).mean(1)
        own = chi.argmin()
        assert abs(amplitude[own]) < 6 * sigma[own]


def test_detector_recovers_injected_ews_on_unseen_parents_and_reloads(detector, parents, tmp_path):
    chunk = _chunk(3000, 7, parents[1], lines=False)
    batch = _batch(chunk)
    null = detector.measure(batch)
    assert np.isfinite(null["snr"]).mean() > 0.99
    assert 0.7 < np.nanstd(null["snr"]) < 1.6  # calibrated on other parents
    bright = np.flatnonzero(chunk.g_mag < 15.5)[:200]
    strong = heldout.injected(np.array(parents[1]), 50.0, chunk.g_mag[bright], 8)
    measured = detector.measure(strong)
    ratio = np.nanmedian(measured["ew"] / 50.0)
    assert 0.8 < ratio < 1.25, ratio
    assert np.mean(measured["snr"] > 5) > 0.95
    detector.save(tmp_path / "model")
    again = LineDetector.load(tmp_path / "model").measure(batch)
    np.testing.assert_allclose(again["snr"], null["snr"], rtol=1e-5, atol=1e-6)


def test_a_continuum_the_library_cannot_fit_loses_significance_not_flux(detector, parents):
    """The guard: stars fit worse than most validation stars have their line error inflated by
    sqrt(misfit / misfit_scale); stars like their neighbours are left alone."""
    batch = _batch(_chunk(600, 12, parents[1], lines=False))
    rng = np.random.default_rng(3)
    odd = np.arange(600) % 2 == 1  # half the stars get a continuum no parent has
    for band in ("bp", "rp"):
        batch[band] = (
            batch[band] + odd[:, None] * rng.normal(0, 8, batch[band].shape) * batch[f"{band}_err"]
        )
    guarded = detector.measure(batch)
    plain = dataclasses.replace(detector, misfit_scale=np.inf).measure(batch)
    assert np.isfinite(detector.misfit_scale)
    stars = Stars.of(batch)
    ok = np.flatnonzero(stars.usable)
    odd = odd[ok]
    seen = detector.components(stars.take(ok))
    factor = np.sqrt(np.maximum(1.0, seen.misfit / detector.misfit_scale))
    ratio = guarded["ew_err"][ok] / plain["ew_err"][ok]  # NaN where the EW has no continuum
    measured = np.isfinite(ratio)
    assert measured.mean() > 0.9
    np.testing.assert_allclose(ratio[measured], factor[measured], rtol=1e-6)
    assert np.mean(factor[odd] > 2) > 0.95
    assert 0.6 < np.mean(factor[~odd] == 1.0) < 0.99  # about the 90% fit like validation stars
    assert np.std(guarded["snr"][ok][odd]) < 0.6 * np.std(plain["snr"][ok][odd])


def test_matched_filter_fits_its_own_components_exactly():
    library = Stars.of(_batch(_chunk(300, 9, lines=False)))
    mf = MatchedFilter.fit(library.u, library.e, 5)
    star = mf.mean + mf.basis @ np.array([0.3, -1.0, 0.2, 0.0, 0.5])
    snr, gain = mf.snr(star[None] + 2e-3 * line_template()[None], library.e[:1])
    assert snr[0] / gain[0] == pytest.approx(2e-3, rel=1e-6)


@pytest.mark.parametrize("fpr", [0.1, 0.01])
def test_thresholds_and_weighted_thresholds_agree(fpr):
    null = np.random.default_rng(1).standard_normal(20_000)
    thr = heldout.threshold(null, fpr)
    assert np.mean(null > thr) == pytest.approx(fpr, rel=0.05)
    assert heldout.threshold(null, fpr, np.ones(null.size)) == pytest.approx(thr, abs=0.02)
    twice = np.concatenate([null, null])
    assert heldout.threshold(null, fpr, np.full(null.size, 2.0)) == pytest.approx(
        heldout.threshold(twice, fpr), abs=0.02
    )


def test_fisher_limit_and_prevalence_reweighting():
    # a unit-sigma statistic: EW50 = z(FPR) sigma
    assert heldout.fisher_ew50(np.full(1000, 2.0), 0.01) == pytest.approx(2.0 * 2.326, rel=0.01)
    # the known-continuum recall of one line: half at EW = z sigma, 99% 2.326 sigma further
    z = 3.0902  # FPR 1e-3
    recall = heldout.oracle_recall(np.array([z * 4, (z + 2.3263) * 4, 20.0]), np.full(3, 4.0), 1e-3)
    np.testing.assert_allclose(recall[:2], [0.5, 0.99], atol=1e-4)
    assert recall[2] == pytest.approx(0.9719, abs=1e-3)  # 20 A with sigma 4 A: 5 sigma
    rng = np.random.default_rng(2)
    score = np.concatenate([rng.normal(3, 1, 500), rng.normal(0, 1, 5000)])
    positive = np.arange(5500) < 500
    base = heldout.pr_auc(score, positive, ~positive)
    rare = heldout.pr_auc(score, positive, ~positive, prevalence=1e-3)
    assert rare < base  # rarer emitters: lower precision at every recall
    duplicated = heldout.pr_auc(score, positive, ~positive, weights=np.where(positive, 1.0, 2.0))
    assert duplicated == pytest.approx(
        heldout.pr_auc(score, positive, ~positive, prevalence=500 / 10500), rel=1e-6
    )
