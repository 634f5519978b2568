"""SkyServer selection and resumable download, offline against recorded SDSS responses.

Only astroquery's network layer is replaced: ``SDSSClass._request`` answers with the recorded
SkyServer CSV, and ``astroquery.utils.commons.get_readable_fileobj`` (astroquery's download
hook) serves real spec files by the file name in the URL astroquery built.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path

import pytest

from ingest.sdss_query import StarSelection, download_manifest, run_selection, selection_sql
from ingest.settings import IngestSettings
from sql.errors import XphaError


def _schema(real_data: Path, name: str) -> set[str]:
    rows = json.loads((real_data / "astroquery_sdss" / f"{name}_dr12.json").read_text())
    return {r["name"].lower() for r in rows[0]["Rows"]}


@pytest.mark.parametrize(
    "selection",
    [StarSelection(), StarSelection(14, 17, 0.5, 1.5, 50), StarSelection(10, 20, gr_max=0.2)],
)
def test_selection_uses_only_real_skyserver_columns(real_data: Path, selection) -> None:
    sql = selection_sql(selection)
    spec, photo = _schema(real_data, "SpecObjAll"), _schema(real_data, "PhotoObjAll")
    used_s = {c.lower() for c in re.findall(r"\bs\.(\w+)", sql)}
    used_p = {c.lower() for c in re.findall(r"\bp\.(\w+)", sql)}
    assert used_s <= spec, used_s - spec
    assert used_p <= photo, used_p - photo
    assert "s.fiberID" in sql and f"TOP {selection.limit}" in sql


@pytest.mark.parametrize(
    ("selection", "error"),
    [
        (StarSelection(18, 12), "g range is empty"),
        (StarSelection(limit=0), "limit"),
        (StarSelection(object_class="STAR'--"), "class must be a word"),
    ],
)
def test_bad_selections_are_refused(selection, error: str) -> None:
    with pytest.raises(XphaError, match=error):
        selection_sql(selection)


class RecordedResponse:
    def __init__(self, text: str) -> None:
        self.text = text
        self.content = text.encode()

    def raise_for_status(self) -> None:
        return None


def test_run_selection_writes_the_manifest(real_data: Path, tmp_path: Path, monkeypatch) -> None:
    from astroquery.sdss.core import SDSSClass

    recorded = (real_data / "astroquery_sdss" / "xid_sp.txt").read_text()
    calls = []

    def _request(self, method, url, **kwargs):
        calls.append((method, url, kwargs.get("params")))
        return RecordedResponse(recorded)

    monkeypatch.setattr(SDSSClass, "_request", _request)
    out = tmp_path / "manifest.csv"
    assert run_selection(StarSelection(limit=5), out) == 1
    (row,) = list(csv.DictReader(out.open()))
    assert (row["plate"], row["mjd"], row["fiberID"], row["run2d"]) == ("751", "52251", "160", "26")
    assert row["specobjid"] == "845594848269461504"
    assert "SpecObjAll" in calls[0][2]["cmd"] and calls[0][0] == "GET"


def test_download_is_resumable_and_refuses_truncated_files(
    real_data: Path, tmp_path: Path, monkeypatch
) -> None:
    import astroquery.utils.commons as commons

    served: list[str] = []
    real = {p.name: p.read_bytes() for p in (real_data / "sdss_spectra").glob("spec-*.fits")}
    broken = {"spec-2114-53848-0443.fits"}

    @contextlib.contextmanager
    def fake_fileobj(url, **kwargs):
        name = url.rsplit("/", 1)[-1]
        served.append(url)
        data = real[name]
        yield io.BytesIO(data[: len(data) // 2] if name in broken else data)

    monkeypatch.setattr(commons, "get_readable_fileobj", fake_fileobj)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("plate,mjd,fiberID,run2d\n854,52373,369,26\n2114,53848,443,26\n")
    settings = IngestSettings(database_url=None)
    out = tmp_path / "spectra"

    first = download_manifest(manifest, out, settings)
    assert (first.downloaded, first.present, first.failed) == (1, 0, 1)
    assert (out / "spec-0854-52373-0369.fits").read_bytes() == real["spec-0854-52373-0369.fits"]
    assert not (out / "spec-2114-53848-0443.fits").exists()
    assert "truncated" in (out / "download_failures.csv").read_text()
    assert "/26/spectra/0854/spec-0854-52373-0369.fits" in served[0]

    broken.clear()
    second = download_manifest(manifest, out, settings)
    assert (second.downloaded, second.present, second.failed) == (1, 1, 0)
    assert len(served) == 3  # the complete file was not fetched again
