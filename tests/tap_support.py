"""Shared TAP test helpers: a live uvicorn server on a real database, and a seeded sky field.

``live_server(settings)`` runs the real application (lifespan included) in a thread on a free
port. ``seed_field(url, n)`` fills the base tables with a deterministic field of ``n`` Gaia
sources around the Pleiades (real HEALPix-encoded source_ids, XP arrays of the real shapes),
two models (one current) with scores, the serving table of the current one, and latent vectors,
then counts the published sizes.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
import uvicorn

from sql import serving
from sql.cluster import free_port
from sql.published_statistics import refresh_published_statistics
from tap_service.settings import TapSettings
from xpha.settings import XphaSettings

FIELD_CENTRE = (56.75, 24.12)  # deg: the Pleiades
FIELD_RADIUS = 2.0  # deg
LATENT_DIM = 8


def tap_settings(db_url: str, **overrides: object) -> XphaSettings:
    """Settings for a test server over ``db_url`` (defaults otherwise, no environment).

    ``var_dir`` (async results, models) is a fresh temporary directory unless given: tests
    never write into the repository's ``var/``.
    """
    values: dict[str, object] = {
        "database_url": db_url,
        "tap_catalog_ttl_s": 0.0,
        "var_dir": Path(tempfile.mkdtemp(prefix="xpha-test-var-")),
    }
    values.update(overrides)
    return XphaSettings(**values)  # type: ignore[arg-type]


@contextmanager
def live_server(settings: TapSettings) -> Iterator[str]:
    """The application served on 127.0.0.1 in a thread; yields its root URL."""
    from tap_service.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test TAP server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def source_ids(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Gaia-style source_ids: the level-12 nested HEALPix index times 2^35, plus a serial."""
    from astropy import units as u
    from astropy_healpix import HEALPix

    pixels = HEALPix(nside=4096, order="nested").lonlat_to_healpix(ra * u.deg, dec * u.deg)
    return pixels.astype(np.int64) * (1 << 35) + np.arange(len(ra), dtype=np.int64)


def field(
    n: int, seed: int = 7, centre: tuple[float, float] = FIELD_CENTRE, radius: float = FIELD_RADIUS
) -> dict[str, np.ndarray]:
    """``n`` positions uniform on the sphere within ``radius`` of ``centre``, with photometry."""
    rng = np.random.default_rng(seed)
    ra0, dec0 = np.radians(centre)
    cos_r = np.cos(np.radians(radius))
    z = rng.uniform(cos_r, 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - z * z)
    local = np.stack([z, s * np.cos(phi), s * np.sin(phi)])  # around +x
    # rotate +x to (ra0, dec0): about y by -dec0, then about z by ra0
    x1 = local[0] * np.cos(dec0) - local[2] * np.sin(dec0)
    z1 = local[0] * np.sin(dec0) + local[2] * np.cos(dec0)
    y1 = local[1]
    x2 = x1 * np.cos(ra0) - y1 * np.sin(ra0)
    y2 = x1 * np.sin(ra0) + y1 * np.cos(ra0)
    ra = np.degrees(np.arctan2(y2, x2)) % 360.0
    dec = np.degrees(np.arcsin(np.clip(z1, -1, 1)))
    return {
        "source_id": source_ids(ra, dec),
        "ra": ra,
        "dec": dec,
        "g": rng.uniform(9.0, 17.5, n).astype(np.float32),
        "bp_rp": rng.uniform(-0.2, 3.0, n).astype(np.float32),
        "score": rng.normal(0.0, 1.0, n).astype(np.float32),
        "probability": rng.uniform(0.0, 1.0, n).astype(np.float32),
        # the current model's H-alpha excess; NaN (stored as NULL) where it was not measured
        "halpha_excess_ew": np.where(np.arange(n) % 7 == 5, np.nan, rng.exponential(4.0, n)).astype(
            np.float32
        ),
        "halpha_excess_snr": np.where(
            np.arange(n) % 7 == 5, np.nan, rng.normal(2.0, 3.0, n)
        ).astype(np.float32),
    }


