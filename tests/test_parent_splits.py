"""Parent-disjoint evaluation: every copy of a real parent (and the parent's own row) lands in
one split, held-out stars only in the test split, and a sky can leave parents out entirely."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ingest.simulator.continua import line_stars, load_parents
from ingest.simulator.generator import SimulationConfig, make_chunk
from ingest.simulator.parents import allowed_rows, read_source_ids
from ingest.simulator.pipeline import simulate
from sql.errors import XphaError
from training import heldout, splits
from training.feed_spec import photometry_from_xp

RULE = splits.SplitRule(level=5, seed=42, val_fraction=0.15, test_fraction=0.15)


def _batch(source_id, parent_id):
    return {
        "source_id": np.asarray(source_id, np.int64),
        "parent_id": np.asarray(parent_id, np.int64),
    }


def test_copies_of_a_parent_and_the_parent_itself_share_one_split():
    rng = np.random.default_rng(1)
    parents = rng.integers(1, 2**40, 300) << 20
    rule = RULE.with_groups(parents, np.zeros(0))
    copies = rng.integers(0, 2**59, 6000)
    parent_of_copy = parents[rng.integers(0, 300, 6000)]
    codes = rule.codes(_batch(np.concatenate([copies, parents]),
                              np.concatenate([parent_of_copy, np.full(300, -1)])))  # fmt: skip
    by_parent = pd.DataFrame({"parent": np.concatenate([parent_of_copy, parents]), "code": codes})
    assert (by_parent.groupby("parent")["code"].nunique() == 1).all()
    shares = np.bincount(rule.codes(_batch(parents, parents)), minlength=3) / 300
    assert shares == pytest.approx([0.7, 0.15, 0.15], abs=0.07)


def test_sources_without_parent_split_by_sky_cell_as_before():
    source_id = np.random.default_rng(2).integers(0, 2**59, 5000)
    codes = RULE.codes(_batch(source_id, np.full(5000, -1)))
    np.testing.assert_array_equal(codes, splits.assign(source_id, 5, 42, 0.15, 0.15))
    np.testing.assert_array_equal(codes, RULE.codes({"source_id": source_id}))  # no truth column


@pytest.mark.parametrize("held", ["parent", "source"])
def test_held_out_stars_and_their_copies_are_always_test(held):
    parents = np.arange(1, 201, dtype=np.int64) << 30
    loners = np.arange(1, 201, dtype=np.int64) << 40
    held_out = parents[:50] if held == "parent" else loners[:50]
    rule = RULE.with_groups(parents, held_out)
    copies = np.arange(1000, 3000, dtype=np.int64)
    of = parents[np.arange(2000) % 200]
    codes = rule.codes(_batch(np.concatenate([copies, parents, loners]),
                              np.concatenate([of, np.full(400, -1)])))  # fmt: skip
    ids = np.concatenate([of, parents, loners])
    assert (codes[np.isin(ids, held_out)] == splits.TEST).all()
    assert (codes[~np.isin(ids, held_out)] != splits.TEST).any()


@pytest.mark.parametrize(
    "text, error",
    [
        ("# comment\n5853498713190525696\n\n12 # trailing\n", None),
        ("123\nabc\n", "line 2: 'abc' is not a source_id"),
        ("-5\n", "line 1: '-5' is not a source_id"),
        ("99999999999999999999\n", "line 1"),
        ("# nothing\n\n", "lists no source_id"),
    ],
)
def test_source_id_files(tmp_path, text, error):
    path = tmp_path / "ids.txt"
    path.write_text(text)
    if error is None:
        assert read_source_ids(path, "--parents").tolist() == [12, 5853498713190525696]
    else:
        with pytest.raises(XphaError, match=error):
            read_source_ids(path, "--parents")


def test_allowed_parents_are_checked():
    ids = np.array([10, 20, 30], np.int64)
    assert allowed_rows(ids, (), ()).tolist() == [0, 1, 2]
    assert allowed_rows(ids, (20, 30), (30,)).tolist() == [1]
    assert allowed_rows(ids, (), (10, 99)).tolist() == [1, 2]  # 99 is no parent: harmless
    with pytest.raises(XphaError, match="not among the simulator's 3 real parents"):
        allowed_rows(ids, (20, 40), ())
    with pytest.raises(XphaError, match="leave no real parent"):
        allowed_rows(ids, (20,), (20,))


def test_a_sky_copies_only_the_parents_it_may(tmp_path):
    library = load_parents()
    withheld = tuple(int(i) for i in library.source_id[::3])
    config = SimulationConfig(n_sources=3000, seed=3, chunk_rows=1500, exclude_parents=withheld)
    manifest = simulate(config, tmp_path / "sky", "csv", progress=False)
    truth = pd.read_csv(tmp_path / "sky" / "truth.csv")
    assert not truth["parent_source_id"].isin(withheld).any()
    never = set(withheld) | set(line_stars().tolist())
    assert manifest["n_parents_copied"] == len(library) - len(never & set(library.source_id))
    written = json.loads((tmp_path / "sky" / "manifest.json").read_text())
    assert written["config"]["exclude_parents"] == list(withheld)  # the sky can be remade
    only = tuple(int(i) for i in library.source_id[5:40])
    chunk = make_chunk(SimulationConfig(n_sources=500, seed=4, parents=only), 0, 0, 500)
    assert set(library.source_id[chunk.parent]) <= set(only)


def test_stars_shipped_for_their_lines_are_never_copied():
    """A line star's copies carry its line: as 'line-free' sources they would be emitters
    labelled line-free, and in a held-out fold they would set the FPR 1e-3 threshold."""
    library = load_parents()
    stars = line_stars()
    assert 5853498713190525696 in stars and len(stars) >= 5
    assert np.isin(stars, library.source_id).all()  # they stay in the library
    rows = allowed_rows(library.source_id, (), ())
    assert not np.isin(library.source_id[rows], stars).any()
    assert len(rows) == len(library) - len(stars)
    chunk = make_chunk(SimulationConfig(n_sources=4000, seed=6), 0, 0, 4000)
    assert not np.isin(library.source_id[chunk.parent], stars).any()
    folds = heldout.parent_folds(5, 0)
    assert not np.isin(np.concatenate(folds), stars).any()
    with pytest.raises(XphaError, match="never copied"):
        allowed_rows(library.source_id, (int(stars[0]),), ())


def test_a_sky_without_parent_lists_is_unchanged_by_them():
    every = tuple(int(i) for i in load_parents().source_id)
    plain = make_chunk(SimulationConfig(n_sources=800, seed=9), 0, 0, 800)
    listed = make_chunk(SimulationConfig(n_sources=800, seed=9, parents=every), 0, 0, 800)
    np.testing.assert_array_equal(plain.parent, listed.parent)
    np.testing.assert_array_equal(plain.rp, listed.rp)


def test_sources_without_gaia_source_take_photometry_from_xp():
    chunk = make_chunk(SimulationConfig(n_sources=300, seed=5), 0, 0, 300)
    batch = {"bp": chunk.bp, "rp": chunk.rp, "g_flux": np.full(300, np.nan),
             "g_mag": np.full(300, np.nan, np.float32), "bp_rp": np.full(300, np.nan, np.float32)}  # fmt: skip
    batch["g_flux"][:100] = chunk.g_flux[:100]  # these have a gaia_source row: kept
    batch["g_mag"][:100] = 1.0
    out = photometry_from_xp(batch)
    clean = chunk.ew == 0  # the simulator's G leaves the injected line out; XP's includes it
    np.testing.assert_allclose(out["g_flux"][clean], chunk.g_flux[clean], rtol=1e-10)
    np.testing.assert_allclose(out["g_flux"], chunk.g_flux, rtol=0.03)
    np.testing.assert_allclose(
        out["g_mag"][100:][clean[100:]], chunk.g_mag[100:][clean[100:]], atol=1e-4
    )
    np.testing.assert_allclose(
        out["bp_rp"][100:][clean[100:]], chunk.bp_rp[100:][clean[100:]], atol=1e-4
    )
    assert (out["g_mag"][:100] == 1.0).all()


def test_intervals_resample_whole_parents():
    from training.evaluate import bootstrap, group_resampler

    rng = np.random.default_rng(3)
    parents = np.repeat(np.arange(40), 50)  # 40 parents, 50 copies each: one score per parent
    y = (parents < 8).astype(float)
    score = rng.normal(0, 1, 40)[parents] + 1.0 * y
    draw = group_resampler(np.where(parents == 39, -1, parents), len(y), rng)
    sample = draw()
    counts = np.bincount(parents[sample], minlength=40)
    assert set((counts[:39] % 50).tolist()) == {0}  # whole parents only
    by_source, _, _ = bootstrap(y, score, 200, 1)
    by_parent, _, _ = bootstrap(y, score, 200, 1, parents)
    width = lambda m: m["pr_auc_ci"][1] - m["pr_auc_ci"][0]  # noqa: E731
    assert width(by_parent) > 2 * width(by_source)
