"""The spec-file reader: identical to astropy on real files; broken files raise with a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.sdss_spectra import SpectrumReadError, parse_spec_name, read_spectrum

REAL = ["spec-0854-52373-0369.fits", "spec-2114-53848-0443.fits"]


@pytest.mark.parametrize("name", REAL)
def test_reader_agrees_with_astropy(real_data: Path, name: str) -> None:
    from astropy.io import fits

    path = real_data / "sdss_spectra" / name
    s = read_spectrum(path)
    with fits.open(path) as hdul:
        coadd, obj = hdul["COADD"].data, hdul["SPECOBJ"].data[0]
        for column in ("flux", "loglam", "ivar", "and_mask", "model", "sky"):
            np.testing.assert_array_equal(getattr(s, column), coadd[column])
        assert s.z == pytest.approx(float(obj["Z"]))
        assert s.object_class == obj["CLASS"].strip()
        assert s.ra == pytest.approx(float(obj["PLUG_RA"]))
        assert s.dec == pytest.approx(float(obj["PLUG_DEC"]))
        assert (s.plate, s.mjd, s.fiber) == (obj["PLATE"], obj["MJD"], obj["FIBERID"])
        assert s.specobjid == int(obj["SPECOBJID"])
    assert s.spec_id == "-".join(name[5:-5].split("-"))
    assert parse_spec_name(path) == (s.plate, s.mjd, s.fiber)


def _damaged(real_data: Path, tmp_path: Path, how: str) -> Path:
    data = (real_data / "sdss_spectra" / REAL[0]).read_bytes()
    out = tmp_path / "spec-0854-52373-0369.fits"
    if how == "truncated":
        data = data[: len(data) // 3]
    elif how == "header_only":
        data = data[:2880]
    elif how == "garbage":
        data = bytes(range(256)) * 40
    elif how == "empty":
        data = b""
    elif how == "corrupt_header":
        # overwrite the COADD header's NAXIS2 card with junk
        i = data.index(b"NAXIS2  =", 2880)
        data = data[:i] + b"NAXIS2  = 'abc'" + b" " * 65 + data[i + 80 :]
    out.write_bytes(data)
    return out


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("truncated", "truncated"),
        ("header_only", "truncated"),
        ("garbage", "not a FITS file"),
        ("empty", "not a FITS file"),
        ("corrupt_header", "NAXIS2 is not an integer"),
    ],
)
def test_broken_files_raise_a_reason(
    real_data: Path, tmp_path: Path, how: str, reason: str
) -> None:
    with pytest.raises(SpectrumReadError, match=reason):
        read_spectrum(_damaged(real_data, tmp_path, how))
