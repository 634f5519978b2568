"""What the README says of scored sources without a gaia_source row holds here: the README's own
query on this service finds them in xpha.emitter_scores, they are not in
xpha.emitter_candidates, and a join to xpha.gaia_source leaves their position NULL. The Gaia
archive half of the README's snippet is only parsed: no test contacts the internet."""

from __future__ import annotations

import ast

import psycopg
import pytest
from readme_support import readme_block

from sql import serving
from sql.settings import Settings
from tap_service.adql import translate
from tap_service.catalog import load_catalog

PLACED, UNPLACED, UNLIKELY = (1 << 45) + 1, (1 << 45) + 2, (1 << 45) + 3
SECTION = "Published tables (schema `xpha`)"


def _readme_query() -> str:
    tree = ast.parse(readme_block(SECTION))
    return next(
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", None) == "unplaced_query" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    )


def test_the_readme_snippet_sends_the_ids_to_the_gaia_archive_as_an_upload() -> None:
    block = readme_block(SECTION)
    assert 'TAPService("https://gea.esac.esa.int/tap-server/tap")' in block
    assert "FROM gaiadr3.gaia_source AS g JOIN tap_upload.mine" in block
    assert 'uploads={"mine": unplaced[["source_id"]]}' in block


@pytest.fixture
def sky(db_url: str) -> str:
    """Two likely emitters, one with a gaia_source row, one without, and an unlikely one; a
    second, older model scores the unplaced ones too."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO gaia.source (source_id, ra, dec, phot_g_mean_mag, bp_rp)"
            " VALUES (%s, 10.0, 20.0, 15.0, 1.2)",
            (PLACED,),
        )
        conn.execute(
            "INSERT INTO gaia.xp_continuous (source_id) SELECT unnest(%s::bigint[])",
            ([PLACED, UNPLACED, UNLIKELY],),
        )
        current, old = (
            conn.execute(
                "INSERT INTO ml.models (kind, version, is_current) VALUES (%s, '1', %s)"
                " RETURNING model_id",
                (kind, kind == "xgboost"),
            ).fetchone()[0]
            for kind in ("xgboost", "logreg")
        )
        conn.execute(
            "INSERT INTO ml.emitter_scores (model_id, source_id, score, probability) VALUES"
            " (%(c)s, %(p)s, 3, 0.9), (%(c)s, %(u)s, 2, 0.8), (%(c)s, %(x)s, -2, 0.1),"
            " (%(o)s, %(u)s, 1, 0.7), (%(o)s, %(x)s, 1, 0.7)",
            {"c": current, "o": old, "p": PLACED, "u": UNPLACED, "x": UNLIKELY},
        )
    serving.publish(db_url)
    return db_url


def _run(url: str, settings: Settings, adql: str) -> list[tuple]:
    """One ADQL query as the TAP service runs it: translated, then as the TAP role."""
    with psycopg.connect(url, autocommit=True) as conn:
        sql = translate(adql, load_catalog(conn, settings.published_schema)).sql
        with conn.transaction(force_rollback=True):
            conn.execute(f"SET LOCAL ROLE {settings.tap_role}")
            return conn.execute(sql.encode("utf-8"), prepare=False).fetchall()


def test_scores_without_a_position_are_found_as_the_readme_says(
    sky: str, test_settings: Settings
) -> None:
    rows = _run(sky, test_settings, _readme_query())
    assert [(s, pytest.approx(p)) for s, p in rows] == [(UNPLACED, 0.8)]
    candidates = _run(sky, test_settings, "SELECT source_id FROM xpha.emitter_candidates")
    assert candidates == [(PLACED,)]  # only sources with a gaia_source row
    nulls = _run(
        sky,
        test_settings,
        "SELECT s.ra, s.dec, s.phot_g_mean_mag, s.bp_rp FROM xpha.emitter_scores AS e"
        " LEFT OUTER JOIN xpha.gaia_source AS s ON s.source_id = e.source_id"
        f" WHERE e.source_id = {UNPLACED}",
    )
    assert nulls == [(None, None, None, None)] * 2  # scored by both models, placed by neither
    spectra = f"SELECT source_id FROM xpha.xp_continuous WHERE source_id = {UNPLACED}"
    assert _run(sky, test_settings, spectra) == [(UNPLACED,)]
