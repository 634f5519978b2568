"""End to end on a tiny synthetic sky: every model trains, beats chance, is saved, registered,
reported, reloaded, and scores every source back into the database by COPY."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import psycopg
import pytest
from training_support import load_sky, make_sky, training_settings

from training import known_stars, pipeline, registry, scoring, splits
from training.artifacts import ArtifactExistsError, new_model_dir, sha256_dir
from training.data import XPFeed, concat
from training.kinds import KINDS
from training.line_excess import LineExcess
from training.model_kind import PHASE1
from training.scorers import load_scorer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def trained(module_db_url, tmp_path_factory):
    sky = make_sky(
        2000,
        seed=11,
        emitter_fraction=0.15,
        labelled_fraction=0.8,
        ew_range=(8.0, 100.0),
        g_range=(12.0, 17.0),
    )
    load_sky(module_db_url, sky)
    settings = training_settings(
        tmp_path_factory.mktemp("var"),
        feed_partition_rows=700,
        dae_epochs=2,
        dae_hidden=64,
        head_epochs=5,
        head_batch_size=64,
        baseline_max_rounds=60,
        bootstrap_samples=20,
    )
    result = pipeline.run(module_db_url, settings, version="t1")
    return module_db_url, settings, sky, result


# Chance is ROC-AUC 0.5 and PR-AUC = prevalence. The linear probe sees only the 16-d latent of a
# 2-epoch encoder (the line lives mostly in the reconstruction residual), hence its lower bar.
MINIMUM = {  # kind: (ROC-AUC, PR-AUC / prevalence)
    "logreg": (0.8, 2.5),
    "lightgbm": (0.8, 2.5),
    "xgboost": (0.8, 2.5),
    "xgboost_ew": (0.8, 2.5),
    "xp_ew": (0.75, 2.0),
    "xp_excess": (0.75, 2.0),
    "dae_head": (0.8, 2.5),
    "dae_unfreeze": (0.8, 2.5),
    "dae_linear": (0.6, 1.3),
    "matched_filter": (0.75, 2.0),
    "line_snr": (0.75, 2.0),
}


def test_every_model_beats_chance_on_the_sky_disjoint_test_split(trained):
    _, _, _, result = trained
    assert {ev.kind for ev in result.evaluations} == set(KINDS) == set(MINIMUM)
    for ev in result.evaluations:
        m = ev.metrics
        roc, pr_lift = MINIMUM[ev.kind]
        assert m["roc_auc"] > roc, (ev.kind, m["roc_auc"])
        assert m["pr_auc"] > pr_lift * m["prevalence"], (ev.kind, m["pr_auc"])
        assert m["pr_auc_ci"][0] <= m["pr_auc"] <= m["pr_auc_ci"][1], ev.kind
        assert 0 <= m["ece"] <= 1


def test_collapse_is_measured_where_the_encoder_changes(trained):
    _, _, _, result = trained
    before = result.latent_spaces[PHASE1].geometry
    # frozen heads cannot move the latents: no trivially-unchanged number is reported for them
    assert "dae_head" not in result.latent_spaces and "dae_linear" not in result.latent_spaces
    after = result.latent_spaces["dae_unfreeze"].geometry
    assert abs(after["pc1_fraction"] - before["pc1_fraction"]) < 0.10


def test_models_are_registered_with_artifacts_and_one_is_current(trained):
    url, settings, _, result = trained
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT model_id, kind, artifact_path, artifact_sha256, is_current, latent_dim,"
            " metrics->>'pr_auc', data_snapshot FROM ml.models ORDER BY model_id"
        ).fetchall()
        current = conn.execute("SELECT kind FROM ml.current_model").fetchall()
    assert {r[1] for r in rows} == set(KINDS)
    assert current == [(result.current,)]
    chosen = max(result.evaluations, key=lambda e: e.metrics["val_pr_auc"])
    assert result.current == chosen.kind  # validation chooses, never the test split
    for model_id, kind, path, sha, _, latent_dim, pr_auc, snapshot in rows:
        assert result.model_ids[kind] == model_id
        assert sha == sha256_dir(path)
        assert (latent_dim is not None) == KINDS[kind].produces_latents
        assert float(pr_auc) == pytest.approx(
            next(e.metrics["pr_auc"] for e in result.evaluations if e.kind == kind)
        )
        assert json.loads(snapshot)["labelled"]["test"]["emitters"] > 0
        # the sky holds none of the known emitters: recorded, and in no split
        recorded = json.loads(snapshot)["known_star_splits"]
        assert recorded == {str(i): known_stars.NOT_INGESTED for i in known_stars.known_stars()}
    with pytest.raises(ArtifactExistsError, match="refusing to overwrite"):
        new_model_dir(settings, "xgboost", "t1")


def test_report_has_tables_and_figures(trained):
    _, _, _, result = trained
    text = result.report.read_text()
    for kind in KINDS:
        assert f"| {kind} |" in text
    for figure in (
        "roc.png",
        "pr.png",
        "calibration.png",
        "recall_vs_ew.png",
        "latent_pca.png",
        "training_curves.png",
    ):
        assert (result.report.parent / figure).stat().st_size > 5000, figure
        assert figure in text
    assert "<table>" in (result.report.parent / "report.html").read_text()


def test_the_whole_test_split_is_scored_against_the_truth(trained):
    result = trained[3]
    assert "## Test split against the simulation truth, every source" in result.report.read_text()
    for ev in result.evaluations:
        m = ev.metrics
        # every test-split source with a truth row: line-free ones plus emitters >= 5 A
        assert m["truth_n"] > m["n_test"], ev.kind
        assert 0 < m["truth_ew5_pr_auc"] <= 1 and m["truth_ew5_roc_auc"] > 0.6, ev.kind
        assert m["ew50_source"].startswith("truth")


def test_saved_models_reload_to_identical_scores(trained):
    url, settings, _, result = trained
    feed = XPFeed.plan(url, settings)
    batch = feed.read(feed.partitions[0])
    for model_id in result.model_ids.values():
        record = registry.find(url, model_id)
        assert registry.find(url, record.name) == record
        if model_id == result.model_ids[result.current]:
            assert registry.find(url, "current") == record
        scorer = load_scorer(record.artifact_path)
        again = load_scorer(record.artifact_path)
        np.testing.assert_allclose(scorer.score(batch)[0], again.score(batch)[0], rtol=1e-5)


@pytest.mark.parametrize("kind", ["dae_head", "xgboost", "line_snr"])
def test_scoring_writes_every_source_with_the_right_model_id(trained, kind):
    url, settings, sky, result = trained
    model_id = result.model_ids[kind]
    first = scoring.score_all(url, settings, model_id)
    again = scoring.score_all(url, settings, str(model_id))  # idempotent re-run
    assert first.scored == again.scored == len(sky) and first.skipped == 0
    assert again.known is not None  # the known emitters' section, next to the training report
    assert again.known.path == settings.var_dir / "reports" / "t1" / f"known_stars_{kind}.md"
    assert all(r.not_scored == known_stars.NO_XP and r.total == len(sky) for r in again.known.ranks)
    with psycopg.connect(url) as conn:
        n, lo, hi = conn.execute(
            "SELECT count(*), min(probability), max(probability) FROM ml.emitter_scores"
            " WHERE model_id = %s",
            (model_id,),
        ).fetchone()
        latents = conn.execute(
            "SELECT count(*), min(cardinality(latent)) FROM ml.latents WHERE model_id = %s",
            (model_id,),
        ).fetchone()
        # a model without latents publishes its run's autoencoder latents for every source
        autoencoder = conn.execute(
            "SELECT count(*) FROM ml.latents WHERE model_id = %s", (result.model_ids["dae_head"],)
        ).fetchone()[0]
        rows = conn.execute(
            "SELECT source_id, score, halpha_excess_ew, halpha_excess_snr"
            " FROM ml.emitter_scores WHERE model_id = %s",
            (model_id,),
        ).fetchall()
    scores = {r[0]: r[1] for r in rows}
    excess = {r[0]: [np.nan if v is None else v for v in r[2:]] for r in rows}
    assert n == len(sky) and 0 <= lo <= hi <= 1
    assert latents == ((len(sky), settings.dae_latent_dim) if kind.startswith("dae") else (0, None))
    assert autoencoder == len(sky)
    feed = XPFeed.plan(url, settings)
    batch = concat([feed.read(p) for p in feed.partitions])
    test = splits.assign_with(settings, batch["source_id"]) == splits.TEST
    scorer = load_scorer(registry.find(url, model_id).artifact_path)
    expected = scorer.score(batch)[0]
    stored = np.array([scores[int(s)] for s in batch["source_id"]])
    np.testing.assert_allclose(stored[test], expected[test], rtol=1e-4, atol=1e-4)
    stored_excess = np.array([excess[int(s)] for s in batch["source_id"]])
    if hasattr(scorer, "measure_line"):  # its own EW and S/N are published with the score
        measured = scorer.measure_line(batch)
        assert np.isfinite(measured).mean() > 0.9
        np.testing.assert_allclose(stored_excess, measured, rtol=1e-4, atol=1e-4, equal_nan=True)
    else:  # the excess the model read, else its run's, is published with its score
        path = registry.find(url, model_id).artifact_path
        excess = scorer.excess or LineExcess.load(path, scorer.normaliser)
        measured = excess.measure(batch)
        assert np.isfinite(measured).mean() > 0.9
        np.testing.assert_allclose(stored_excess, measured, rtol=1e-5, equal_nan=True)


def test_cli_reports_unknown_model_as_one_line(trained):
    url, _, _, _ = trained
    env = {**os.environ, "XPHA_DATABASE_URL": url}
    run = subprocess.run(
        [sys.executable, "-m", "xpha.cli", "score", "99999"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "error: no model '99999' in ml.models (see `xpha models list`)"
    ]
    listing = subprocess.run(
        [sys.executable, "-m", "xpha.cli", "models", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert listing.returncode == 0 and "xgboost-t1" in listing.stdout
