"""Where a model ranks the known real emitters: ranks and percentiles equal a brute-force ORDER BY
of every score (ties share the best rank), a star without a score is reported as not scored with
its reason, the split recorded at training time is the run's, and the section file is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import psycopg
import pytest

from training import known_stars, registry, splits
from training.settings import TrainingSettings
from xpha.demo import known_stars_section

EMITTER = known_stars.GAIAXPY_LINE_STAR
WEILER = 505171240162594560  # the first example star of Weiler et al. (2023)
WEILER_MISSING = 426306363477869696  # another one: no score in these tests
N_OTHERS = 3000


def test_known_stars_are_read_from_the_shipped_weiler_file() -> None:
    stars = known_stars.known_stars()
    assert next(iter(stars)) == EMITTER
    assert set(stars) == {EMITTER, 505171240162594560, 426306363477869696,
                          2067888218857234304, 5256686653442846336}  # fmt: skip


def _model(conn: psycopg.Connection, version: str, snapshot: dict | None) -> registry.ModelRecord:
    model_id = conn.execute(
        "INSERT INTO ml.models (kind, version, artifact_path, data_snapshot)"
        " VALUES ('xgboost', %s, '/nowhere', %s) RETURNING model_id",
        (version, None if snapshot is None else json.dumps(snapshot)),
    ).fetchone()[0]
    return registry.ModelRecord(model_id, "xgboost", version, Path("/nowhere"), None)


def _scores(conn: psycopg.Connection, model_id: int, probability: dict[int, float | None]) -> None:
    ids = list(probability)
    conn.execute(
        "INSERT INTO ml.emitter_scores (model_id, source_id, score, probability)"
        " SELECT %s, s, coalesce(p, 0) * 10 - 5, p FROM unnest(%s::bigint[], %s::real[]) AS u(s, p)",
        (model_id, ids, [probability[i] for i in ids]),
    )


def _xp(conn: psycopg.Connection, ids: list[int]) -> None:
    conn.execute("INSERT INTO gaia.xp_continuous (source_id) SELECT unnest(%s::bigint[])", (ids,))


def _brute_force(conn: psycopg.Connection, model_id: int) -> dict[int, tuple[int, float, int]]:
    """source_id -> (rank, percentile, total) by window functions over every ranked score."""
    rows = conn.execute(
        "SELECT source_id, rank() OVER (ORDER BY probability DESC),"
        " 100 * cume_dist() OVER (ORDER BY probability), count(*) OVER ()"
        " FROM ml.emitter_scores WHERE model_id = %s AND probability IS NOT NULL"
        " AND probability <> 'NaN'::real",
        (model_id,),
    ).fetchall()
    return {int(s): (int(r), float(p), int(n)) for s, r, p, n in rows}


# known star -> its probability, over N_OTHERS other sources with probabilities from `others`
CASES = {
    "distinct": (
        lambda rng: rng.random(N_OTHERS),
        {EMITTER: 0.97, WEILER: 0.41, 2067888218857234304: 0.003, 5256686653442846336: 0.72},
    ),
    "ties among themselves and with others": (
        lambda rng: np.round(rng.random(N_OTHERS), 1),  # eleven values, ~300 sources each
        {EMITTER: 0.7, WEILER: 0.7, 2067888218857234304: 0.0, 5256686653442846336: 1.0},
    ),
    "top and bottom": (
        lambda rng: rng.uniform(0.1, 0.9, N_OTHERS),
        {EMITTER: 0.99, WEILER: 0.01, 2067888218857234304: 0.5, 5256686653442846336: 0.5},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ranks_and_percentiles_equal_a_brute_force_order_by(db_url: str, case: str) -> None:
    others, known = CASES[case]
    rng = np.random.default_rng(len(case))
    with psycopg.connect(db_url, autocommit=True) as conn:
        record = _model(conn, case, None)
        other_ids = rng.choice(2**58, N_OTHERS, replace=False) + 2**40
        _scores(conn, record.model_id, {**dict(zip(other_ids.tolist(), others(rng).tolist(),
                                                   strict=True)), **known})  # fmt: skip
        expected = _brute_force(conn, record.model_id)
    ranks = {r.source_id: r for r in known_stars.rank(db_url, record.model_id)}
    for source_id, probability in known.items():
        star = ranks[source_id]
        assert star.rank is not None and star.percentile is not None
        rank, percentile, total = expected[source_id]
        assert (star.rank, star.total) == (rank, total) == (star.rank, N_OTHERS + len(known))
        assert star.percentile == pytest.approx(percentile)
        assert star.probability == pytest.approx(probability)
        assert star.score == pytest.approx(probability * 10 - 5, abs=1e-5)
        assert star.split == known_stars.UNKNOWN  # the model recorded no splits
    assert ranks[WEILER_MISSING].rank is None and ranks[WEILER_MISSING].not_scored
    if case == "ties among themselves and with others":  # ties share the best rank
        assert ranks[EMITTER].rank == ranks[WEILER].rank
        assert ranks[5256686653442846336].rank == 1


def test_unscored_stars_say_why_and_nan_probabilities_are_not_ranked(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        record = _model(conn, "1", None)
        _scores(conn, record.model_id, {1: 0.2, 2: 0.9, 3: float("nan"), EMITTER: 0.5,
                                        WEILER: float("nan"), 2067888218857234304: None})  # fmt: skip
        _xp(conn, [WEILER_MISSING])  # ingested but without a score; 5256686653442846336 not at all
    ranks = {r.source_id: r for r in known_stars.rank(db_url, record.model_id)}
    assert (ranks[EMITTER].rank, ranks[EMITTER].total) == (2, 3)  # NaN above 0.9 is not counted
    assert ranks[EMITTER].percentile == pytest.approx(100 * 2 / 3)
    for unranked in (WEILER, 2067888218857234304):
        assert ranks[unranked].rank is None and ranks[unranked].not_scored is None
    assert ranks[WEILER_MISSING].not_scored == known_stars.NO_SCORE
    assert ranks[5256686653442846336].not_scored == known_stars.NO_XP
    text = known_stars.markdown(record, list(ranks.values()))
    assert "not scored: no XP spectrum ingested" in text
    assert "scored without a probability: not ranked" in text


def test_splits_recorded_at_training_are_reported(db_url: str) -> None:
    """The run's rule (a parent of the sky, a held-out star) decides; a star not ingested when
    the model trained is in no split."""
    rule = splits.SplitRule(level=5, seed=42, val_fraction=0.15, test_fraction=0.15)
    rule = rule.with_groups(np.array([EMITTER, 12345]), np.array([WEILER]))
    ingested = [EMITTER, WEILER, 2067888218857234304]
    with psycopg.connect(db_url, autocommit=True) as conn:
        _xp(conn, ingested)
    recorded = known_stars.splits_at_training(db_url, rule)
    codes = rule.codes({"source_id": np.array(ingested, np.int64)})
    assert codes[1] == splits.TEST  # held out
    for source_id, code in zip(ingested, codes, strict=True):
        assert recorded[str(source_id)] == known_stars.SPLIT_NAMES[int(code)]
    assert recorded[str(5256686653442846336)] == known_stars.NOT_INGESTED
    as_parent = int(splits.parent_codes(np.array([EMITTER]), 42, 0.15, 0.15)[0])
    assert as_parent != splits.assign(np.array([EMITTER]), 5, 42, 0.15, 0.15)[0]  # not its cell
    assert recorded[str(EMITTER)] == known_stars.SPLIT_NAMES[as_parent]  # with its copies

    with psycopg.connect(db_url, autocommit=True) as conn:
        record = _model(conn, "2", {"split": {}, "known_star_splits": recorded})
        _scores(conn, record.model_id, {EMITTER: 0.8, 7: 0.1})
    ranks = {r.source_id: r for r in known_stars.rank(db_url, record.model_id)}
    assert {str(s): r.split for s, r in ranks.items()} == recorded


def test_the_section_is_written_next_to_the_training_report(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        record = _model(conn, "20990101T000000Z", {"known_star_splits": {str(EMITTER): "test"}})
        _scores(conn, record.model_id, {EMITTER: 0.9, 1: 0.95, 2: 0.1, 3: 0.2})
        conn.execute("UPDATE ml.models SET is_current = true WHERE model_id = %s",
                     (record.model_id,))  # fmt: skip
    settings = TrainingSettings(database_url=None, var_dir=tmp_path)
    done = known_stars.report(db_url, settings, record)
    assert done.path == tmp_path / "reports" / "20990101T000000Z" / "known_stars_xgboost.md"
    text = done.path.read_text()
    assert text.startswith(f"## {known_stars.TITLE}\n")
    assert f"| {EMITTER} | H-alpha emitter (GaiaXPy line finder) | test | 0.9 |" in text
    assert "| 2 | 4 | 75 |" in text  # rank 2 of 4, percentile 75
    assert f"{EMITTER} rank 2/4 (test)" in done.summary()
    assert f"{WEILER} not scored" in done.summary()
    assert known_stars_section(db_url) == text  # what `xpha demo` prints at its end


def test_the_rank_is_one_indexed_count_per_star(db_url: str) -> None:
    """As at 200 million scores (row counts scaled, as in tests/test_plans.py): the known stars
    are looked up by primary key and each count reads the probability index, no Seq Scan, no
    Sort. (The total is one count over the model's scores, whichever way the planner reads them.)
    """
    from training import queries

    with psycopg.connect(db_url, autocommit=True) as conn:
        record = _model(conn, "plan", None)
        rng = np.random.default_rng(5)
        ids = rng.choice(2**58, 20_000, replace=False) + 2**40
        _scores(conn, record.model_id, dict(zip(ids.tolist(), rng.random(20_000).tolist(),
                                                strict=True)))  # fmt: skip
        conn.execute("VACUUM ANALYZE ml.emitter_scores")
    with psycopg.connect(db_url) as conn:  # one transaction, rolled back: the scaling goes
        conn.execute(
            "UPDATE pg_class SET reltuples = reltuples * 10000 WHERE oid IN"
            " (SELECT 'ml.emitter_scores'::regclass UNION"
            "  SELECT indexrelid FROM pg_index WHERE indrelid = 'ml.emitter_scores'::regclass)"
        )
        args = (record.model_id, ids[:5].tolist())
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {queries.KNOWN_STAR_RANKS}", args))
        conn.rollback()
    assert "Seq Scan" not in plan and "Sort" not in plan, plan
    assert "Index Only Scan using emitter_scores_probability_idx" in plan, plan
