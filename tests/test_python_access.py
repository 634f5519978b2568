"""SQLAlchemy Core access to the published schema, on a real database with Q3C and pgSphere.

The tables come from the one description, so they must match the database relation by relation
and column by column; each sky helper must give what brute force (or the hand-written Q3C SQL)
gives, and a cone, polygon or crossmatch must be answered from the Q3C index.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import votable
from astropy.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import InternalError
from tap_support import FIELD_CENTRE, seed_field

from sql import alchemy as xa
from sql.published import render
from sql.settings import Settings

N_SOURCES = 3000
TABLES = xa.published_tables(Settings(_env_file=None))  # type: ignore[call-arg]
CANDIDATES = TABLES.emitter_candidates
C = CANDIDATES.c


@pytest.fixture(scope="module")
def engine(module_db_url: str) -> Iterator[Engine]:
    seed_field(module_db_url, N_SOURCES, xp_rows=50)
    engine = xa.read_only_engine(module_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def everything(engine: Engine) -> pd.DataFrame:
    """Every current candidate's position: the brute-force side of each comparison."""
    with engine.connect() as conn:
        return pd.read_sql(select(C.source_id, C.ra, C.dec), conn)


def separation(frame: pd.DataFrame, ra0: float, dec0: float) -> np.ndarray:
    """Haversine separation in degrees, float64, independent of Q3C."""
    ra, dec = np.radians(frame["ra"].to_numpy()), np.radians(frame["dec"].to_numpy())
    ra0, dec0 = np.radians(ra0), np.radians(dec0)
    h = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec) * np.cos(dec0) * np.sin((ra - ra0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(h)))


def plan_nodes(engine: Engine, statement) -> list[dict]:
    with engine.connect() as conn:
        compiled = statement.compile(dialect=conn.dialect)
        (plan,) = conn.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + compiled.string, compiled.params
        ).scalar()
    found, todo = [], [plan["Plan"]]
    while todo:
        node = todo.pop()
        found.append(node)
        todo += node.get("Plans", [])
    return found


def assert_q3c_index_answers(engine: Engine, statement) -> None:
    nodes = plan_nodes(engine, statement)
    assert any("q3c_ang2ipix" in n.get("Index Name", "") for n in nodes), nodes
    seq = [
        n["Relation Name"]
        for n in nodes
        if n["Node Type"] == "Seq Scan" and n["Relation Name"] == "source_hpx0_00"
    ]  # the partition holding the field
    assert not seq, "the populated partition of gaia.source was read in full"


def test_tables_match_the_description_and_the_database(engine: Engine) -> None:
    described = {f"{s.name}.{t.name}": t for s in render.load_description() for t in s.tables}
    assert {t.fullname for t in TABLES} == set(described)
    with psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(False)) as conn:
        for table in TABLES:
            real = conn.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
                " ORDER BY a.attnum",
                (table.fullname,),
            ).fetchall()
            ours = [
                (c.name, c.type.compile(dialect=postgresql.dialect()).lower())
                for c in table.columns
            ]
            assert ours == real, table.fullname
            for column, declared in zip(
                table.columns, described[table.fullname].columns, strict=True
            ):
                assert column.info["unit"] == declared.unit
                assert column.comment == declared.description


# (ra0, dec0, radius, the index must answer): the field's centre, a cone over the field's edge
# (a third of the field: there the planner rightly reads the small partition whole), a small one
CONES = [
    (FIELD_CENTRE[0], FIELD_CENTRE[1], 0.5, True),
    (FIELD_CENTRE[0] + 1.5, FIELD_CENTRE[1] - 1.0, 1.2, False),
    (FIELD_CENTRE[0] - 0.3, FIELD_CENTRE[1] + 0.2, 0.05, True),
]


