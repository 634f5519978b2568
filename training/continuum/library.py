"""The reference library: well-measured training stars, one entry per distinct spectrum.

The local continuum needs distinct stars as neighbours. A simulated sky (and any survey with
repeated or blended entries) holds many noisy copies of one spectrum; copies that agree within
their errors are merged into one entry (inverse-variance mean), brightest first. Entries whose
own line S/N against the rest of the library is extreme (emitters, strong absorbers) are dropped,
so the library describes line-free continua even though it is built without labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.continuum.geometry import line_subspace, line_template
from training.continuum.local import LocalSettings


@dataclass(frozen=True)
class LibrarySettings:
    max_candidates: int = 40_000  # brightest usable training sources considered
    merge_chi2: float = 1.5  # reduced chi-square under which two spectra are one star
    clip_snr: float = 4.0  # |line excess| / sigma above which a copy or an entry is dropped
    clip_rounds: int = 2
    chunk_rows: int = 2000


@dataclass
class ReferenceLibrary:
    u: np.ndarray  # (m, 110) normalised continua
    e: np.ndarray  # (m, 110) their errors (of the mean of the merged members)
    mag: np.ndarray  # (m,) line-blind magnitude of the brightest member
    e_star: np.ndarray  # (m, 110) the brightest member's own errors, at ``mag``
    projection: np.ndarray  # (110, d) line-blind prefilter projection
    members: np.ndarray  # (m,) sources merged into each entry

    def __len__(self) -> int:
        return len(self.u)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"u": self.u, "e": self.e, "mag": self.mag, "e_star": self.e_star,
                "projection": self.projection, "members": self.members}  # fmt: skip


def _chi2(u, e, refs, ref_e):
    """Reduced line-blind chi-square of each row against its own reference (both errors): the
    best-fitting line of any width is removed first, so a copy with a line still finds its star."""
    lines = line_subspace()  # (110, 2)
    w = 1.0 / (e**2 + ref_e**2)
    r = u - refs
    normal = np.einsum("ia,ni,ib->nab", lines, w, lines)
    along = (w * r) @ lines  # (n, 2)
    fitted = np.einsum("na,na->n", along, np.linalg.solve(normal, along[..., None])[..., 0])
    return ((w * r * r).sum(1) - fitted) / (u.shape[1] - lines.shape[1])


def _nearest_line_blind(u, w, refs) -> np.ndarray:
    """Index of the reference nearest each row in the row's weighted distance with the line
    subspace projected out (a strong line must not pull a copy towards a different star)."""
    lines = line_subspace()
    dist = (w * u**2).sum(1)[:, None] - 2 * (w * u) @ refs.T + w @ (refs**2).T
    wl = w[:, :, None] * lines[None]  # (n, 110, 2)
    normal_inv = np.linalg.inv(np.einsum("ia,nib->nab", lines, wl))
    along = np.einsum("ni,nia->na", u, wl)[:, None, :] - np.einsum("ji,nia->nja", refs, wl)
    dist -= np.einsum("nja,nab,njb->nj", along, normal_inv, along)
    return dist.argmin(1)


def _group(u, e, settings: LibrarySettings) -> np.ndarray:
    """Group index of each row (rows in brightness order): a row joins its nearest group when
    the line-blind reduced chi-square to the group's running mean is below merge_chi2."""
    n_coeff = u.shape[1]
    total_w, total_wu = np.zeros((0, n_coeff)), np.zeros((0, n_coeff))
    group = np.full(len(u), -1)
    for lo in range(0, len(u), settings.chunk_rows):
        rows = slice(lo, lo + settings.chunk_rows)
        cu, ce = u[rows], e[rows]
        target = np.full(len(cu), -1)
        if len(total_w):
            refs, ref_e = total_wu / total_w, 1.0 / np.sqrt(total_w)
            near = _nearest_line_blind(cu, 1.0 / ce**2, refs)  # then the exact test
            ok = _chi2(cu, ce, refs[near], ref_e[near]) < settings.merge_chi2
            target[ok] = near[ok]
        heads: list[int] = []
        start = len(total_w)
        for i in np.flatnonzero(target < 0):  # the chunk's unmatched rows, among themselves
            if heads:
                h = np.asarray(heads)
                chi = _chi2(cu[i][None], ce[i][None], cu[h], ce[h])
                if chi.min() < settings.merge_chi2:
                    target[i] = start + int(chi.argmin())
                    continue
            target[i] = start + len(heads)
            heads.append(int(i))
        total_w = np.concatenate([total_w, np.zeros((len(heads), n_coeff))])
        total_wu = np.concatenate([total_wu, np.zeros((len(heads), n_coeff))])
        inv = 1.0 / ce**2
        np.add.at(total_w, target, inv)
        np.add.at(total_wu, target, inv * cu)
        group[rows] = target
    return group


