"""Q3C crossmatch vs a brute-force distance check, with proper motions, idempotent re-runs."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from ingest.crossmatch import candidate_pairs, crossmatch
from ingest.settings import IngestSettings

MAS = 1 / 3_600_000.0


def propagate(ra, dec, pmra, pmdec, dt):
    """Gaia position carried by dt years (the same linear model the SQL uses)."""
    moving = np.isfinite(pmra) & np.isfinite(pmdec)
    pmra, pmdec = np.nan_to_num(pmra), np.nan_to_num(pmdec)
    ra2 = np.where(moving, ra + pmra * dt * MAS / np.cos(np.radians(dec)), ra)
    dec2 = np.where(moving, dec + pmdec * dt * MAS, dec)
    return ra2, dec2


def separation_arcsec(ra1, dec1, ra2, dec2):
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(h))) * 3600


@pytest.fixture
def sky(db_url: str):
    """Survey entries with Gaia neighbours at 0-3 arcsec, some moving fast (up to 6 arcsec/yr)."""
    rng = np.random.default_rng(42)
    n_entries = 300
    ra = rng.uniform(150, 150.5, n_entries)
    dec = np.concatenate([rng.uniform(-30, 30, n_entries - 20), rng.uniform(84, 86, 20)])
    mjd = rng.integers(51500, 58000, n_entries)
    epoch = 2000.0 + (mjd - 51544.5) / 365.25
    g_rows = []
    sid = 1 << 40
    for i in range(n_entries):
        for _ in range(rng.integers(0, 4)):
            sid += 1
            kind = rng.choice(["still", "slow", "fast", "nopm"], p=[0.3, 0.4, 0.2, 0.1])
            pm = {
                "still": 0.0,
                "slow": rng.uniform(1, 80),
                "fast": rng.uniform(100, 6000),
                "nopm": np.nan,
            }[kind]
            angle = rng.uniform(0, 2 * np.pi)
            pmra, pmdec = pm * np.cos(angle), pm * np.sin(angle)
            # place the source so that at the survey epoch it lies 0-3 arcsec from the entry
            off = rng.uniform(0, 3.0)
            a2 = rng.uniform(0, 2 * np.pi)
            ra_s = ra[i] + off * np.cos(a2) / 3600 / np.cos(np.radians(dec[i]))
            dec_s = dec[i] + off * np.sin(a2) / 3600
            dt = 2016.0 - epoch[i]
            ra_g, dec_g = propagate(ra_s, dec_s, pmra, pmdec, dt)  # back to 2016.0
            g_rows.append(
                (
                    sid,
                    float(ra_g),
                    float(dec_g),
                    None if np.isnan(pmra) else float(pmra),
                    None if np.isnan(pmdec) else float(pmdec),
                )
            )
    with psycopg.connect(db_url) as conn:
        with conn.cursor().copy(
            "COPY gaia.source (source_id, ra, dec, pmra, pmdec) FROM STDIN"
        ) as cp:
            for row in g_rows:
                cp.write_row(row)
        with conn.cursor().copy(
            "COPY labels.sdss_spectra (spec_id, plate, mjd, fiber, ra, dec, status) FROM STDIN"
        ) as cp:
            for i in range(n_entries):
                cp.write_row(
                    (
                        f"{1000 + i:04d}-{mjd[i]:05d}-0001",
                        1000 + i,
                        int(mjd[i]),
                        1,
                        float(ra[i]),
                        float(dec[i]),
                        "measured",
                    )
                )
        with conn.cursor().copy(
            "COPY labels.lamost_els (catalogue, entry_id, ra, dec, is_stellar) FROM STDIN"
        ) as cp:
            for i in range(n_entries):
                cp.write_row(("test", f"e{i}", float(ra[i]), float(dec[i]), True))
    g = np.array(
        [
            (r[1], r[2], np.nan if r[3] is None else r[3], np.nan if r[4] is None else r[4])
            for r in g_rows
        ]
    )
    ids = np.array([r[0] for r in g_rows])
    return {"ra": ra, "dec": dec, "epoch": epoch, "g": g, "ids": ids, "url": db_url}


def brute_force(sky, epochs, radius):
    pairs = {}
    g = sky["g"]
    for i in range(len(sky["ra"])):
        ra2, dec2 = propagate(g[:, 0], g[:, 1], g[:, 2], g[:, 3], epochs[i] - 2016.0)
        sep = separation_arcsec(sky["ra"][i], sky["dec"][i], ra2, dec2)
        for j in np.flatnonzero(sep <= radius):
            pairs[(i, int(sky["ids"][j]))] = float(sep[j])
    return pairs


@pytest.mark.parametrize("radius", [1.0, 2.5])
def test_candidate_pairs_equal_brute_force_with_proper_motions(sky, radius: float) -> None:
    settings = IngestSettings(database_url=None)
    expected = brute_force(sky, sky["epoch"], radius)
    got = {
        (int(key.split("-")[0]) - 1000, sid): sep
        for key, sid, _epoch, sep in candidate_pairs("sdss", radius, sky["url"], settings)
    }
    assert set(got) == set(expected)
    assert len(expected) > 100
    fast = {k for k in expected if abs(sky["g"][list(sky["ids"]).index(k[1]), 2]) > 100}
    assert len(fast) > 10  # the high proper-motion path is exercised
    for k, sep in expected.items():
        assert got[k] == pytest.approx(sep, abs=1e-4)
    # LAMOST entries: the same positions at epoch 2000.0
    expected_lamost = brute_force(sky, np.full(len(sky["ra"]), 2000.0), radius)
    got_lamost = {
        (int(entry[1:]), sid)
        for _cat, entry, sid, _e, _s in candidate_pairs("lamost", radius, sky["url"], settings)
    }
    assert got_lamost == set(expected_lamost)


def test_best_match_and_candidate_count_and_idempotence(sky) -> None:
    expected = brute_force(sky, sky["epoch"], 1.0)
    first = crossmatch("sdss", 1.0, sky["url"])
    with psycopg.connect(sky["url"]) as conn:
        rows = conn.execute(
            "SELECT spec_id, source_id, separation_arcsec, n_candidates FROM xmatch.gaia_sdss"
        ).fetchall()
    best: dict[int, list] = {}
    for (i, sid), sep in expected.items():
        best.setdefault(i, []).append((sep, sid))
    assert len(rows) == len(best) == first.matched
    for spec, sid, sep, n in rows:
        i = int(spec.split("-")[0]) - 1000
        assert (sid, n) == (min(best[i])[1], len(best[i]))
        assert sep == pytest.approx(min(best[i])[0], abs=1e-4)
    assert first.ambiguous == sum(len(v) > 1 for v in best.values())
    again = crossmatch("sdss", 1.0, sky["url"])
    with psycopg.connect(sky["url"]) as conn:
        rows_again = conn.execute(
            "SELECT spec_id, source_id, separation_arcsec, n_candidates FROM xmatch.gaia_sdss"
        ).fetchall()
    assert sorted(rows_again) == sorted(rows) and again.matched == first.matched
    wider = crossmatch("sdss", 2.5, sky["url"])
    assert wider.matched > first.matched


def test_linear_propagation_agrees_with_astropy_space_motion() -> None:
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.time import Time

    c = SkyCoord(
        ra=269.45 * u.deg,
        dec=4.69 * u.deg,
        pm_ra_cosdec=-801.6 * u.mas / u.yr,
        pm_dec=10362.5 * u.mas / u.yr,
        distance=1.83 * u.pc,
        obstime=Time(2016.0, format="jyear"),
    )  # Barnard's star
    moved = c.apply_space_motion(new_obstime=Time(2001.3, format="jyear"))
    ra2, dec2 = propagate(
        np.array(269.45), np.array(4.69), np.array(-801.6), np.array(10362.5), 2001.3 - 2016.0
    )
    # linear motion on the sky vs full space motion: well inside the 1 arcsec match radius
    assert separation_arcsec(ra2, dec2, moved.ra.deg, moved.dec.deg) < 0.3


def test_a_non_positive_radius_is_refused(db_url: str) -> None:
    from sql.errors import XphaError

    with pytest.raises(XphaError, match="radius"):
        crossmatch("sdss", -1.0, db_url)
