"""Q3C pixel ranges that cover a cone: the index ranges a constant-circle query reads.

``q3c_join(ra0, dec0, ra, dec, r)`` reads four ranges at one depth: at 50M sources a 0.5 deg
cone scans ~8x the rows it returns. ``q3c_radial_query`` reads a finer cover, but it names 100
bounds (most of them empty), which PostgreSQL plans per partition in ~5 ms. This module computes
a fine cover in Python instead, so the SQL names only the ranges that matter (a few, as
constants, pruned to their partitions when planned); ~0.3 ms per cone, cached.

Q3C's pixel of a direction (``q3cube.c``, ``q3c_ang2ipix``): the direction is projected
gnomonically onto one of six cube faces (0 north, 1-4 equatorial centred on ra 0, 90, 180, 270,
5 south) at (x, y) in [-1, 1]; ``ipix = face * nside^2 + interleave(xi, yi)`` with
``xi = floor((x + 1) / 2 * nside)``, ``nside = 2^30`` and x's bits in the even positions. A cell
of depth L (side 2^(30-L) pixels) is therefore one contiguous range of ipix.

The cover is conservative geometry on the sphere: a cell is kept whole when it lies inside the
cone, dropped when it lies outside, and split while it straddles the cone's edge, until cells
are a quarter of the radius or the cover would list ``MAX_CELLS`` cells (which comes first at
every radius: ~7 merged ranges, at most ~25, holding ~2x the cone's sources against
q3c_join's ~8x). The radius is padded by ``PAD`` so rounding in Q3C's own arithmetic cannot
put a point of the cone in a cell left out. tests/test_q3c_cover.py checks the cover point by
point against ``q3c_ang2ipix`` in PostgreSQL.
"""

from __future__ import annotations

import math
from functools import lru_cache

NSIDE_BITS = 30
FACE_PIXELS = 1 << (2 * NSIDE_BITS)
PAD = 1e-9  # radians added to the radius (0.2 mas): far above double rounding
MAX_RADIUS = 30.0  # degrees; wider cones read most of a face anyway: q3c_join serves them
MAX_CELLS = 96  # stop refining when the cover would list more cells than this
HALF_DIAGONAL = math.sqrt(0.5)
FACE_REACH = math.acos(1 / math.sqrt(3))  # every point of a face is this near its centre
REFINE = 4.0  # split edge cells until their side is below radius / REFINE

Vector = tuple[float, float, float]


def _unit(ra: float, dec: float) -> Vector:
    a, d = math.radians(ra), math.radians(dec)
    return (math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d))


def _face_frame(face: int) -> tuple[Vector, Vector, Vector]:
    """(o, u, w): the face centre and the directions of +x and +y, so that the point (x, y)
    of the face is the direction of o + x u + y w (orthonormal, as in q3c_ang2ipix_xy)."""
    if face == 0:
        return (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)
    if face == 5:
        return (0.0, 0.0, -1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)
    lon = math.radians(90.0 * (face - 1))
    c, s = math.cos(lon), math.sin(lon)
    return (c, s, 0.0), (-s, c, 0.0), (0.0, 0.0, 1.0)


FRAMES = tuple(_face_frame(f) for f in range(6))


def _dot(a: Vector, b: Vector) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _angle(a: Vector, b: Vector) -> float:
    """Angle between unit vectors (from the chord: accurate at small angles)."""
    dx, dy, dz = a[0] - b[0], a[1] - b[1], a[2] - b[2]
    return 2.0 * math.asin(min(1.0, 0.5 * math.sqrt(dx * dx + dy * dy + dz * dz)))


def _interleave(i: int, j: int) -> int:
    """Morton code: bits of i in the even positions, of j in the odd ones."""
    out = 0
    bit = 0
    while i or j:
        out |= (i & 1) << (2 * bit) | (j & 1) << (2 * bit + 1)
        i >>= 1
        j >>= 1
        bit += 1
    return out


