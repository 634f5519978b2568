"""The Parquet snapshot of the training feed: same batches as COPY, resumable, damage is caught."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg
import pytest
from training_support import LABELS_TABLE, TRUTH_TABLE, load_sky, make_sky, training_settings

from sql.checksums import file_checksum
from sql.errors import XphaError
from training import pipeline, scoring, snapshot
from training.data import XPFeed, dask_client
from training.labelled import LabelledSet
from training.snapshot_reader import FORMAT_VERSION, MANIFEST, SnapshotError, part_name

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def exported(module_db_url, tmp_path_factory):
    """A 1500-source sky with awkward rows, and its snapshot (partitions of ~400 rows)."""
    url = module_db_url
    sky = make_sky(1500, seed=11, emitter_fraction=0.2)
    load_sky(url, sky)
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE gaia.xp_continuous SET bp_coefficients = NULL,"
            " bp_coefficient_errors = NULL WHERE source_id = %s",
            (int(sky.source_id[5]),),
        )
        conn.execute("DELETE FROM gaia.source WHERE source_id = %s", (int(sky.source_id[6]),))
        conn.execute(
            f"INSERT INTO {LABELS_TABLE} VALUES (%s, true, 10, true)", (int(sky.source_id[7]),)
        )
    base = tmp_path_factory.mktemp("snapshot")
    settings = training_settings(base, feed_partition_rows=400)
    result = snapshot.export(url, settings, base / "snap", progress=False)
    return url, settings, base / "snap", result


def copy_of(directory: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(directory, target)
    return target


def assert_same_batch(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        assert a[name].tobytes() == b[name].tobytes(), f"{name} differs bit for bit"


def test_snapshot_batches_equal_copy_batches_bit_for_bit(exported):
    url, settings, directory, result = exported
    assert (result.files, result.written, result.kept, result.rows) == (4, 4, 0, 1500)
    from_db = XPFeed.plan(url, settings)
    from_snapshot = XPFeed.from_snapshot(directory)
    assert from_snapshot.partitions == from_db.partitions
    assert (from_snapshot.spec.labels_relation, from_snapshot.spec.truth_relation) == (
        LABELS_TABLE,
        TRUTH_TABLE,
    )
    for p in from_db.partitions:
        assert_same_batch(from_db.read(p), from_snapshot.read(p))
    first = from_db.read(from_db.partitions[0])
    assert np.isnan(first["bp"][5]).all()
    # no gaia_source row: G and BP-RP come from the XP spectrum, in both feeds alike
    assert np.isfinite(first["g_flux"][6]) and np.isfinite(first["bp_rp"][6])
    assert first["is_emitter"][7] == -1 and (first["is_emitter"] == -1).any()
    # without labels, through the feed_snapshot setting and on Dask workers
    unlabelled_db = XPFeed.plan(url, settings, with_labels=False)
    via_setting = settings.model_copy(update={"feed_snapshot": directory})
    unlabelled = XPFeed.plan(url, via_setting, with_labels=False)
    assert unlabelled.spec.snapshot and unlabelled.spec.labels_relation is None
    with dask_client(settings) as client:
        got = list(unlabelled.map(client, lambda b: b))
    for p, batch in zip(unlabelled_db.partitions, got, strict=True):
        assert_same_batch(unlabelled_db.read(p), batch)


def test_manifest_records_source_and_every_file(exported):
    url, _, directory, _ = exported
    manifest = json.loads((directory / MANIFEST).read_text())
    assert manifest["format_version"] == FORMAT_VERSION and manifest["complete"]
    assert manifest["total_rows"] == 1500
    assert manifest["labels_relation"] == LABELS_TABLE
    assert manifest["source_database"]["dbname"] == url.rsplit("/", 1)[1]
    assert set(manifest["source_database"]) == {"host", "port", "dbname"}
    files = sorted(p.name for p in directory.iterdir())
    assert files == sorted([MANIFEST] + [e["file"] for e in manifest["partitions"]])
    for entry in manifest["partitions"]:
        assert entry["file"] == part_name(entry["lo"], entry["hi"])
        assert file_checksum(directory / entry["file"]) == entry["sha256"]


def test_reexport_is_a_noop_and_an_interrupted_export_resumes(exported, tmp_path):
    url, settings, original, _ = exported
    directory = copy_of(original, tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in directory.glob("part-*")}
    again = snapshot.export(url, settings, directory, progress=False)
    assert (again.written, again.kept, again.rows) == (0, 4, 1500)
    assert {p.name: p.stat().st_mtime_ns for p in directory.glob("part-*")} == before
    # interrupted: the last file never landed, a temporary half file was left behind
    manifest = json.loads((directory / MANIFEST).read_text())
    lost = manifest["partitions"].pop()
    manifest["complete"] = False
    (directory / MANIFEST).write_text(json.dumps(manifest))
    (directory / lost["file"]).unlink()
    (directory / f".{lost['file']}.abc.tmp").write_bytes(b"PAR1 half")
    with pytest.raises(SnapshotError, match="incomplete"):
        XPFeed.from_snapshot(directory)
    resumed = snapshot.export(url, settings, directory, progress=False)
    assert (resumed.written, resumed.kept, resumed.rows) == (1, 3, 1500)
    assert not list(directory.glob(".*.tmp"))
    assert {
        p.name: p.stat().st_mtime_ns for p in directory.glob("part-*") if p.name != lost["file"]
    } == {k: v for k, v in before.items() if k != lost["file"]}
    assert XPFeed.from_snapshot(directory).n_rows == 1500


def test_damage_is_a_clear_error_naming_the_file(exported, tmp_path):
    _, settings, original, _ = exported
    directory = copy_of(original, tmp_path)
    manifest = json.loads((directory / MANIFEST).read_text())
    first, second = (directory / e["file"] for e in manifest["partitions"][:2])
    feed = XPFeed.from_snapshot(directory)
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match=f"{first.name} does not match its sha256"):
        feed.read(feed.partitions[0])
    with dask_client(settings) as client, pytest.raises(XphaError, match=first.name):
        list(feed.map(client, len))
    second.write_bytes(second.read_bytes()[:-100])
    with pytest.raises(SnapshotError, match=f"{second.name} has .* bytes.*truncated"):
        XPFeed.from_snapshot(directory)
    second.unlink()
    with pytest.raises(SnapshotError, match=f"{second.name} is missing"):
        XPFeed.from_snapshot(directory)
    (directory / MANIFEST).write_text("{not json")
    with pytest.raises(SnapshotError, match=r"invalid snapshot manifest .*manifest\.json"):
        XPFeed.from_snapshot(directory)
    (directory / MANIFEST).unlink()
    with pytest.raises(SnapshotError, match=r"has no manifest\.json"):
        XPFeed.from_snapshot(directory)
    with pytest.raises(SnapshotError, match="no such directory"):
        XPFeed.from_snapshot(tmp_path / "nowhere")


def test_a_missing_column_and_foreign_labels_are_clear_errors(exported, tmp_path):
    import pyarrow.parquet as pq

    original = exported[2]
    directory = copy_of(original, tmp_path)
    manifest = json.loads((directory / MANIFEST).read_text())
    entry = manifest["partitions"][0]
    path = directory / entry["file"]
    pq.write_table(pq.read_table(path).drop_columns(["rp_err"]), path, compression="zstd")
    entry.update(sha256=file_checksum(path), bytes=path.stat().st_size)
    (directory / MANIFEST).write_text(json.dumps(manifest))
    feed = XPFeed.from_snapshot(directory)
    with pytest.raises(SnapshotError, match=f"{entry['file']} has no column rp_err"):
        feed.read(feed.partitions[0])
    with pytest.raises(SnapshotError, match="holds labels from"):
        XPFeed.from_snapshot(directory, "labels.training_labels")


def test_training_from_the_snapshot_matches_training_from_the_database(exported, tmp_path):
    url, settings, directory, _ = exported
    results = {}
    for name, run_settings in (
        ("db", settings),
        ("snapshot", settings.model_copy(update={"feed_snapshot": directory})),
    ):
        feed = XPFeed.plan(url, run_settings)
        with dask_client(run_settings) as client:
            rule = pipeline.split_rule(feed, client, run_settings)
            labelled = LabelledSet.gather(feed, client, rule)
            normaliser, n_train = pipeline.fit_normaliser(feed, client, run_settings, rule)
        run = pipeline.run(
            url,
            run_settings,
            ("logreg",),
            report_dir=tmp_path / name,
            set_current=False,
            version=f"snap-{name}",
        )
        results[name] = (labelled, normaliser, n_train, run.evaluations[0].metrics)
        # scoring reads the snapshot too, and still writes its scores to the database
        model_id = run.model_ids["logreg"]
        done = scoring.score_all(url, run_settings, model_id)
        with psycopg.connect(url) as conn:
            stored = conn.execute(
                "SELECT source_id, score FROM ml.emitter_scores WHERE"
                " model_id = %s ORDER BY source_id",
                (model_id,),
            ).fetchall()
        results[name] += (done.scored, done.skipped, [s for _, s in stored])
    lab_db, norm_db, n_db, metrics_db, *scored_db = results["db"]
    lab_snap, norm_snap, n_snap, metrics_snap, *scored_snap = results["snapshot"]
    assert scored_db == scored_snap and scored_db[0] + scored_db[1] == 1500
    assert_same_batch(lab_db.batch, lab_snap.batch)
    assert n_db == n_snap
    np.testing.assert_array_equal(norm_db.mean, norm_snap.mean)
    np.testing.assert_array_equal(norm_db.scale, norm_snap.scale)
    assert metrics_db["pr_auc"] == metrics_snap["pr_auc"]
    assert metrics_db["roc_auc"] == metrics_snap["roc_auc"]


def test_cli_exports_with_a_one_line_summary(exported, tmp_path):
    url, _, _, _ = exported
    env = {
        **os.environ,
        "XPHA_DATABASE_URL": url,
        "XPHA_TRAINING_LABELS_RELATION": LABELS_TABLE,
        "XPHA_TRAINING_TRUTH_RELATION": TRUTH_TABLE,
        "XPHA_FEED_PARTITION_ROWS": "700",
        "XPHA_FEED_HEALPIX_LEVEL": "3",
        "XPHA_DASK_LOCAL_WORKERS": "1",
    }
    run = subprocess.run(
        [sys.executable, "-m", "xpha.cli", "train", "snapshot", str(tmp_path / "cli")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    assert summary.startswith(
        f"snapshot {tmp_path / 'cli'}: 3 files (3 written, 0 kept), 1500 rows"
    )
    assert summary.endswith(" s") and "MiB" in summary
    (tmp_path / "file").write_text("")
    run = subprocess.run(
        [sys.executable, "-m", "xpha.cli", "train", "snapshot", str(tmp_path / "file")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"error: snapshot directory {tmp_path / 'file'} exists and is not a directory"
    ]