@pytest.mark.parametrize(("ra0", "dec0", "radius", "indexed"), CONES)
def test_cone_equals_brute_force_and_uses_the_q3c_index(
    engine: Engine,
    everything: pd.DataFrame,
    ra0: float,
    dec0: float,
    radius: float,
    indexed: bool,
) -> None:
    statement = select(C.source_id).where(xa.cone(C.ra, C.dec, ra0, dec0, radius))
    with engine.connect() as conn:
        found = set(conn.execute(statement).scalars())
    truth = set(everything["source_id"][separation(everything, ra0, dec0) <= radius])
    assert truth and found == truth
    sql = str(statement.compile(dialect=postgresql.dialect()))
    assert "q3c_join(%(param_1)s, %(param_2)s, xpha.emitter_candidates.ra" in sql  # constants first
    if indexed:
        assert_q3c_index_answers(engine, statement)


def test_polygon_equals_q3c_and_pgsphere(engine: Engine) -> None:
    ra0, dec0 = FIELD_CENTRE
    vertices = [(ra0 - 1, dec0 - 0.8), (ra0 + 1.2, dec0 - 0.5), (ra0 + 0.2, dec0 + 1.1)]
    statement = select(C.source_id).where(xa.polygon(C.ra, C.dec, vertices))
    by_sphere = select(C.source_id).where(xa.contains(xa.spoly(vertices), xa.spoint(C.ra, C.dec)))
    flat = ", ".join(str(x) for v in vertices for x in v)
    with engine.connect() as conn:
        found = set(conn.execute(statement).scalars())
        sphere = set(conn.execute(by_sphere).scalars())
        raw = set(
            conn.exec_driver_sql(
                "SELECT source_id FROM xpha.emitter_candidates"
                f" WHERE q3c_poly_query(ra, dec, ARRAY[{flat}])"
            ).scalars()
        )
    assert len(found) > 100 and found == raw == sphere
    assert_q3c_index_answers(engine, statement)


def test_crossmatch_of_an_in_memory_list_equals_q3c_join(
    engine: Engine, everything: pd.DataFrame
) -> None:
    rng = np.random.default_rng(3)
    picked = everything.sample(150, random_state=3)
    ra = np.concatenate(
        [picked["ra"] + rng.normal(0, 0.3, 150) / 3600, FIELD_CENTRE[0] + rng.uniform(-1, 1, 100)]
    )
    dec = np.concatenate(
        [picked["dec"] + rng.normal(0, 0.3, 150) / 3600, FIELD_CENTRE[1] + rng.uniform(-1, 1, 100)]
    )
    radius = 2.0 / 3600
    mine = xa.positions(ra, dec, name="mine")
    statement = select(mine.c.id, C.source_id).join_from(
        mine, CANDIDATES, xa.crossmatch(mine.c.ra, mine.c.dec, C.ra, C.dec, radius)
    )
    values = ", ".join(
        f"({i}, {float(a)!r}, {float(d)!r})" for i, (a, d) in enumerate(zip(ra, dec, strict=True))
    )
    with engine.connect() as conn:
        found = set(conn.execute(statement).tuples())
        raw = set(
            conn.exec_driver_sql(
                f"SELECT p.id, c.source_id FROM (VALUES {values}) AS p (id, ra, dec)"
                " JOIN xpha.emitter_candidates AS c ON q3c_join(p.ra, p.dec, c.ra, c.dec,"
                f" {radius!r})"
            ).tuples()
        )
    assert len(found) >= 150 and found == raw
    assert {i for i, _ in found} >= set(range(150))  # every shifted candidate found itself
    assert_q3c_index_answers(engine, statement)


def test_distances_in_degrees(engine: Engine) -> None:
    ra0, dec0 = FIELD_CENTRE
    statement = select(
        C.ra,
        C.dec,
        xa.distance(C.ra, C.dec, ra0, dec0).label("sep"),
        xa.sphere_distance(xa.spoint(C.ra, C.dec), xa.spoint(ra0, dec0)).label("sphere_sep"),
        xa.contains(xa.scircle(ra0, dec0, 0.5), xa.spoint(C.ra, C.dec)).label("inside"),
    ).limit(500)
    with engine.connect() as conn:
        rows = xa.read_frame(conn, statement)
    truth = (
        SkyCoord(rows["ra"], rows["dec"], unit="deg")
        .separation(SkyCoord(ra0, dec0, unit="deg"))
        .deg
    )
    np.testing.assert_allclose(rows["sep"], truth, atol=1e-9)
    np.testing.assert_allclose(rows["sphere_sep"], truth, atol=1e-9)
    assert (rows["inside"] == (truth <= 0.5)).all()
    assert xa.units_of(statement) == {"ra": "deg", "dec": "deg", "sep": "deg", "sphere_sep": "deg"}


