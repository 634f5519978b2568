"""A simulated emitter's calibrated XP spectrum next to its parent star (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_emitter(out: Path, parent_row: int = 0, ew_angstrom: float = 30.0, g_mag: float = 14.0,
                 seed: int = 0) -> Path:  # fmt: skip
    """Inject H-alpha of the given EW into a copy of a real parent and plot both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ingest.simulator.continua import load_parents
    from ingest.simulator.generator import inject_lines, perturbed_copies
    from ingest.xp_physics.calibration import merged_sampling
    from ingest.xp_physics.halpha_ew import continuum_at_halpha, halpha_ew
    from ingest.xp_physics.lsf import H_ALPHA_NM, LineInjector

    rng = np.random.default_rng(seed)
    library = load_parents()
    parent = np.array([parent_row])
    star, errors, scale = perturbed_copies(library, parent, np.array([g_mag]), rng)
    continuum = continuum_at_halpha(star["bp"], star["rp"])
    emitter, _ = inject_lines(LineInjector(), star, errors, continuum, np.array([ew_angstrom]),
                              np.array([0.5]), np.array([40]), rng)  # fmt: skip
    sampling = merged_sampling()
    wavelength = sampling.wavelength_nm
    parent_flux = sampling.flux(library.bp[parent], library.rp[parent])[0] * scale[0]
    emitter_flux = sampling.flux(emitter["bp"], emitter["rp"])[0]
    measured = (
        halpha_ew(emitter["bp"], emitter["rp"])[0][0] - halpha_ew(star["bp"], star["rp"])[0][0]
    )
    with plt.rc_context({"text.usetex": False}):
        figure, axis = plt.subplots(figsize=(8, 4.5))
        axis.plot(
            wavelength,
            parent_flux,
            color="grey",
            label=f"parent DR3 {library.source_id[parent_row]} (scaled)",
        )
        axis.plot(wavelength, emitter_flux, color="crimson", lw=1.2,
                  label=f"simulated emitter: EW {ew_angstrom:g} Å injected, {measured:.1f} Å measured")  # fmt: skip
        axis.axvline(H_ALPHA_NM, color="k", lw=0.6, ls=":")
        axis.set_xlabel("wavelength [nm]")
        axis.set_ylabel("calibrated flux [W m$^{-2}$ nm$^{-1}$]")
        axis.set_title(f"Gaia XP, G = {g_mag:g}: H-alpha through the LSF into BP and RP")
        axis.legend(fontsize=8)
        figure.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, dpi=110)
        plt.close(figure)
    return out
