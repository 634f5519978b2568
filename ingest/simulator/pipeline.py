"""`xpha simulate`: stream a synthetic sky to disk in the real archives' file formats.

Layout of OUT:
  xp_continuous/xp_continuous_NNN.{fits,csv,ecsv}   Gaia DR3 xp_continuous_mean_spectrum
  gaia_source/gaia_source_NNN.{fits,csv,ecsv}       Gaia DR3 gaia_source (subset of columns)
  sdss/spec-PLATE-MJD-FIBER.fits                    SDSS DR16-format spectra (a subset)
  lamost_emitters.csv                                Hou et al. 2016-like catalogue (a subset)
  truth.csv                                          what was injected, one row per source
  manifest.json                                      seed, parameters, files written
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ingest.simulator.generator import SimulationConfig, chunks
from ingest.simulator.population import class_names

MANIFEST = "manifest.json"


def _chunk_path(directory: Path, stem: str, index: int, fmt: str) -> Path:
    return directory / f"{stem}_{index:03d}.{fmt}"


def simulate(config: SimulationConfig, out: Path, fmt: str = "fits", progress: bool = True):
    """Write the whole sky chunk by chunk; returns the manifest (also written to OUT)."""
    from tqdm import tqdm

    from ingest.simulator import gaia_format, lamost_format, sdss_format, truth
    from ingest.simulator.continua import load_parents
    from ingest.simulator.parents import allowed_rows
    from ingest.simulator.writer import FORMATS, write_table
    from ingest.xp_physics.calibration import merged_sampling

    if fmt not in FORMATS:
        from sql.errors import XphaError

        raise XphaError(f"unknown --format {fmt!r}: choose one of {', '.join(FORMATS)}")
    library = load_parents()
    copied = allowed_rows(
        library.source_id, config.parents, config.exclude_parents
    )  # checked first
    _remove_previous_run(out)
    names = class_names(config.mixture)
    sampling = merged_sampling()
    directories = {name: out / name for name in ("xp_continuous", "gaia_source", "sdss")}
    for directory in directories.values():
        directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[str]] = {"xp_continuous": [], "gaia_source": [], "sdss": []}
    lamost_rows: list[tuple] = []
    counts = dict.fromkeys(names, 0)
    bar = tqdm(total=config.n_sources, unit="src", desc="simulate", disable=not progress)
    with open(out / truth.TRUTH_FILE, "wb") as truth_handle:
        truth_handle.write((",".join(truth.TRUTH_COLUMNS) + "\n").encode("ascii"))
        for chunk in chunks(config):
            rng = chunk.rng()
            xp_path = _chunk_path(directories["xp_continuous"], "xp_continuous", chunk.index, fmt)
            write_table(
                xp_path, gaia_format.XP_COLUMNS, gaia_format.xp_table(chunk, library, rng), fmt
            )
            source_path = _chunk_path(directories["gaia_source"], "gaia_source", chunk.index, fmt)
            write_table(
                source_path, gaia_format.SOURCE_COLUMNS, gaia_format.source_table(chunk, rng), fmt
            )
            files["xp_continuous"].append(xp_path.relative_to(out).as_posix())
            files["gaia_source"].append(source_path.relative_to(out).as_posix())

            sdss_files = _write_sdss(chunk, rng, directories["sdss"], sampling, names, sdss_format)
            files["sdss"] += [f"sdss/{name}" for name in sdss_files.values()]
            rows = _lamost_rows(chunk, rng, names, lamost_format)
            lamost_rows += rows
            lamost_ids = {row[-1]: row[0] for row in rows}
            truth.write_rows(
                truth_handle,
                truth.truth_frame(chunk, names, library.source_id, sdss_files, lamost_ids),
            )
            for k, count in enumerate(np.bincount(chunk.class_index, minlength=len(names))):
                counts[names[k]] += int(count)
            bar.update(len(chunk))
    bar.close()
    lamost_format.write_catalogue(out / "lamost_emitters.csv", [row[:-1] for row in lamost_rows])
    manifest = {
        "generator": "xpha simulate",
        "seed": config.seed,
        "format": fmt,
        "config": config.as_dict(),
        "n_sources": config.n_sources,
        "n_parents_copied": int(copied.size),
        "class_counts": counts,
        "n_sdss_spectra": len(files["sdss"]),
        "n_lamost_rows": len(lamost_rows),
        "truth": truth.TRUTH_FILE,
        "lamost_catalogue": "lamost_emitters.csv",
        "files": files,
        "notes": "EW in Angstrom, emission positive; lines injected through the Weiler (2023) "
        "LSF into both BP and RP; parents are real Gaia DR3 XP spectra.",
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def _remove_previous_run(out: Path) -> None:
    """Delete the files a previous run listed in OUT's manifest (and nothing else), so that
    no stale chunk of a larger earlier run is ingested with the new one."""
    manifest = out / MANIFEST
    if not manifest.exists():
        return
    listed = json.loads(manifest.read_text()).get("files", {})
    for names in listed.values():
        for name in names:
            (out / name).unlink(missing_ok=True)
    manifest.unlink()


def _write_sdss(chunk, rng, directory, sampling, names, sdss_format) -> dict[int, str]:
    """SDSS spectra of the chunk's SDSS subset, at a random epoch with the other-epoch EW."""
    from ingest.simulator.sky import propagate

    written: dict[int, str] = {}
    picked = np.flatnonzero(chunk.in_sdss)
    if picked.size == 0:
        return written
    continuum = sampling.flux(chunk.sdss_continuum_bp, chunk.sdss_continuum_rp)
    mjd = rng.integers(*sdss_format.MJD_RANGE, picked.size)
    years = (mjd - 57388.0) / 365.25  # MJD 57388 = 2016.0
    ra, dec = propagate(
        chunk.ra[picked], chunk.dec[picked], chunk.pmra[picked], chunk.pmdec[picked], years
    )
    for k, i in enumerate(picked):
        running = int(chunk.running[i])
        plate, fiber = 266 + (running // 1000) % 11000, running % 1000 + 1
        coadd = sdss_format.build_spectrum(
            rng, continuum[k], sampling.wavelength_nm, float(chunk.ew_other_epoch[i]),
            float(chunk.sigma_nm[i]), float(chunk.g_mag[i]),
        )  # fmt: skip
        path = sdss_format.write_spec(
            directory, plate, int(mjd[k]), fiber, float(ra[k]), float(dec[k]), coadd,
            float(chunk.ew_other_epoch[i]), float(chunk.sigma_nm[i]), names[chunk.class_index[i]],
        )  # fmt: skip
        written[int(chunk.source_id[i])] = path.name
    return written


def _lamost_rows(chunk, rng, names, lamost_format) -> list[tuple]:
    """Catalogue rows for the chunk's LAMOST subset, each tagged with its source_id last."""
    picked = np.flatnonzero(chunk.in_lamost)
    rows = lamost_format.catalogue_rows(
        rng, chunk.ra[picked], chunk.dec[picked], chunk.pmra[picked], chunk.pmdec[picked],
        [names[c] for c in chunk.class_index[picked]],
    )  # fmt: skip
    return [(*row, int(chunk.source_id[picked[j]])) for j, row in rows]
