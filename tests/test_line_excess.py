"""The learned-continuum H-alpha excess: it measures injected lines, stays near zero on
line-free stars, beats the sideband EW it exists to improve on, and reloads bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from training_support import load_sky, make_sky, training_settings

from sql.errors import XphaError
from training import line_excess, splits
from training.data import XPFeed, concat, dask_client, select
from training.features import xp_ew
from training.pipeline import fit_normaliser


@pytest.fixture(scope="module")
def fitted(module_db_url, tmp_path_factory):
    sky = make_sky(6000, seed=5, emitter_fraction=0.1, labelled_fraction=0.1,
                   ew_range=(2.0, 60.0), g_range=(12.0, 16.5))  # fmt: skip
    load_sky(module_db_url, sky)
    settings = training_settings(tmp_path_factory.mktemp("var"), feed_partition_rows=1500,
                                 line_excess_rounds=300)  # fmt: skip
    feed = XPFeed.plan(module_db_url, settings)
    with dask_client(settings) as client:
        rule = splits.rule_of(settings)
        normaliser, n_train = fit_normaliser(feed, client, settings, rule)
        excess = line_excess.fit(feed, client, normaliser, settings, n_train, rule)
    batch = concat([feed.read(p) for p in feed.partitions])
    held_out = rule.codes(batch) != splits.TRAIN
    return excess, batch, held_out


def test_the_line_direction_is_a_unit_vector_in_standardised_space(fitted):
    excess, _, _ = fitted
    direction, length = line_excess.signature(excess.normaliser)
    assert direction.shape == (110,)
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    assert length > 0


def test_excess_measures_injected_lines_and_is_null_without_one(fitted):
    excess, batch, held_out = fitted
    ew, snr = excess.measure(batch).T
    truth = batch["ew_true"]
    quiet = held_out & (truth == 0)
    strong = held_out & (truth >= 20)
    assert abs(np.median(ew[quiet])) < 1.0, np.median(ew[quiet])
    ratio = np.median(ew[strong] / truth[strong])
    assert 0.6 < ratio < 1.4, ratio
    assert np.median(snr[strong]) > 5 * np.median(np.abs(snr[quiet]))


def test_excess_separates_emitters_better_than_the_sideband_ew(fitted):
    excess, batch, held_out = fitted
    truth = batch["ew_true"]
    rows = held_out & ((truth == 0) | (truth >= 5))
    y = truth[rows] >= 5
    excess_auc = roc_auc_score(y, np.nan_to_num(excess.measure(batch)[rows, 1], nan=-1e9))
    sideband_auc = roc_auc_score(y, np.nan_to_num(xp_ew(batch)[rows, 1], nan=-1e9))
    assert excess_auc > 0.9, excess_auc
    assert excess_auc > sideband_auc + 0.03, (excess_auc, sideband_auc)


def test_the_regressor_round_trips_through_its_file(fitted, tmp_path):
    excess, batch, _ = fitted
    excess.save(tmp_path)
    again = line_excess.LineExcess.load(tmp_path, excess.normaliser)
    np.testing.assert_array_equal(again.measure(batch), excess.measure(batch))


def test_a_missing_regressor_file_is_a_clear_error(fitted, tmp_path):
    excess, _, _ = fitted
    with pytest.raises(XphaError, match=r"line_excess\.txt is missing"):
        line_excess.LineExcess.load(tmp_path, excess.normaliser)


def test_a_missing_band_gives_nan_not_a_number(fitted):
    excess, batch, _ = fitted
    rows = {k: v[:3].copy() for k, v in batch.items()}
    rows["bp"][1] = np.nan
    measured = excess.measure(rows)
    assert np.isnan(measured[1]).all()
    assert np.isfinite(measured[[0, 2]]).all()


def test_an_attached_measurement_is_reused_by_every_selection_of_the_batch(fitted):
    excess, batch, held_out = fitted
    attached = excess.attach(dict(batch))
    part = select(attached, held_out)
    without_regressor = line_excess.LineExcess(excess.normaliser, booster=None)
    np.testing.assert_array_equal(
        without_regressor.measure(part), excess.measure(select(batch, held_out))
    )
