"""H-alpha measured from spec files written by the simulator (ingest/simulator/sdss_format.py).

The simulator's files carry the injected EW in their SPZLINE HDU; reading them through our
reader and measuring them must recover it: bias under 5% for EW >= 2 A at S/N >= 20.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.halpha import measure
from ingest.sdss_spectra import read_spectrum

sdss_format = pytest.importorskip("ingest.simulator.sdss_format")


@pytest.mark.parametrize("ew", [2.0, 5.0, 15.0])
def test_simulator_spectra_recover_their_injected_ew(tmp_path: Path, ew: float) -> None:
    rng = np.random.default_rng(int(ew * 10))
    xp_nm = np.linspace(330, 1050, 343)
    paths = []
    for k in range(30):
        continuum = 1e-17 * (1.5 - (xp_nm - 330) / 1440)  # W/m2/nm, gently falling
        coadd = sdss_format.build_spectrum(rng, continuum, xp_nm, ew, 0.15, g_mag=15.5)
        paths.append(sdss_format.write_spec(tmp_path, 1000 + k, 55000, 1, 10.0, 10.0, coadd, ew,
                                            0.15, "Be"))
    spectra = [read_spectrum(p) for p in paths]
    snr = np.array([s.sn_median for s in spectra])
    assert np.median(snr) >= 20
    m = measure(spectra)
    ok = np.array([r is None for r in m.reason])
    assert ok.sum() >= 27  # a bad column may land on the line now and then
    bias = np.mean(m.ew[ok]) / ew - 1
    print(f"EW {ew}: bias {bias:+.3f} over {ok.sum()} spectra")
    assert abs(bias) < 0.05, bias
