"""Benchmarks (not timed tests): run with `make bench`; each prints rates and the ratio.

1. DAE phase-1 training throughput fed by the Dask feed, from PostgreSQL (binary COPY) and
   from its Parquet snapshot, vs the same model and loop on in-memory arrays: the feed overhead
   (target < 20%), with each feed's own rate to show where the time goes.
2. Scoring throughput (read + infer + COPY back) vs inference alone on in-memory data, with
   the projected time for all 220 million Gaia XP sources.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from training_support import load_sky, make_sky, training_settings

from training import pipeline, scoring, snapshot, splits
from training.autoencoder import train as dae_train
from training.autoencoder.kind import phase1_chunk
from training.autoencoder.model import DAEConfig
from training.data import XPFeed, concat, dask_client

N_SOURCES = 100_000
GAIA_XP_SOURCES = 220_000_000


@pytest.fixture(scope="module")
def bench_db(module_db_url, tmp_path_factory):
    for k in range(N_SOURCES // 20_000):
        load_sky(module_db_url, make_sky(20_000, seed=50 + k))
    settings = training_settings(
        tmp_path_factory.mktemp("bench"),
        feed_partition_rows=10_000,
        feed_healpix_level=6,
        split_test_fraction=0.1,
        split_val_fraction=0.1,
        dae_epochs=1,
        dae_hidden=256,
        dae_batch_size=1024,
        head_epochs=3,
        baseline_max_rounds=50,
        bootstrap_samples=10,
    )
    return module_db_url, settings


@pytest.mark.benchmark
@pytest.mark.parametrize("trainer_threads", ["all", 1])
def test_bench_dae_phase1_dask_feed_vs_in_memory(bench_db, tmp_path, trainer_threads):
    """With every core given to torch the feed can only take CPU from training (this machine
    has 2 cores and no GPU); with the trainer on one thread the feed has a core of its own, as
    it has beside a GPU."""
    url, settings = bench_db
    threads = torch.get_num_threads()
    if trainer_threads != "all":
        torch.set_num_threads(trainer_threads)
    snapshot.export(url, settings, tmp_path / "snap", progress=False)
    feeds = {"COPY": XPFeed.plan(url, settings), "Parquet": XPFeed.from_snapshot(tmp_path / "snap")}
    try:
        with dask_client(settings) as client:
            training, alone, n_train = _phase1_rates(client, feeds, settings, tmp_path)
    finally:
        torch.set_num_threads(threads)
    print(
        f"\nDAE phase 1, {n_train} training sources, 1 epoch, torch on"
        f" {trainer_threads if trainer_threads != 'all' else threads} of {os.cpu_count()} cores:"
        f" in-memory tensors {training['in-memory']:,.0f} src/s"
    )
    for name in feeds:
        overhead = training["in-memory"] / training[name] - 1
        print(
            f"  fed by the {name} Dask feed: {training[name]:,.0f} src/s, feed overhead"
            f" {overhead:.1%} (target < 20%), ratio {training[name] / training['in-memory']:.2f};"
            f" the feed alone {alone[name]:,.0f} src/s"
        )
    assert all(rate > 0 for rate in training.values())


def _phase1_rates(client, feeds: dict[str, XPFeed], settings, tmp_path):
    """Best-of-3 phase-1 rates from in-memory chunks and from each feed, and each feed alone."""
    args = splits.rule_of(settings)
    normaliser, n_train = pipeline.fit_normaliser(feeds["COPY"], client, settings, args)

    def fed_by(feed):
        return lambda epoch: feed.map(
            client, phase1_chunk, normaliser, args, splits.TRAIN, in_flight=settings.feed_prefetch
        )

    chunks = list(fed_by(feeds["COPY"])(0))
    val = (chunks[0][0][:2000], chunks[0][1][:2000])
    config = dae_train.Phase1Config(
        dae_epochs=1, dae_batch_size=1024, training_device=settings.training_device
    )
    sources = {"in-memory": lambda epoch: chunks} | {name: fed_by(f) for name, f in feeds.items()}
    training = {name: 0.0 for name in sources}
    alone = {name: 0.0 for name in feeds}
    # interleaved repeats, best of each: the machine is shared, load varies
    for name in ("in-memory", "COPY", "Parquet") * 3:
        start = time.perf_counter()
        dae_train.train_phase1(sources[name], n_train, val, DAEConfig(), config, tmp_path / "x")
        training[name] = max(training[name], n_train / (time.perf_counter() - start))
        (tmp_path / "x" / dae_train.CHECKPOINT).unlink()
        if name in feeds:
            start = time.perf_counter()
            rows = sum(len(x) for x, _ in sources[name](0))
            alone[name] = max(alone[name], rows / (time.perf_counter() - start))
    return training, alone, n_train


@pytest.mark.benchmark
def test_bench_scoring_throughput(bench_db):
    url, settings = bench_db
    kinds = ("xgboost", "xgboost_ew", "xp_excess", "dae_head", "line_snr")
    result = pipeline.run(url, settings, kinds=kinds, version="bench")
    feed = XPFeed.plan(url, settings, with_labels=False)
    batch = concat([feed.read(p) for p in feed.partitions])
    for kind in kinds:
        model_id = result.model_ids[kind]
        scorer = scoring.load_scorer(scoring.registry.find(url, model_id).artifact_path)
        start = time.perf_counter()
        scorer.score(batch)
        ceiling = len(batch["source_id"]) / (time.perf_counter() - start)
        start = time.perf_counter()
        scored = scoring.score_all(url, settings, model_id)
        rate = scored.scored / (time.perf_counter() - start)
        hours = GAIA_XP_SOURCES / rate / 3600
        print(
            f"\nscoring {kind}: {rate:,.0f} src/s end to end (read, infer, COPY scores + the"
            f" autoencoder's latents); inference alone in memory"
            f" {ceiling:,.0f} src/s; ratio {rate / ceiling:.2f}; 220 M sources -> {hours:.1f} h"
            f" on this 2-core machine ({hours / 16:.1f} h on 16 such workers)"
        )
        assert scored.scored == N_SOURCES
        assert np.isfinite(rate)
