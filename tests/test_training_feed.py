"""The data side of training: binary COPY codec, Dask feed, sky splits, normaliser, errors."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from psycopg import sql as sql_module
from training_support import LABELS_TABLE, load_sky, make_sky, training_settings

from sql.binary_copy import CopyColumn, CopyFormatError, pack, parse
from sql.errors import XphaError
from training import queries, splits
from training.data import NoSourcesError, XPFeed, cell_shift, concat, dask_client
from training.labelled import LabelledSet, NoLabelsError
from training.normalise import Moments, Normaliser, partial_moments, per_star


@pytest.mark.parametrize(
    ("column", "values"),
    [
        (CopyColumn("a", "int2"), np.array([-1, 0, 7], np.int16)),
        (CopyColumn("a", "int8"), np.array([2**62, -5, 0], np.int64)),
        (CopyColumn("a", "float4"), np.array([np.nan, 1.5, -2], np.float32)),
        (CopyColumn("a", "bool"), np.array([True, False, True])),
        (CopyColumn("a", "float8", 4), np.arange(12, dtype=float).reshape(3, 4) / 7),
        (CopyColumn("a", "float4", 2), np.array([[1, np.nan], [3, 4], [5, 6]], np.float32)),
    ],
)
def test_copy_codec_round_trips_through_postgres(db_url, column, values):
    sql_type = {
        "int2": "int2",
        "int8": "int8",
        "float4": "real",
        "float8": "float8",
        "bool": "boolean",
    }[column.type] + ("[]" if column.length else "")
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE t (i serial, a {sql_type})")
        with cur.copy("COPY t (a) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(pack({"a": values}, [column]))
        buffer = bytearray()
        with cur.copy("COPY (SELECT a FROM t ORDER BY i) TO STDOUT (FORMAT BINARY)") as copy:
            for chunk in copy:
                buffer += chunk
    np.testing.assert_array_equal(parse(buffer, [column])["a"], values)


def test_copy_parse_refuses_null_rows(db_url):
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        buffer = bytearray()
        with cur.copy(
            "COPY (SELECT x FROM (VALUES (1.0::float8), (NULL)) v(x)) TO STDOUT (FORMAT BINARY)"
        ) as copy:
            for chunk in copy:
                buffer += chunk
    with pytest.raises(CopyFormatError, match="fixed-width"):
        parse(buffer, [CopyColumn("x", "float8")])


@pytest.mark.parametrize(("level", "val", "test"), [(3, 0.15, 0.15), (5, 0.2, 0.3), (8, 0.0, 0.5)])
def test_splits_are_sky_disjoint_deterministic_and_sized(level, val, test):
    rng = np.random.default_rng(level)
    source_id = rng.integers(0, 12 * 2**59, 50_000)
    codes = splits.assign(source_id, level, 42, val, test)
    np.testing.assert_array_equal(codes, splits.assign(source_id, level, 42, val, test))
    cells = source_id >> cell_shift(level)
    for code in (splits.TRAIN, splits.VAL, splits.TEST):
        others = np.isin(cells[codes == code], cells[codes != code])
        assert not others.any(), "a sky cell appears in two splits"
    n_cells = min(len(np.unique(cells)), 12 * 4**level)
    tolerance = 4 / np.sqrt(n_cells) + 0.01
    assert abs((codes == splits.TEST).mean() - test) < tolerance
    assert abs((codes == splits.VAL).mean() - val) < tolerance
    assert not np.array_equal(codes, splits.assign(source_id, level, 43, val, test))


def test_split_fractions_are_checked():
    with pytest.raises(XphaError, match="fractions"):
        splits.assign(np.arange(3), 5, 0, 0.6, 0.5)


@pytest.fixture(scope="module")
def sky_db(module_db_url):
    sky = make_sky(1500, seed=3, emitter_fraction=0.2)
    load_sky(module_db_url, sky)
    with psycopg.connect(module_db_url) as conn:
        # one source without BP, one with a conflicting label: both must be handled
        conn.execute(
            "UPDATE gaia.xp_continuous SET bp_coefficients = NULL,"
            " bp_coefficient_errors = NULL WHERE source_id = %s",
            (int(sky.source_id[5]),),
        )
        conn.execute(
            f"INSERT INTO {LABELS_TABLE} VALUES (%s, true, 10, true)", (int(sky.source_id[7]),)
        )
    return module_db_url, sky


def test_feed_partitions_follow_cells_and_cover_every_row_once(sky_db, tmp_path):
    url, sky = sky_db
    settings = training_settings(tmp_path, feed_partition_rows=400, feed_healpix_level=4)
    feed = XPFeed.plan(url, settings)
    cell = 1 << cell_shift(4)
    assert all(p.lo % cell == 0 and p.hi % cell == 0 for p in feed.partitions)
    assert all(a.hi <= b.lo for a, b in zip(feed.partitions, feed.partitions[1:], strict=False))
    with dask_client(settings) as client:
        batches = list(feed.map(client, lambda b: b, in_flight=2))
    batch = concat(batches)
    assert [len(b["source_id"]) for b in batches] == [p.rows for p in feed.partitions]
    np.testing.assert_array_equal(batch["source_id"], sky.source_id)
    np.testing.assert_allclose(batch["rp"], sky.rp)
    np.testing.assert_allclose(batch["ew_true"], sky.ew_true, rtol=1e-6)
    assert np.isnan(batch["bp"][5]).all() and np.isfinite(batch["rp"][5]).all()
    expected = np.where(sky.labelled, (sky.ew_true > 0).astype(int), -1)
    expected[7] = -1  # conflicting evidence counts as unlabelled
    np.testing.assert_array_equal(batch["is_emitter"], expected)


def _scanned_rows(plan: dict, relation_prefix: str) -> int:
    """Rows that the scans of ``relation_prefix*`` tables returned, over an EXPLAIN ANALYZE plan."""
    rows = plan["Actual Rows"] if plan.get("Relation Name", "").startswith(relation_prefix) else 0
    return rows + sum(_scanned_rows(child, relation_prefix) for child in plan.get("Plans", []))


def test_a_partition_read_scans_only_its_own_range(sky_db, tmp_path):
    """At 220 million sources a feed partition must not touch the rest of the sky: every joined
    relation is cut to the partition's source_id range (PostgreSQL does not carry it through
    the join on its own)."""
    url, _ = sky_db
    settings = training_settings(tmp_path, feed_partition_rows=400, feed_healpix_level=4)
    feed = XPFeed.plan(url, settings)
    part = feed.partitions[len(feed.partitions) // 2]
    select = queries.feed_select(feed.spec.labels_relation, feed.spec.truth_relation)
    with psycopg.connect(url) as conn:
        explain = sql_module.SQL("EXPLAIN (ANALYZE, FORMAT JSON) {}").format(select)
        (plan,) = conn.execute(explain, {"lo": part.lo, "hi": part.hi}).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM gaia.source").fetchone()[0]
    assert plan["Plan"]["Actual Rows"] == part.rows < total
    assert _scanned_rows(plan["Plan"], "source_hpx") <= part.rows
    assert _scanned_rows(plan["Plan"], "xp_continuous_hpx") <= part.rows


def test_normaliser_round_trips_and_scales_errors_like_coefficients(sky_db, tmp_path):
    url, _ = sky_db
    settings = training_settings(tmp_path)
    batch = XPFeed.plan(url, settings).read(XPFeed.plan(url, settings).partitions[0])
    for mode in ("g", "rp"):
        train = splits.assign_with(settings, batch["source_id"]) == splits.TRAIN
        coeffs, side = partial_moments(batch, mode, train)
        normaliser = Normaliser.from_moments(mode, coeffs, side)
        path = tmp_path / f"norm_{mode}.npz"
        normaliser.save(path)
        loaded = Normaliser.load(path)
        for a, b in zip(normaliser.transform(batch), loaded.transform(batch), strict=True):
            np.testing.assert_array_equal(a, b)
        x, err, _ = loaded.transform(batch)
        raw, raw_err = per_star(batch, mode)
        np.testing.assert_allclose(err * loaded.scale, raw_err, rtol=1e-5)
        np.testing.assert_allclose(x * loaded.scale + loaded.mean, raw, rtol=1e-4, atol=1e-8)
        train_x = x[train]
        np.testing.assert_allclose(np.nanmean(train_x, axis=0), 0, atol=1e-4)
        varying = loaded.scale != 1.0  # rp mode: RP coefficient 0 / RP flux is constant
        np.testing.assert_allclose(np.nanstd(train_x, axis=0)[varying], 1, atol=1e-3)
        assert abs(np.nanmean(x[~train])) > 0  # fitted on the training split only


def test_moments_add_like_one_pass():
    rng = np.random.default_rng(0)
    values = rng.normal(3, 2, (1000, 4))
    values[::7, 1] = np.nan
    split = Moments.of(values[:400]) + Moments.of(values[400:])
    mean, std = split.mean_std()
    np.testing.assert_allclose(mean, np.nanmean(values, axis=0))
    np.testing.assert_allclose(std, np.nanstd(values, axis=0))


def test_no_sources_is_a_clear_error(db_url, tmp_path):
    settings = training_settings(tmp_path, training_labels_relation="labels.training_labels")
    with pytest.raises(NoSourcesError, match="no sources"):
        XPFeed.plan(db_url, settings)


def test_missing_or_empty_labels_are_clear_errors(db_url, tmp_path):
    load_sky(db_url, make_sky(300, seed=9), labels=False)
    missing = training_settings(tmp_path, training_labels_relation="labels.nothing_here")
    with pytest.raises(XphaError, match="no labels"):
        XPFeed.plan(db_url, missing)
    settings = training_settings(tmp_path)
    feed = XPFeed.plan(db_url, settings)
    with dask_client(settings) as client, pytest.raises(NoLabelsError, match="no labels"):
        LabelledSet.gather(feed, client, splits.rule_of(settings))