def _merge(u, e, mag, settings: LibrarySettings):
    """One entry per group: the inverse-variance mean of its members, without the members whose
    component along the line stands out from the group's median (copies that carry a line)."""
    group = _group(u, e, settings)
    t = line_template()
    w_t = t / np.median(e, axis=0) ** 2
    beta = u @ w_t / (t @ w_t)
    noise = np.sqrt((e**2) @ (w_t / (t @ w_t)) ** 2)
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    keep = np.ones(len(u), bool)
    for members in np.split(order, bounds):
        if members.size >= 3:
            centre = np.median(beta[members])
            keep[members] = np.abs(beta[members] - centre) < settings.clip_snr * noise[members]
        elif members.size == 2:  # two copies that disagree along the line: neither is trusted
            gap = abs(beta[members[0]] - beta[members[1]])
            keep[members] = gap < settings.clip_snr * np.hypot(*noise[members])
    n_groups = group.max() + 1
    total_w = np.zeros((n_groups, u.shape[1]))
    total_wu = np.zeros_like(total_w)
    inv = 1.0 / e[keep] ** 2
    np.add.at(total_w, group[keep], inv)
    np.add.at(total_wu, group[keep], inv * u[keep])
    count = np.bincount(group[keep], minlength=n_groups)
    # the brightest kept member of each group (rows come in brightness order): its magnitude
    # and errors say how well a real star of this spectrum is measured at that brightness
    kept = np.flatnonzero(keep)
    first = np.full(n_groups, -1)
    first[group[kept][::-1]] = kept[::-1]
    alive = count > 0
    return (total_wu[alive] / total_w[alive], 1.0 / np.sqrt(total_w[alive]),
            mag[first[alive]], e[first[alive]], count[alive])  # fmt: skip


def _robust_outliers(refs, errs, projection, local: LocalSettings, clip: float) -> np.ndarray:
    """Entries whose component along the line is far from their neighbours' (median, MAD):
    emitters and strong absorbers, found without trusting a covariance they would inflate."""
    from training.continuum.local import nearest

    t = line_template()
    w_t = t / np.median(errs, axis=0) ** 2
    beta = refs @ w_t / (t @ w_t)
    noise = np.sqrt((errs**2) @ (w_t / (t @ w_t)) ** 2)
    near = nearest(refs, errs, refs, projection, local, exclude=np.arange(len(refs)))
    centre = np.median(beta[near], axis=1)
    spread = 1.4826 * np.median(np.abs(beta[near] - centre[:, None]), axis=1)
    z = (beta - centre) / np.sqrt(spread**2 + noise**2)
    return np.abs(z) > clip


def line_blind_projection(u: np.ndarray, e: np.ndarray, dims: int) -> np.ndarray:
    """(110, dims): leading components of the error-scaled continua, orthogonal to the line in
    that scaling, so that u @ projection does not change when a line is added."""
    scale = 1.0 / np.median(e, axis=0)
    t = line_template() * scale
    z = u * scale
    z = z - np.outer(z @ t / (t @ t), t)
    z -= z.mean(0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    p = vt[:dims].T
    p -= np.outer(t, t @ p) / (t @ t)
    return scale[:, None] * p


def build(
    u: np.ndarray, e: np.ndarray, mag: np.ndarray, settings: LibrarySettings, local: LocalSettings
) -> ReferenceLibrary:
    """The library from normalised training sources (any order; rows with NaN are ignored)."""
    ok = np.isfinite(u).all(1) & np.isfinite(e).all(1) & np.isfinite(mag)
    order = np.flatnonzero(ok)[np.argsort(mag[ok], kind="stable")][: settings.max_candidates]
    refs, errs, ref_mag, e_star, count = _merge(u[order], e[order], mag[order], settings)
    if len(refs) <= local.neighbours + 1:
        from sql.errors import XphaError

        raise XphaError(
            f"only {len(refs)} distinct training spectra for the continuum library; "
            f"it needs more than {local.neighbours + 1}: ingest more XP sources"
        )
    projection = line_blind_projection(refs, errs, local.prefilter_dims)
    for _ in range(settings.clip_rounds):
        keep = ~_robust_outliers(refs, errs, projection, local, settings.clip_snr)
        if keep.all() or keep.sum() <= local.neighbours + 1:
            break
        refs, errs, ref_mag, e_star, count = (
            refs[keep],
            errs[keep],
            ref_mag[keep],
            e_star[keep],
            count[keep],
        )
        projection = line_blind_projection(refs, errs, local.prefilter_dims)
    return ReferenceLibrary(refs, errs, ref_mag, e_star, projection, count)