def _cells(face: int, centre: Vector, radius: float, finest: int) -> list[tuple[int, int, int]]:
    """(depth, i, j) of the cells of ``face`` that may meet the cone, refined to ``finest``.

    Every point of a cell of side s (in face units) lies within its reach, s / sqrt(2) times
    1 / sqrt(1 + d^2), of its middle on the sphere: the gnomonic projection maps great circles
    to straight lines and shrinks lengths by at least that factor at a distance d from the
    face's centre, and d is smallest at the cell's point nearest that centre. So a cell misses
    the cone if its middle is farther than radius + reach from the cone's centre, and lies
    inside it if its middle is nearer than radius - reach.
    """
    (ox, oy, oz), (ux, uy, uz), (wx, wy, wz) = FRAMES[face]
    cx, cy, cz = centre
    partial = [(0, 0, 0)]
    out: list[tuple[int, int, int]] = []
    while partial:  # the middle's direction and angle written out: most of a cover's time
        refined: list[tuple[int, int, int]] = []
        for depth, i, j in partial:
            size = 2.0 / (1 << depth)
            x0, y0 = -1.0 + i * size, -1.0 + j * size
            x1, y1 = x0 + size, y0 + size  # the cell's coordinate nearest 0, on each axis:
            nearest_x = 0.0 if x0 < 0 < x1 else (x0 if x0 >= 0 else -x1)
            nearest_y = 0.0 if y0 < 0 < y1 else (y0 if y0 >= 0 else -y1)
            reach = size * HALF_DIAGONAL / math.sqrt(1.0 + nearest_x**2 + nearest_y**2)
            x, y = x0 + 0.5 * size, y0 + 0.5 * size
            norm = math.sqrt(1.0 + x * x + y * y)
            dx = cx - (ox + x * ux + y * wx) / norm
            dy = cy - (oy + x * uy + y * wy) / norm
            dz = cz - (oz + x * uz + y * wz) / norm
            distance = 2.0 * math.asin(min(1.0, 0.5 * math.sqrt(dx * dx + dy * dy + dz * dz)))
            if distance > radius + reach:
                continue
            if (
                distance + reach <= radius
                or depth >= finest
                or len(out) + 4 * len(partial) > MAX_CELLS
            ):
                out.append((depth, i, j))
                continue
            refined += [(depth + 1, 2 * i + di, 2 * j + dj) for di in (0, 1) for dj in (0, 1)]
        partial = refined
    return out


@lru_cache(maxsize=4096)
def cone_cover(ra: float, dec: float, radius: float) -> tuple[tuple[int, int], ...]:
    """Half-open Q3C ipix ranges [lo, hi), sorted and merged, that hold every source within
    ``radius`` degrees of (``ra``, ``dec``) (and some just outside it: the caller still
    filters on the distance)."""
    if not 0 < radius <= MAX_RADIUS or not -90 <= dec <= 90 or not math.isfinite(ra):
        raise ValueError(f"no cover for a cone of radius {radius} at ({ra}, {dec})")
    centre = _unit(ra, dec)
    radians = math.radians(radius)  # 0.0 for 5e-324: no division by it
    padded = radians + PAD
    finest = (
        NSIDE_BITS
        if radians * 2.0**NSIDE_BITS < 2.0 * REFINE
        else max(0, math.ceil(math.log2(2.0 * REFINE / radians)))
    )
    ranges: list[tuple[int, int]] = []
    for face in range(6):
        if _angle(centre, FRAMES[face][0]) > padded + FACE_REACH:
            continue  # no point of the cone is on this face
        for depth, i, j in _cells(face, centre, padded, finest):
            span = 1 << (2 * (NSIDE_BITS - depth))
            lo = face * FACE_PIXELS + _interleave(i, j) * span
            ranges.append((lo, lo + span))
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def distance_limit(radius: float) -> float:
    """What ``q3c_sindist`` is compared with for a cone of ``radius`` degrees:
    ``POW(SIN(RADIANS(radius) / 2), 2)``, as q3c_join computes it."""
    return math.sin(math.radians(radius) / 2) ** 2


def cone_predicate(ra_sql: str, dec_sql: str, ra: float, dec: float, radius: float) -> str:
    """The SQL condition of a cone around the columns ``ra_sql``, ``dec_sql`` (SQL text the
    caller generated): its cover's pixel ranges, then Q3C's own distance test. Every number
    in it is one computed here, never text from a client. ValueError for a cone the cover does
    not serve (the caller then keeps ``q3c_join``)."""
    pixel = f"q3c_ang2ipix({ra_sql}, {dec_sql})"
    inside = " OR ".join(
        f"{pixel} BETWEEN {lo} AND {hi - 1}" for lo, hi in cone_cover(ra, dec, radius)
    )
    centre = f"{float(ra)!r}, {float(dec)!r}"
    near = f"q3c_sindist({ra_sql}, {dec_sql}, {centre}) < {distance_limit(radius)!r}"
    return f"(({inside}) AND {near})"