ROUND_TRIP = (
    select(
        C.source_id,
        C.ra,
        C.dec,
        C.phot_g_mean_mag,
        C.bp_rp,
        C.probability,
        C.halpha_excess_ew,
        xa.distance(C.ra, C.dec, *FIELD_CENTRE).label("sep"),
    )
    .where(xa.cone(C.ra, C.dec, *FIELD_CENTRE, 0.7))
    .order_by(C.source_id)
)
DESCRIBED_UNITS = {
    c.name: c.unit
    for c in next(
        t for s in render.load_description() for t in s.tables if t.name == "emitter_candidates"
    ).columns
}


def test_pandas_round_trip_keeps_units(engine: Engine) -> None:
    with engine.connect() as conn:
        frame = xa.read_frame(conn, ROUND_TRIP)
        plain = pd.read_sql(ROUND_TRIP, conn)
    pd.testing.assert_frame_equal(frame, plain)
    expected = {n: DESCRIBED_UNITS[n] for n in frame.columns if DESCRIBED_UNITS.get(n)}
    assert frame.attrs["units"] == {**expected, "sep": "deg"}
    assert frame.attrs["units"]["halpha_excess_ew"] == "Angstrom"
    assert frame.attrs["ucds"]["ra"] == "pos.eq.ra;meta.main"
    back = Table.from_pandas(plain, units=xa.units_of(ROUND_TRIP))
    assert back["ra"].unit == u.deg and back["phot_g_mean_mag"].unit == u.mag


@pytest.mark.filterwarnings("ignore:The unit 'Angstrom' has been deprecated")
def test_astropy_round_trip_keeps_units(engine: Engine) -> None:
    with engine.connect() as conn:
        table = xa.read_table(conn, ROUND_TRIP)
    assert len(table) > 50
    assert table["ra"].unit == u.deg and table["sep"].unit == u.deg
    assert table["halpha_excess_ew"].unit == u.AA and table["probability"].unit is None
    assert table["phot_g_mean_mag"].description == "Gaia G-band mean magnitude"
    again = Table.from_pandas(table.to_pandas(), units=xa.units_of(ROUND_TRIP))
    for name in table.colnames:
        assert again[name].unit == table[name].unit, name
        np.testing.assert_array_equal(np.asarray(again[name]), np.asarray(table[name]))
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    buffer.seek(0)
    read_back = votable.parse_single_table(buffer).to_table()
    assert read_back["halpha_excess_ew"].unit == u.AA and read_back["dec"].unit == u.deg
    assert read_back["ra"].meta.get("ucd") == "pos.eq.ra;meta.main"


def test_every_transaction_is_read_only(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(InternalError, match="read-only transaction"):
        conn.execute(TABLES.models.insert().values(model_id=99, kind="x", version="1"))


def test_the_engine_finds_the_database_as_xpha_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sql.settings import clear_cached_settings

    monkeypatch.setenv("XPHA_VAR_DIR", str(tmp_path))  # the embedded cluster's password file

    def engine_url(**environment: str):
        for name in ("XPHA_DATABASE_URL", "XPHA_PG_PORT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        clear_cached_settings()  # the process-wide settings are read once
        return xa.read_only_engine().url

    try:
        url = engine_url(XPHA_DATABASE_URL="postgresql://someone@db.example:6543/xpha")
        assert url.render_as_string() == "postgresql+psycopg://someone@db.example:6543/xpha"
        url = engine_url(XPHA_PG_PORT="54999")  # the embedded cluster of `xpha db start`
        assert (url.drivername, url.host, url.port) == ("postgresql+psycopg", "127.0.0.1", 54999)
    finally:
        monkeypatch.undo()
        clear_cached_settings()
