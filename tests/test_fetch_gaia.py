"""The Gaia archive fetcher against the archive's recorded answers (astroquery's own test data):
only astroquery's HTTP layer is replaced (its DummyConnHandler, as astroquery's tests do); the
DataLink zip handling, file writing and ingest are the real ones, into the real database."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import psycopg
import pytest
from astroquery.gaia import GaiaClass
from astroquery.utils.tap.conn.tests.DummyConnHandler import DummyConnHandler
from astroquery.utils.tap.conn.tests.DummyResponse import DummyResponse
from astroquery.utils.tap.core import TapPlus
from ingest_support import table_state

from ingest.fetch_gaia import FetchError, fetch_and_ingest, read_ids

RECORDED_ID = 5937083312263887616
ZIPS = {"fits": "fits", "csv": "csv", "ecsv": "ecsv", "votable": "vot"}


def archive(real_data: Path, fmt: str = "fits", query_result: str | None = None):
    """A GaiaClass whose HTTP connections answer with the recorded responses."""
    datalink = DummyConnHandler()
    answer = DummyResponse(200)
    answer.set_data(
        method="POST",
        body=str(
            real_data
            / "astroquery_gaia"
            / f"gaia_dr3_source_id_{RECORDED_ID}_dl_products_{ZIPS[fmt]}.zip"
        ),
    )
    datalink.set_default_response(answer)
    tap = DummyConnHandler()
    if query_result:
        launched = DummyResponse(303)
        launched.set_data(method="POST", headers=[["location", "http://test:1111/tap/async/42"]])
        tap.set_default_response(launched)
        phase = DummyResponse(200)
        phase.set_data(method="GET", body="COMPLETED")
        tap.set_response("async/42/phase", phase)
        result = DummyResponse(200)
        result.set_data(
            method="GET", body=(real_data / "astroquery_gaia" / query_result).read_text()
        )
        tap.set_response("async/42/results/result", result)
    gaia = GaiaClass(
        tap_plus_conn_handler=tap,
        datalink_handler=TapPlus(url="http://test:1111/tap", connhandler=datalink),
        show_server_messages=False,
    )
    return gaia, datalink, tap


@pytest.mark.parametrize("fmt", list(ZIPS))
def test_fetch_by_ids_keeps_files_and_ingests(
    fmt: str, real_data: Path, tmp_path: Path, db_url: str, test_settings
) -> None:
    gaia, datalink, _ = archive(real_data, fmt)
    report = fetch_and_ingest(
        ids=[RECORDED_ID],
        out_dir=tmp_path,
        format=fmt,
        url=db_url,
        gaia=gaia,
        settings=test_settings,
        progress=False,
    )
    sent = parse_qs(datalink.data)
    assert sent["ID"] == [str(RECORDED_ID)] and sent["RETRIEVAL_TYPE"] == ["XP_CONTINUOUS"]
    assert sent["RELEASE"] == ["Gaia DR3"] and sent["FORMAT"] == [fmt]
    names = [p.name for p in report.files]
    assert names[0].startswith(f"xp_continuous_{RECORDED_ID}_1_") and names[0].endswith(".zip")
    assert names[1].startswith(f"XP_CONTINUOUS-Gaia DR3 {RECORDED_ID}")
    assert all(p.is_file() for p in report.files)
    assert [(r.rows_read, r.rows_loaded) for r in report.results] == [(1, 1)]
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT source_id, cardinality(bp_coefficients),"
            " cardinality(rp_coefficient_correlations) FROM gaia.xp_continuous"
        ).fetchall()
    assert row == [(RECORDED_ID, 55, 1485)]
    # fetching the same again: the files are new, the rows are not
    gaia, _, _ = archive(real_data, fmt)  # a recorded response replays once
    again = fetch_and_ingest(
        ids=[RECORDED_ID],
        out_dir=tmp_path,
        format=fmt,
        url=db_url,
        gaia=gaia,
        settings=test_settings,
        progress=False,
    )
    assert [r.skipped for r in again.results] == [True]


def test_fetch_by_adql_loads_sources_then_their_spectra(
    real_data: Path, tmp_path: Path, db_url: str, test_settings
) -> None:
    gaia, datalink, tap = archive(real_data, "ecsv", "1710099405832VAL-result.vot")
    adql = (
        "SELECT TOP 20 * FROM gaiadr3.gaia_source WHERE source_id = 4583627001381815936"
        " OR source_id = 5348723816842275584"
    )
    report = fetch_and_ingest(
        adql=adql,
        out_dir=tmp_path,
        format="ecsv",
        url=db_url,
        gaia=gaia,
        settings=test_settings,
        progress=False,
    )
    assert parse_qs(tap.data)["QUERY"] == [adql]
    sent = parse_qs(datalink.data)
    assert sent["ID"] == ["4583627001381815936,5348723816842275584"]
    assert report.files[0].suffix == ".vot" and report.files[0].is_file()
    assert [r.kind for r in report.results] == ["gaia-source", "gaia-xp"]
    with psycopg.connect(db_url) as conn:
        sources = conn.execute(
            "SELECT source_id, has_xp_continuous FROM gaia.source ORDER BY source_id"
        ).fetchall()
    assert sources == [(4583627001381815936, True), (5348723816842275584, True)]
    # the recorded DataLink answer is the one for RECORDED_ID: loaded as the archive sent it
    assert table_state(db_url)[0] == (1, RECORDED_ID)


def test_archive_failure_is_one_clear_error(
    real_data: Path, tmp_path: Path, db_url: str, test_settings
) -> None:
    gaia, datalink, _ = archive(real_data)
    broken = DummyResponse(500)
    broken.set_data(method="POST", body="Internal error")
    datalink.set_default_response(broken)
    with pytest.raises(FetchError, match=r"DataLink request for 1 source_id\(s\)"):
        fetch_and_ingest(
            ids=[RECORDED_ID],
            out_dir=tmp_path,
            url=db_url,
            gaia=gaia,
            settings=test_settings,
            progress=False,
        )
    assert table_state(db_url) == ((0, 0), (0,), [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1, 2 3\n4", [1, 2, 3, 4]),
        ("5937083312263887616,5937083312263887616", [5937083312263887616]),
    ],
)
def test_read_ids(text: str, expected: list[int], tmp_path: Path) -> None:
    assert read_ids(text, None) == expected
    listed = tmp_path / "ids.txt"
    listed.write_text(text)
    assert read_ids(None, listed) == expected


@pytest.mark.parametrize("text", ["", "12, x3"])
def test_read_ids_refuses_garbage(text: str) -> None:
    with pytest.raises(FetchError, match="--ids"):
        read_ids(text, None)