def seed_field(url: str, n: int = 2000, *, xp_rows: int | None = 200, seed: int = 7) -> dict:
    """Fill gaia.source, gaia.xp_continuous, ml.models, ml.emitter_scores and ml.latents."""
    data = field(n, seed)
    rng = np.random.default_rng(seed + 1)
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY gaia.source (source_id, ra, dec, phot_g_mean_mag, bp_rp, parallax,"
            " has_xp_continuous) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row(
                    (
                        int(data["source_id"][i]),
                        float(data["ra"][i]),
                        float(data["dec"][i]),
                        float(data["g"][i]),
                        float(data["bp_rp"][i]),
                        None if i % 10 == 0 else 1.5,
                        True,
                    )
                )
        xp = n if xp_rows is None else min(xp_rows, n)
        with conn.cursor().copy(
            "COPY gaia.xp_continuous (source_id, bp_n_parameters, bp_coefficients,"
            " bp_coefficient_errors, bp_coefficient_correlations, rp_n_parameters,"
            " rp_coefficients, rp_coefficient_errors, rp_coefficient_correlations) FROM STDIN"
        ) as copy:
            for i in range(xp):
                bp_missing = i % 17 == 3  # some sources lack BP: NULL arrays, never zeros
                bp = None if bp_missing else rng.normal(0, 100, 55).tolist()
                copy.write_row(
                    (
                        int(data["source_id"][i]),
                        None if bp_missing else 55,
                        bp,
                        None if bp_missing else rng.uniform(0.1, 2, 55).astype(np.float32).tolist(),
                        None
                        if bp_missing
                        else rng.uniform(-0.5, 0.5, 1485).astype(np.float32).tolist(),
                        55,
                        rng.normal(0, 100, 55).tolist(),
                        rng.uniform(0.1, 2, 55).astype(np.float32).tolist(),
                        rng.uniform(-0.5, 0.5, 1485).astype(np.float32).tolist(),
                    )
                )
        model_ids = []
        for kind, version, is_current, latent_dim in (
            ("xgboost", "1.0.0", True, None),
            ("dae_head", "0.1.0", False, LATENT_DIM),
        ):
            model_ids.append(
                conn.execute(
                    "INSERT INTO ml.models (kind, version, is_current, latent_dim, metrics)"
                    " VALUES (%s, %s, %s, %s, %s) RETURNING model_id",
                    (kind, version, is_current, latent_dim, '{"auc": 0.9}'),
                ).fetchone()[0]
            )  # type: ignore[index]
        current, dae = model_ids
        with conn.cursor().copy(
            "COPY ml.emitter_scores (model_id, source_id, score, probability, halpha_excess_ew,"
            " halpha_excess_snr) FROM STDIN"
        ) as copy:
            for i in range(n):
                sid = int(data["source_id"][i])
                ew, snr = (float(data[k][i]) for k in ("halpha_excess_ew", "halpha_excess_snr"))
                copy.write_row(
                    (
                        current,
                        sid,
                        float(data["score"][i]),
                        float(data["probability"][i]),
                        None if np.isnan(ew) else ew,
                        None if np.isnan(snr) else snr,
                    )
                )
                copy.write_row((dae, sid, float(-data["score"][i]), None, None, None))
        with conn.cursor().copy("COPY ml.latents (model_id, source_id, latent) FROM STDIN") as copy:
            for i in range(min(n, 300)):
                copy.write_row(
                    (
                        dae,
                        int(data["source_id"][i]),
                        rng.normal(0, 1, LATENT_DIM).astype(np.float32).tolist(),
                    )
                )
        conn.execute("ANALYZE gaia.source")
        conn.execute("ANALYZE ml.emitter_scores")
    serving.publish(url)  # as `xpha score` does: TAP reads the current model's own table
    with psycopg.connect(url) as conn:  # what ingest and scoring do once data changed, after
        refresh_published_statistics(conn)
    data["current_model"] = current
    data["dae_model"] = dae
    return data


def columnar_ceiling(url: str, sql: str, n: int, batch_rows: int = 5000) -> float:
    """Seconds to COPY the rows out as the columnar fetch does (NULL masks, values or 0, then
    strings and arrays) and decode them with its decoder into numpy columns: the service minus
    writer and HTTP."""
    from tap_service.columnar import copy_blocks, copy_layout
    from tap_service.writers import field_specs

    with psycopg.connect(url) as conn:
        probe = conn.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
        description = [(d.name, d.type_code) for d in probe.description]
        layout = copy_layout(description, field_specs(description))
        assert layout is not None
        start = time.perf_counter()
        with conn.cursor().copy(layout.statement(sql)):
            rows = sum(
                len(next(iter(batch.values())))
                if not layout.variable
                else len(batch[f"c{layout.variable[0]}"].null)
                for batch in layout.stream(copy_blocks(conn), batch_rows)
            )
        elapsed = time.perf_counter() - start
    assert rows == n
    return elapsed


def published_sizes(root: str, owner_url: str) -> dict[str, dict[str, int | None]]:
    """Each published table's size as VOSI /tables (through pyvo), TAP_SCHEMA (through ADQL)
    and the landing page tell it, next to ``SELECT COUNT(*)`` of the relation."""
    import re

    import httpx
    import pyvo

    tap = pyvo.dal.TAPService(root + "/tap")
    rows = tap.run_sync("SELECT table_name, nrows FROM tap_schema.tables").to_table()
    html = httpx.get(root + "/", timeout=60).text
    landing = dict(re.findall(r'<code>([a-z_.]+)</code></a></td><td class="n">([\d,]*)</td>', html))
    vosi = {t.name: t.nrows for t in tap.tables}
    sizes = {}
    with psycopg.connect(owner_url) as conn:
        for name, nrows in zip(rows["table_name"], rows["nrows"], strict=True):
            count = conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # type: ignore[index]
            sizes[str(name)] = {
                "count": int(count),
                "vosi": vosi.get(str(name)),
                "tap_schema": int(nrows),
                "landing": int(landing[name].replace(",", "")) if landing.get(name) else None,
            }
    return sizes
