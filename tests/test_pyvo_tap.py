"""pyvo, as astronomers use it, against a live server: sync, metadata, examples, uploads."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import pyvo
from astropy.table import Table
from tap_support import live_server, seed_field, tap_settings

N_SOURCES = 800


@pytest.fixture(scope="module")
def seeded(module_db_url: str) -> dict:
    return seed_field(module_db_url, N_SOURCES)


@pytest.fixture(scope="module")
def service(module_db_url: str, seeded: dict) -> Iterator[pyvo.dal.TAPService]:
    with live_server(
        tap_settings(module_db_url, tap_maxrec_default=500, tap_hard_limit=700)
    ) as root:
        yield pyvo.dal.TAPService(f"{root}/tap")


def test_run_sync_with_metadata(service: pyvo.dal.TAPService, seeded: dict) -> None:
    result = service.run_sync(
        "SELECT TOP 10 source_id, ra, dec, score FROM xpha.emitter_candidates ORDER BY score DESC"
    )
    table = result.to_table()
    assert len(table) == 10
    assert list(table["source_id"]) == [
        int(s) for s in seeded["source_id"][np.argsort(-seeded["score"])][:10]
    ]
    assert str(table["ra"].unit) == "deg"
    ucds = {f.name: f.ucd for f in result.fielddescs}
    assert ucds["ra"] == "pos.eq.ra;meta.main" and ucds["source_id"] == "meta.id;meta.main"


def test_limits_from_capabilities(service: pyvo.dal.TAPService) -> None:
    assert service.maxrec == 500
    assert service.hardlimit == 700
    assert {"ADQL"} <= {lang.name for lang in service.get_tap_capability().languages}


@pytest.mark.parametrize(
    ("maxrec", "rows", "message"),
    [
        (None, 500, "truncated due to server limits"),  # the service's default MAXREC cut it
        (5000, 700, "truncated at 700 records by service limits"),  # the hard limit cut it
    ],
)
def test_overflow_warning(
    service: pyvo.dal.TAPService, maxrec: int | None, rows: int, message: str
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = service.run_sync("SELECT source_id FROM xpha.gaia_source", maxrec=maxrec)
    assert len(result) == rows
    overflow = [
        str(w.message) for w in caught if issubclass(w.category, pyvo.dal.DALOverflowWarning)
    ]
    assert overflow and message in overflow[0]


def test_no_overflow_warning_when_nothing_was_cut(service: pyvo.dal.TAPService) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", pyvo.dal.DALOverflowWarning)
        result = service.run_sync("SELECT model_id FROM xpha.models", maxrec=2)
    assert len(result) == 2


def test_bad_query_raises_with_our_message(service: pyvo.dal.TAPService) -> None:
    with pytest.raises(pyvo.dal.DALQueryError, match="unknown column 'magnitude'"):
        service.run_sync("SELECT magnitude FROM xpha.emitter_candidates")
    with pytest.raises(pyvo.dal.DALQueryError, match="not published"):
        service.run_sync("SELECT * FROM pg_catalog.pg_user")


def test_tables(service: pyvo.dal.TAPService) -> None:
    tables = service.tables
    names = set(tables.keys())
    assert {
        "xpha.emitter_candidates",
        "xpha.gaia_source",
        "xpha.xp_continuous",
        "xpha.models",
        "xpha.latents",
        "xpha.emitter_scores",
        "tap_schema.columns",
    } <= names
    xp = tables["xpha.xp_continuous"]
    column = next(c for c in xp.columns if c.name == "bp_coefficients")
    assert column.datatype.arraysize == "55"
    assert column.ucd == "spect.continuum;arith.coeff"


def test_examples(service: pyvo.dal.TAPService) -> None:
    examples = service.examples
    assert len(examples) >= 5
    cone = next(e for e in examples if "cone" in e["QUERY"].lower() or "CIRCLE" in e["QUERY"])
    assert len(cone.execute()) > 0


def test_line_excess_cut_skips_unmeasured_sources(
    service: pyvo.dal.TAPService, seeded: dict
) -> None:
    """NULL (not measured) never passes a cut on the H-alpha excess, and the columns come
    with their unit and UCD."""
    result = service.run_sync(
        "SELECT source_id, halpha_excess_ew, halpha_excess_snr FROM xpha.emitter_candidates"
        " WHERE halpha_excess_ew > 6 AND halpha_excess_snr > 2",
        maxrec=100_000,
    )
    ew, snr = seeded["halpha_excess_ew"], seeded["halpha_excess_snr"]
    with np.errstate(invalid="ignore"):
        expected = seeded["source_id"][(ew > 6) & (snr > 2)]
    assert 0 < len(expected) < np.isfinite(ew).sum()
    assert sorted(int(s) for s in result.to_table()["source_id"]) == sorted(map(int, expected))
    field = result.fieldname_with_ucd("spect.line.eqWidth;em.line.Halpha")
    assert field == "halpha_excess_ew"
    assert str(result.to_table()["halpha_excess_ew"].unit) == "Angstrom"


def test_upload_join(service: pyvo.dal.TAPService, seeded: dict) -> None:
    picks = [1, 2, 3, 400]
    mine = Table(
        {
            "my_id": np.arange(len(picks), dtype=np.int32),
            "ra": seeded["ra"][picks],
            "dec": seeded["dec"][picks],
        }
    )
    result = service.run_sync(
        "SELECT m.my_id, c.source_id, DISTANCE(POINT('ICRS', m.ra, m.dec),"
        " POINT('ICRS', c.ra, c.dec)) AS dist"
        " FROM TAP_UPLOAD.mine AS m JOIN xpha.emitter_candidates AS c"
        " ON 1 = CONTAINS(POINT('ICRS', c.ra, c.dec), CIRCLE('ICRS', m.ra, m.dec, 1.0/3600))",
        uploads={"mine": mine},
    ).to_table()
    assert sorted(result["source_id"]) == sorted(int(seeded["source_id"][i]) for i in picks)
    assert np.all(np.asarray(result["dist"]) < 1e-6)
