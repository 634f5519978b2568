"""The fine Q3C cover of a cone (sql/q3c_cover.py) against Q3C's own pixels in PostgreSQL.

Every source inside a cone must have its ``q3c_ang2ipix`` in one of the cover's ranges, or a
cone search loses it silently. Checked on thousands of points per cone, half of them on the
rim, for random cones of every size and for the places a cube-face projection is awkward:
poles, face edges and corners, ra = 0/360.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import psycopg
import pytest

from sql.q3c_cover import MAX_RADIUS, cone_cover

RNG = np.random.default_rng(16)
AWKWARD = [
    (0.0, 90.0, 1.0),  # north pole
    (123.0, -90.0, 0.5),  # south pole
    (0.0, 89.9, 0.3),
    (45.0, 0.0, 1.0),  # edge between two equatorial faces
    (359.9999, 0.0, 0.1),  # across ra = 0
    (0.0001, -12.0, 0.2),
    (45.0, 35.2644, 0.01),  # a cube corner
    (135.0, 35.26, 2.0),
    (90.0, -45.0, 5.0),
    (180.0, 0.0, MAX_RADIUS),
    (10.0, 20.0, 1e-4),
    (10.0, 20.0, 1e-308),  # 1 / radius overflows: the finest cells
    (10.0, 20.0, 5e-324),
]
RANDOM = [
    (
        float(RNG.uniform(0, 360)),
        float(np.degrees(np.arcsin(RNG.uniform(-1, 1)))),
        float(10 ** RNG.uniform(-4, math.log10(MAX_RADIUS))),
    )
    for _ in range(60)
]


def points_in_cone(ra: float, dec: float, radius: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform inside the cone and n on its rim (a hair inside), in degrees."""
    cos_r = math.cos(math.radians(radius) * (1 - 1e-12))
    z = np.concatenate([RNG.uniform(cos_r, 1, n), np.full(n, cos_r)])
    phi = RNG.uniform(0, 2 * np.pi, 2 * n)
    s = np.sqrt(1 - z**2)
    a, d = math.radians(ra), math.radians(dec)
    toward = np.array([math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)])
    east = np.array([-math.sin(a), math.cos(a), 0.0])
    north = np.cross(toward, east)
    v = (s * np.cos(phi))[:, None] * east + (s * np.sin(phi))[:, None] * north
    v += z[:, None] * toward
    return np.degrees(np.arctan2(v[:, 1], v[:, 0])) % 360, np.degrees(np.arcsin(v[:, 2]))


def pixels(conn: psycopg.Connection, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    rows = conn.execute(
        "SELECT q3c_ang2ipix(a, d) FROM unnest(%s::float8[], %s::float8[]) AS t(a, d)",
        (ra.tolist(), dec.tolist()),
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def covered(cover: tuple[tuple[int, int], ...], ipix: np.ndarray) -> np.ndarray:
    lo = np.array([r[0] for r in cover], dtype=np.int64)
    hi = np.array([r[1] for r in cover], dtype=np.int64)
    k = np.searchsorted(lo, ipix, side="right") - 1
    return (k >= 0) & (ipix < hi[np.maximum(k, 0)])


@pytest.fixture(scope="module")
def conn(module_db_url: str):
    with psycopg.connect(module_db_url) as connection:
        yield connection


@pytest.mark.parametrize(
    "cone", AWKWARD + RANDOM, ids=lambda c: f"{c[0]:.4f},{c[1]:.4f},r{c[2]:.2g}"
)
def test_every_source_in_the_cone_is_in_its_cover(conn, cone) -> None:
    ra, dec, radius = cone
    cover = cone_cover(ra, dec, radius)
    assert all(lo < hi for lo, hi in cover)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(cover))  # sorted, merged
    assert len(cover) <= 40  # a short OR for the planner
    inside = covered(cover, pixels(conn, *points_in_cone(ra, dec, radius, 1500)))
    assert inside.all(), f"{(~inside).sum()} points of the cone outside its cover"


@pytest.mark.parametrize("radius", [0.05, 0.5, 2.0])
def test_the_cover_reads_a_few_times_the_cone_not_q3c_joins_eight(conn, radius: float) -> None:
    """Over a uniform sky, the share of the cover's sources that are in the cone (what a
    cone search keeps of what it reads): q3c_join's four ranges keep ~1/8 at 0.5 deg."""
    kept = []
    for ra, dec, _ in RANDOM[:10]:
        ras, decs = points_in_cone(ra, dec, 3 * radius, 20_000)
        ras, decs = ras[:20_000], decs[:20_000]  # the uniform half, inside 3 radii
        ipix = pixels(conn, ras, decs)
        in_cover = covered(cone_cover(ra, dec, radius), ipix)
        in_cone = conn.execute(
            "SELECT count(*) FROM unnest(%s::float8[], %s::float8[]) AS t(a, d)"
            " WHERE q3c_join(%s, %s, a, d, %s)",
            (ras[in_cover].tolist(), decs[in_cover].tolist(), ra, dec, radius),
        ).fetchone()[0]
        kept.append(in_cone / in_cover.sum())
    assert np.median(kept) > 0.35, kept


@pytest.mark.parametrize(
    "cone", [(10.0, 20.0, 0.0), (10.0, 20.0, -1.0), (10.0, 91.0, 1.0), (10.0, 20.0, 45.0)]
)
def test_cones_without_a_cover_are_refused(cone) -> None:
    with pytest.raises(ValueError):
        cone_cover(*cone)
