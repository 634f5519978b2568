"""Beyond one machine: training and `xpha score --scheduler` on a Dask distributed cluster.

The cluster has two worker processes (a LocalCluster with processes=True: separate
interpreters talking to the scheduler over TCP, as machines would). The model is trained on it,
then the CLI scores every source through it; the scheduler's task stream shows that both workers
read and scored partitions (each worker COPYs its own scores into PostgreSQL), and the stored
scores are the ones the model gives in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from training_support import LABELS_TABLE, TRUTH_TABLE, load_sky, make_sky, training_settings

from training import pipeline, registry
from training.data import XPFeed, concat
from training.scorers import load_scorer

REPO = Path(__file__).resolve().parent.parent
N_SOURCES = 1500
PARTITION_ROWS = 150  # about ten partitions, so both workers get several


@pytest.fixture(scope="module")
def cluster() -> Iterator:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


def test_scoring_on_two_worker_processes(db_url: str, tmp_path: Path, cluster) -> None:
    from distributed import Client, get_task_stream

    sky = make_sky(
        N_SOURCES,
        seed=5,
        emitter_fraction=0.15,
        labelled_fraction=0.8,
        ew_range=(8.0, 100.0),
        g_range=(12.0, 17.0),
    )
    load_sky(db_url, sky)
    settings = training_settings(
        tmp_path / "var",
        feed_partition_rows=PARTITION_ROWS,
        baseline_max_rounds=40,
        bootstrap_samples=10,
    )
    result = pipeline.run(
        db_url, settings, ("xgboost",), scheduler=cluster.scheduler_address, version="dist1"
    )  # xgboost.dask trains on the two workers
    model_id = result.model_ids["xgboost"]
    env = {
        **os.environ,
        "XPHA_DATABASE_URL": db_url,
        "XPHA_VAR_DIR": str(tmp_path / "var"),
        "XPHA_FEED_PARTITION_ROWS": str(PARTITION_ROWS),
        "XPHA_FEED_HEALPIX_LEVEL": str(settings.feed_healpix_level),
        "XPHA_TRAINING_LABELS_RELATION": LABELS_TABLE,
        "XPHA_TRAINING_TRUTH_RELATION": TRUTH_TABLE,
    }
    with Client(cluster.scheduler_address) as client, get_task_stream(client) as stream:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "xpha.cli",
                "score",
                str(model_id),
                "--scheduler",
                cluster.scheduler_address,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            cwd=REPO,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"{N_SOURCES} sources scored" in run.stdout
    partitions = [task for task in stream.data if "read_and_apply" in str(task["key"])]
    workers = {task["worker"] for task in partitions}
    assert len(partitions) >= 6 and len(workers) == 2, (len(partitions), workers)

    with psycopg.connect(db_url) as conn:
        stored = dict(
            conn.execute(
                "SELECT source_id, score FROM ml.emitter_scores WHERE model_id = %s", (model_id,)
            ).fetchall()
        )
        served = conn.execute(
            "SELECT count(*) FROM xpha.emitter_candidates WHERE model_id = %s", (model_id,)
        ).fetchone()
    assert len(stored) == N_SOURCES and served == (N_SOURCES,)
    feed = XPFeed.plan(db_url, settings, with_labels=False)
    batch = concat([feed.read(p) for p in feed.partitions])
    expected = load_scorer(registry.find(db_url, model_id).artifact_path).score(batch)[0]
    got = np.array([stored[int(s)] for s in batch["source_id"]])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
