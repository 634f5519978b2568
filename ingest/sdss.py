"""Measure a directory (or list) of SDSS spec files into ``labels.sdss_spectra``.

Files are read and measured in batches (vectorised H-alpha, see ingest/halpha.py) and each
batch is COPYed into a temporary table and upserted by spec_id, so a re-run (say with a new
label rule) replaces the earlier rows instead of duplicating them. A file that cannot be read
becomes an 'unmeasurable' row with its reason; nothing stops the run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.halpha import HalphaWindows, LabelRule, apply_rule, measure
from ingest.labels_queries import SDSS_COLUMNS, SDSS_STAGE, SDSS_UPSERT
from ingest.sdss_spectra import (
    SdssSpectrum,
    SpectrumReadError,
    parse_spec_name,
    read_spectrum_bytes,
)
from ingest.settings import IngestSettings, get_settings
from sql.database import connect
from sql.errors import XphaError


@dataclass
class MeasureReport:
    files: int = 0
    measured: int = 0
    unmeasurable: int = 0
    positive: int = 0
    negative: int = 0
    seconds: float = 0.0


def spec_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Every spec-*.fits(.gz) file named or found (recursively) under the given paths, sorted."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from sorted(f for f in p.rglob("spec-*.fits*") if f.suffix in (".fits", ".gz"))
        elif p.exists():
            yield p
        else:
            raise XphaError(f"no such file or directory: {p}")


def _batches(items: Iterable[Path], size: int) -> Iterator[list[Path]]:
    batch: list[Path] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _unreadable_row(path: Path, digest: str | None, reason: str) -> dict[str, object]:
    names = parse_spec_name(path)
    plate, mjd, fiber = names if names else (0, 0, 0)
    sid = f"{plate:04d}-{mjd:05d}-{fiber:04d}" if names else f"file:{path.name}"
    return {
        "spec_id": sid,
        "plate": plate,
        "mjd": mjd,
        "fiber": fiber,
        "file_name": str(path),
        "file_sha256": digest,
        "status": "unmeasurable",
        "reason": reason,
        "flags": [],
        "label_reason": f"unmeasurable: {reason}",
    }


def measure_rows(
    paths: Sequence[Path], windows: HalphaWindows, rule: LabelRule
) -> list[dict[str, object]]:
    """Read, measure and label one batch of files: one row dict per file, never raising."""
    rows: list[dict[str, object]] = []
    spectra: list[SdssSpectrum] = []
    digests: list[str] = []
    for path in paths:
        digest = None
        try:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if path.suffix == ".gz":
                import gzip

                data = gzip.decompress(data)
            spectra.append(read_spectrum_bytes(data, str(path)))
            digests.append(digest)
        except (SpectrumReadError, OSError, EOFError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, SpectrumReadError) else f"unreadable: {exc}"
            rows.append(_unreadable_row(path, digest, reason))
    if not spectra:
        return rows
    m = measure(spectra, windows)
    verdicts = apply_rule(m, [s.object_class for s in spectra], rule)

    def num(value: float) -> float | None:
        return None if value != value else float(value)  # NaN -> NULL

    for i, s in enumerate(spectra):
        measured = m.reason[i] is None
        rows.append(
            {
                "spec_id": s.spec_id,
                "plate": s.plate,
                "mjd": s.mjd,
                "fiber": s.fiber,
                "specobjid": s.specobjid,
                "file_name": s.file_name,
                "file_sha256": digests[i],
                "class": s.object_class,
                "subclass": s.subclass,
                "z": s.z,
                "z_err": s.z_err,
                "z_warning": s.z_warning,
                "sn_median": s.sn_median,
                "ra": s.ra,
                "dec": s.dec,
                "status": "measured" if measured else "unmeasurable",
                "reason": m.reason[i],
                "ew_halpha": num(m.ew_reported[i]),
                "ew_halpha_err": num(m.ew_reported_err[i]),
                "ew_window": m.window[i],
                "ew_narrow": num(m.ew[i]),
                "ew_narrow_err": num(m.ew_err[i]),
                "ew_broad": num(m.ew_broad[i]),
                "ew_broad_err": num(m.ew_broad_err[i]),
                "line_sigma": num(m.line_sigma[i]),
                "ew_model": num(m.ew_model[i]),
                "ew_model_err": num(m.ew_model_err[i]),
                "peak_sigma": num(m.peak_sigma[i]),
                "peak_model_sigma": num(m.peak_model_sigma[i]),
                "continuum": num(m.continuum[i]),
                "continuum_snr": num(m.continuum_snr[i]),
                "line_flux": num(m.line_flux[i]),
                "n_line_pix": int(m.n_line_pix[i]),
                "n_bad_pix": int(m.n_bad_pix[i]),
                "flags": m.flags[i],
                "is_emitter": verdicts.is_emitter[i],
                "label": verdicts.label[i],
                "label_reason": verdicts.label_reason[i],
            }
        )
    return rows


def write_rows(conn, rows: Sequence[dict[str, object]]) -> None:
    """COPY rows into a temporary stage and upsert them into labels.sdss_spectra."""
    conn.execute(SDSS_STAGE)
    with conn.cursor().copy(f"COPY sdss_stage ({', '.join(SDSS_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(c) for c in SDSS_COLUMNS])
    conn.execute(SDSS_UPSERT)
    conn.execute("TRUNCATE sdss_stage")


def measure_files(
    paths: Iterable[Path | str],
    url: str | None = None,
    settings: IngestSettings | None = None,
    progress: bool = True,
) -> MeasureReport:
    """Measure every spec file under ``paths`` into the database; returns the counts."""
    from tqdm import tqdm

    settings = settings or get_settings()
    windows = HalphaWindows.from_settings(settings)
    rule = LabelRule.from_settings(settings)
    paths = list(paths)
    files = list(spec_files(paths))
    digests: list[str] = []
    report = MeasureReport(files=len(files))
    start = time.perf_counter()
    with (
        connect(url) as conn,
        tqdm(total=len(files), unit="spec", desc="H-alpha", disable=not progress) as bar,
    ):
        for batch in _batches(files, settings.sdss_measure_batch):
            rows = measure_rows(batch, windows, rule)
            with conn.transaction():
                write_rows(conn, rows)
            for row in rows:
                digests.append(str(row.get("file_sha256") or row["spec_id"]))
                if row["status"] == "measured":
                    report.measured += 1
                else:
                    report.unmeasurable += 1
                report.positive += row.get("label") == "positive"
                report.negative += row.get("label") == "negative"
            bar.update(len(batch))
        report.seconds = time.perf_counter() - start
        with conn.transaction():
            conn.execute(
                "INSERT INTO public.ingest_log (kind, file_name, checksum, rows_read, rows_loaded,"
                " duration_s) VALUES ('sdss', %s, %s, %s, %s, %s)"
                " ON CONFLICT (kind, checksum) DO UPDATE SET loaded_at = now(),"
                " duration_s = EXCLUDED.duration_s",
                (
                    ", ".join(str(p) for p in paths)[:1000],
                    hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest(),
                    report.files,
                    report.measured + report.unmeasurable,
                    report.seconds,
                ),
            )
    return report
