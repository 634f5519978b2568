"""Benchmarks (not timed tests): run with `make bench`; each prints rates and the ratio.

1. DAE phase-1 training throughput fed by the Dask feed (PostgreSQL binary COPY, prefetch)
   vs the same model and loop on in-memory arrays: the feed overhead (target < 20%).
2. Scoring throughput (read + infer + COPY back) vs inference alone on in-memory data, with
   the projected time for all 220 million Gaia XP sources.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from training_support import load_sky, make_sky, training_settings

from training import pipeline, scoring, splits
from training.autoencoder import train as dae_train
from training.autoencoder.model import DAEConfig
from training.data import XPFeed, concat, dask_client
from training.labelled import split_args

N_SOURCES = 40_000
GAIA_XP_SOURCES = 220_000_000


@pytest.fixture(scope="module")
def bench_db(module_db_url, tmp_path_factory):
    for k in range(N_SOURCES // 20_000):
        load_sky(module_db_url, make_sky(20_000, seed=50 + k))
    settings = training_settings(
        tmp_path_factory.mktemp("bench"), feed_partition_rows=10_000, feed_healpix_level=6,
        split_test_fraction=0.1, split_val_fraction=0.1, dae_epochs=1, dae_hidden=256,
        dae_batch_size=1024, head_epochs=3, baseline_max_rounds=50, bootstrap_samples=10,
    )
    return module_db_url, settings


@pytest.mark.benchmark
def test_bench_dae_phase1_dask_feed_vs_in_memory(bench_db, tmp_path):
    url, settings = bench_db
    feed = XPFeed.plan(url, settings)
    with dask_client(settings) as client:
        normaliser, n_train = pipeline.fit_normaliser(feed, client, settings)
        args = split_args(settings)
        chunks = list(feed.map(client, pipeline.phase1_chunk, normaliser, args, splits.TRAIN))
        val = (chunks[0][0][:2000], chunks[0][1][:2000])
        config = dae_train.Phase1Config(epochs=1, batch_size=1024, device=settings.training_device)

        def from_feed(epoch):
            return feed.map(client, pipeline.phase1_chunk, normaliser, args, splits.TRAIN,
                            in_flight=settings.feed_prefetch)

        def from_memory(epoch):
            return chunks

        rates = {"in-memory": 0.0, "dask feed": 0.0}
        sources = {"in-memory": from_memory, "dask feed": from_feed}
        # warm-up, then interleaved repeats, best of each: the machine is shared, load varies
        for name in ("in-memory", "in-memory", "dask feed", "in-memory", "dask feed"):
            start = time.perf_counter()
            dae_train.train_phase1(sources[name], n_train, val, DAEConfig(), config, tmp_path / "x")
            rates[name] = max(rates[name], n_train / (time.perf_counter() - start))
            (tmp_path / "x" / dae_train.CHECKPOINT).unlink()
    overhead = rates["in-memory"] / rates["dask feed"] - 1
    print(
        f"\nDAE phase 1, {n_train} sources, 1 epoch: in-memory {rates['in-memory']:,.0f} src/s,"
        f" Dask feed {rates['dask feed']:,.0f} src/s; feed overhead {overhead:.1%}"
        f" (target < 20%); ratio feed/in-memory {rates['dask feed'] / rates['in-memory']:.2f}"
    )
    assert rates["dask feed"] > 0


@pytest.mark.benchmark
def test_bench_scoring_throughput(bench_db):
    url, settings = bench_db
    kinds = ("xgboost", "xgboost_ew", "xp_excess", "dae_head")
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
            f"\nscoring {kind}: {rate:,.0f} src/s end to end (read, infer, COPY scores"
            f"{' + latents' if kind.startswith('dae') else ''}); inference alone in memory"
            f" {ceiling:,.0f} src/s; ratio {rate / ceiling:.2f}; 220 M sources -> {hours:.1f} h"
            f" on this 2-core machine ({hours / 16:.1f} h on 16 such workers)"
        )
        assert scored.scored == N_SOURCES
        assert np.isfinite(rate)
