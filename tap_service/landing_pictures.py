"""The landing page's pictures of the current candidates, drawn from their pre-aggregates.

A sky density map (HEALPix, Galactic Mollweide), a colour-magnitude diagram coloured by
probability and a histogram of the H-alpha excess, each at a probability threshold. They read
only ``stats.candidate_*`` (:mod:`sql.candidate_summary`: counts per cell and probability bin,
built when the data change), never the candidates themselves, and each PNG is cached under the
aggregates' refresh time: a page view costs a one-row read, and a new threshold or a new
current model at most one sum over the aggregates and one drawing.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import psycopg
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter

from sql import candidate_summary as summary

SQRT2 = np.sqrt(2.0)
SKY_PIXELS = (720, 360)  # the map's raster, width x height
MIN_MAP_LEVEL = 2  # 192 cells of 215 deg^2: coarser says nothing
FIGURE_SIZE = (7.2, 4.2)  # inches at 100 dpi: 720 x 420 pixels
DPI = 100
PICTURES = {
    "sky": "HEALPix density of the candidates on the sky",
    "cmd": "colour-magnitude diagram of the candidates, coloured by probability",
    "excess": "histogram of the H-alpha excess equivalent width",
}


class PictureCache:
    """PNG bytes (and small results) per key, the least recently used dropped beyond ``size``."""

    def __init__(self, size: int = 96) -> None:
        self.size = size
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], object]) -> object:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: a slow drawing never blocks a cached one
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def picture(conn: psycopg.Connection, name: str, threshold: float, cache: PictureCache) -> bytes:
    """The PNG of picture ``name`` at probability >= ``threshold`` (snapped to a bin edge)."""
    current = summary.read_summary(conn)
    first_bin, edge = summary.threshold_bin(threshold)
    key = (name, None if current is None else current.refreshed_at, first_bin)
    return cache.get(key, lambda: DRAW[name](conn, current, first_bin, edge))  # type: ignore[return-value]  # keyed: a PNG


def candidates_above(conn: psycopg.Connection, threshold: float, cache: PictureCache) -> int:
    """How many current candidates have probability >= the snapped threshold."""
    current = summary.read_summary(conn)
    first_bin, _ = summary.threshold_bin(threshold)
    key = ("count", None if current is None else current.refreshed_at, first_bin)
    return cache.get(key, lambda: int(summary.read_sky(conn, first_bin)[1].sum()))  # type: ignore[return-value]  # keyed: an int


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _figure(**subplot: Any) -> tuple[Figure, Axes]:
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    return figure, figure.add_subplot(**subplot)


def _nothing(axes, text: str) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, fontsize=12)


# --- sky ------------------------------------------------------------------------------------
def _mollweide_inverse(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(longitude, latitude) in degrees of each raster pixel, and which lie on the sphere."""
    x = np.linspace(-2 * SQRT2, 2 * SQRT2, width)
    y = np.linspace(SQRT2, -SQRT2, height)
    xx, yy = np.meshgrid(x, y)
    theta = np.arcsin(np.clip(yy / SQRT2, -1, 1))
    lat = np.arcsin(np.clip((2 * theta + np.sin(2 * theta)) / np.pi, -1, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        lon = np.pi * xx / (2 * SQRT2 * np.cos(theta))
    inside = np.abs(lon) <= np.pi
    return np.degrees(np.where(inside, lon, 0.0)), np.degrees(lat), inside


def _mollweide(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projected (x, y) of (lon, lat) in degrees; lon = 0 in the middle, growing to the left."""
    lam, phi = np.radians(-np.asarray(lon, float)), np.radians(np.asarray(lat, float))
    theta = phi.copy()
    with np.errstate(divide="ignore", invalid="ignore"):  # at the poles theta is already right
        for _ in range(30):  # 2 theta + sin 2 theta = pi sin phi, by Newton
            step = (2 * theta + np.sin(2 * theta) - np.pi * np.sin(phi)) / (
                2 + 2 * np.cos(2 * theta)
            )
            theta = np.where(np.isfinite(step), theta - step, theta)
    return 2 * SQRT2 / np.pi * lam * np.cos(theta), SQRT2 * np.sin(theta)


@lru_cache(maxsize=1)
def _finest_cells_of_pixels() -> np.ndarray:
    """The ICRS HEALPix cell (nested, the stored level) under each pixel of the Galactic map;
    -1 off the sphere. Computed once per process (a coordinate transform of every pixel)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy_healpix import HEALPix

    l_deg, b_deg, inside = _mollweide_inverse(*SKY_PIXELS)
    l_deg = -l_deg % 360.0  # Galactic longitude grows to the left
    icrs = SkyCoord(l=l_deg[inside] * u.deg, b=b_deg[inside] * u.deg, frame="galactic").icrs
    cells = np.full(inside.shape, -1, dtype=np.int64)
    cells[inside] = HEALPix(nside=2**summary.SKY_LEVEL, order="nested").lonlat_to_healpix(
        icrs.ra, icrs.dec
    )
    return cells


def _cells_of_pixels(level: int) -> np.ndarray:
    """The cells at a coarser ``level``: nested cells share their parent's leading bits."""
    finest = _finest_cells_of_pixels()
    return np.where(finest >= 0, finest >> (2 * (summary.SKY_LEVEL - level)), -1)


def map_level(cells: np.ndarray, counts: np.ndarray) -> int:
    """The finest level (<= the stored one, >= 2) at which an occupied cell holds 3 or more on
    the median: sparse candidates get bigger cells instead of a scatter of single pixels."""
    for level in range(summary.SKY_LEVEL, MIN_MAP_LEVEL, -1):
        coarse = cells >> (2 * (summary.SKY_LEVEL - level))
        per_cell = np.bincount(np.unique(coarse, return_inverse=True)[1], weights=counts)
        if np.median(per_cell) >= 3:
            return level
    return MIN_MAP_LEVEL


def _draw_sky(conn, current, first_bin: int, edge: float) -> bytes:
    figure, axes = _figure()
    cells, counts = summary.read_sky(conn, first_bin)
    if counts.sum() == 0:
        _nothing(axes, f"no candidates with probability >= {edge:g}")
        return _png(figure)
    level = map_level(cells, counts)
    per_cell = np.bincount(
        cells >> (2 * (summary.SKY_LEVEL - level)), weights=counts, minlength=12 * 4**level
    )
    density = per_cell / (41_252.96 / (12 * 4**level))  # per square degree
    pixels = _cells_of_pixels(level)
    image = np.where(pixels >= 0, density[np.maximum(pixels, 0)], np.nan)
    image = np.ma.masked_where(~(image > 0), image)
    axes.set_facecolor("white")
    axes.imshow(
        np.where(pixels >= 0, 0.0, np.nan),
        extent=(-2 * SQRT2, 2 * SQRT2, -SQRT2, SQRT2),
        cmap="Greys",
        vmin=0,
        vmax=10,
        interpolation="nearest",
    )
    low, high = image.min(), image.max()
    norm = LogNorm(low, high) if high > 10 * low else Normalize(0, high)  # log for a wide range
    shown = axes.imshow(
        image,
        extent=(-2 * SQRT2, 2 * SQRT2, -SQRT2, SQRT2),
        cmap="viridis",
        norm=norm,
        interpolation="nearest",
    )
    _graticule(axes)
    axes.set_axis_off()
    axes.set_aspect("equal")
    bar = figure.colorbar(
        shown,
        ax=axes,
        orientation="horizontal",
        fraction=0.05,
        shrink=0.6,
        label=f"candidates per deg² (HEALPix level {level})",
    )
    if isinstance(norm, LogNorm):  # labels at 1, 2 and 5 of each decade, none in between
        bar.ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        bar.ax.xaxis.set_minor_formatter(NullFormatter())
    axes.set_title(
        f"{int(counts.sum()):,} candidates with probability ≥ {edge:g}"
        f" (Galactic, l = 0 in the middle)",
        fontsize=10,
    )
    return _png(figure)


def _graticule(axes: Axes) -> None:
    style: dict[str, Any] = {"color": "0.55", "linewidth": 0.5}
    lat = np.linspace(-90, 90, 181)
    for lon in range(-180, 181, 60):
        axes.plot(*_mollweide(np.full_like(lat, lon), lat), **style)
    lons = np.linspace(-180, 180, 361)
    for lat_line in range(-60, 61, 30):
        axes.plot(*_mollweide(lons, np.full_like(lons, lat_line)), **style)
    for lon in range(-120, 121, 60):
        x, y = _mollweide(np.array([lon]), np.array([0.0]))
        axes.text(x[0], y[0], f"{lon % 360}°", fontsize=7, color="0.3", ha="center", va="top")


# --- colour-magnitude diagram ---------------------------------------------------------------
def _draw_cmd(conn, current, first_bin: int, edge: float) -> bytes:
    figure, axes = _figure()
    grids = summary.read_cmd(conn, first_bin)
    if grids["all"].sum() == 0:
        _nothing(axes, "no candidates with a colour and magnitude yet")
        return _png(figure)
    colour, mag = summary.BP_RP.edges, summary.G_MAG.edges
    extent = (colour[0], colour[-1], mag[0], mag[-1])  # regular bins: an image, not a mesh
    everything = np.ma.masked_equal(grids["all"].T, 0)
    axes.imshow(
        everything,
        extent=extent,
        origin="lower",
        aspect="auto",
        cmap="Greys",
        norm=LogNorm(vmin=1, vmax=max(2, everything.max())),
        interpolation="nearest",
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.ma.masked_invalid(grids["probability_sum"].T / grids["above"].T)
    if mean.count():
        shown = axes.imshow(
            mean,
            extent=extent,
            origin="lower",
            aspect="auto",
            cmap="plasma",
            vmin=edge,
            vmax=1.0,
            interpolation="nearest",
        )
        figure.colorbar(shown, ax=axes, label=f"mean probability of those ≥ {edge:g}")
    used_c, used_g = np.nonzero(grids["all"])
    axes.set_xlim(colour[used_c.min()] - 0.1, colour[used_c.max() + 1] + 0.1)
    axes.set_ylim(mag[used_g.max() + 1] + 0.2, mag[used_g.min()] - 0.2)  # bright at the top
    axes.set_xlabel("BP − RP [mag]")
    axes.set_ylabel("G [mag]")
    axes.set_title(
        f"grey: all {int(grids['all'].sum()):,} scored sources; colour: the"
        f" {int(grids['above'].sum()):,} with probability ≥ {edge:g}",
        fontsize=10,
    )
    return _png(figure)


# --- H-alpha excess -------------------------------------------------------------------------
def _draw_excess(conn, current, first_bin: int, edge: float) -> bytes:
    figure, axes = _figure()
    histogram = summary.read_excess(conn, first_bin)
    everything, above = np.asarray(histogram["all"]), np.asarray(histogram["above"])
    unmeasured = int(histogram["unmeasured"])
    if everything.sum() == 0:
        _nothing(
            axes,
            "no H-alpha excess was measured for the current model"
            if unmeasured
            else "no candidates yet",
        )
        return _png(figure)
    edges = summary.EXCESS.edges
    axes.stairs(everything[1:-1], edges, color="0.45", label="all scored sources")
    axes.stairs(
        above[1:-1], edges, fill=True, color="tab:red", alpha=0.7, label=f"probability ≥ {edge:g}"
    )
    axes.set_yscale("log")
    axes.set_xlabel("H-alpha excess equivalent width [Å] (emission positive)")
    axes.set_ylabel("sources per 1 Å")
    axes.legend(loc="upper right", fontsize=8)
    outside = (
        f"outside the axis: {int(everything[0]):,} below {edges[0]:g} Å,"
        f" {int(everything[-1]):,} above {edges[-1]:g} Å;"
        f" {unmeasured:,} without a measured excess"
    )
    axes.set_title(outside, fontsize=9)
    return _png(figure)


DRAW: dict[str, Callable[..., bytes]] = {"sky": _draw_sky, "cmd": _draw_cmd, "excess": _draw_excess}
