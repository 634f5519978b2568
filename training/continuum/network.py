"""A network that predicts the continuum along the line, with its learned intrinsic scatter.

Inputs are the line-blind part of a star (u⊥, standardised), its line-blind magnitude and the
noise of β; outputs are the predicted β of the continuum and the log of the intrinsic variance
that adds to the noise. The loss is the Gaussian negative log-likelihood of the observed β with
variance noise² + scatter², the scatter-VAE recipe (Laroche & Speagle 2025) reduced to the one
direction a line moves.

Training examples come from the reference library by augmentations that are exact in
coefficient space: fainter copies (noise added so the errors grow as real XP errors do:
calibration floor, photon and background noise) and unresolved binaries (flux-weighted sums of
a star and one of its nearest neighbours).
Each epoch draws new examples, so the network never sees one noise draw twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from training.continuum.geometry import Split, line_template


@dataclass(frozen=True)
class NetworkSettings:
    hidden: int = 256
    dropout: float = 0.1
    epochs: int = 8
    rows_per_epoch: int = 150_000
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-3
    binary_fraction: float = 0.5
    binary_neighbours: int = 10
    seed: int = 0
    threads: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


def build_network(n_in: int, settings: NetworkSettings):
    from torch import nn

    h = settings.hidden
    return nn.Sequential(
        nn.Linear(n_in, h), nn.GELU(), nn.Dropout(settings.dropout),
        nn.Linear(h, h), nn.GELU(), nn.Dropout(settings.dropout),
        nn.Linear(h, 2),
    )  # fmt: skip


@dataclass
class Scaling:
    """Standardisation of the network's inputs and of β (fitted on the first examples)."""

    x_mean: np.ndarray
    x_scale: np.ndarray
    beta_mean: float
    beta_scale: float

    def arrays(self) -> dict[str, np.ndarray]:
        return {"x_mean": self.x_mean, "x_scale": self.x_scale,
                "beta": np.array([self.beta_mean, self.beta_scale])}  # fmt: skip

    @classmethod
    def from_arrays(cls, data) -> Scaling:
        return cls(data["x_mean"], data["x_scale"], float(data["beta"][0]), float(data["beta"][1]))


def inputs(u: np.ndarray, e: np.ndarray, mag: np.ndarray, split: Split):
    """(features, β, σ_β): u⊥ and [magnitude, log σ_β] side by side; β and its noise."""
    beta = split.beta(u)
    noise = split.beta_noise(e)
    features = np.concatenate(
        [split.perpendicular(u, beta), mag[:, None], np.log(noise)[:, None]], axis=1
    )
    return features, beta, noise


class Augmenter:
    """Draws fainter copies and binaries of library entries, in normalised units."""

    def __init__(self, library, target_mags: np.ndarray, settings: NetworkSettings):
        self.u, self.e, self.mag, self.e_star = library.u, library.e, library.mag, library.e_star
        self.target_mags = target_mags
        self.settings = settings
        z = library.u @ library.projection
        u = library.u
        sq = (z**2).sum(1)
        dist = sq[:, None] - 2 * z @ z.T + sq[None]
        np.fill_diagonal(dist, np.inf)
        k = min(settings.binary_neighbours, len(u) - 1)
        self.near = np.argsort(dist, axis=1)[:, :k]
        self.order = np.argsort(self.mag, kind="stable")

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, errors, magnitude) of ``n`` new examples."""
        from ingest.simulator.continua import ZERO_POINT, error_scale

        lo, hi = self.mag.min(), max(self.target_mags.max(), self.mag.max())
        target = np.where(
            rng.random(n) < 0.5, rng.choice(self.target_mags, n), rng.uniform(lo, hi, n)
        )
        # a star can only be made fainter: pick among entries at least as bright as the target
        eligible = np.maximum(np.searchsorted(self.mag[self.order], target, side="right"), 1)
        a = self.order[(rng.random(n) * eligible).astype(np.int64)]
        binary = rng.random(n) < self.settings.binary_fraction
        b = self.near[a, rng.integers(0, self.near.shape[1], n)]
        q = np.where(binary, 0.5 * rng.random(n), 0.0)  # companion's share of the flux
        mix = lambda x: np.sqrt(((1 - q)[:, None] * x[a]) ** 2 + (q[:, None] * x[b]) ** 2)  # noqa: E731
        cont = (1 - q)[:, None] * self.u[a] + q[:, None] * self.u[b]
        have, star = mix(self.e), mix(self.e_star)  # the entry's errors; a real star's at mag
        target = np.maximum(target, self.mag[a])
        flux = 10 ** (-0.4 * (self.mag[a] - ZERO_POINT["g"]))
        scale = 10 ** (-0.4 * (target - self.mag[a]))
        # relative errors at target, grown as RP's (the band of H-alpha, where β lies)
        err = star * (error_scale(scale, flux, "rp") / scale)[:, None]
        added = np.sqrt(np.maximum(err**2 - have**2, 0.0))
        return cont + rng.standard_normal(cont.shape) * added, err, target


def train(
    augmenter: Augmenter, split: Split, settings: NetworkSettings, progress: bool = False
) -> tuple[object, Scaling, list[dict]]:
    """Fit the network; returns (torch module, scaling, per-epoch history)."""
    import torch

    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    u, e, mag = augmenter.draw(20_000, rng)
    x0, b0, _ = inputs(u, e, mag, split)
    scaling = Scaling(x0.mean(0), x0.std(0) + 1e-12, float(b0.mean()), float(b0.std()))
    net = build_network(x0.shape[1], settings)
    optimiser = torch.optim.AdamW(
        net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, settings.epochs)
    history = []
    for epoch in range(settings.epochs):
        u, e, mag = augmenter.draw(settings.rows_per_epoch, rng)
        x, beta, noise = inputs(u, e, mag, split)
        xt, yt, st = _tensors(x, beta, noise, scaling)
        net.train()
        order = torch.randperm(len(yt))
        total, batches = 0.0, 0
        for lo in range(0, len(yt), settings.batch_size):
            idx = order[lo : lo + settings.batch_size]
            loss = nll(net(xt[idx]), yt[idx], st[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, batches = total + float(loss.detach()), batches + 1
        schedule.step()
        history.append({"phase": "continuum", "epoch": epoch, "train_loss": total / batches})
    net.eval()
    return net, scaling, history


def _tensors(x, beta, noise, scaling: Scaling):
    import torch

    xs = np.nan_to_num((x - scaling.x_mean) / scaling.x_scale)
    return (
        torch.tensor(xs, dtype=torch.float32),
        torch.tensor((beta - scaling.beta_mean) / scaling.beta_scale, dtype=torch.float32),
        torch.tensor(noise / scaling.beta_scale, dtype=torch.float32),
    )


def nll(output, beta, noise):
    """Gaussian NLL of β with variance noise² + exp(log scatter²)."""
    import torch

    variance = noise**2 + torch.exp(output[:, 1])
    return (0.5 * (beta - output[:, 0]) ** 2 / variance + 0.5 * torch.log(variance)).mean()


def predict(net, scaling: Scaling, u, e, mag, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(S/N of the line, gain = 1 / σ of the amplitude) for every row."""
    import torch

    x, beta, noise = inputs(u, e, mag, split)
    xt, yt, st = _tensors(x, beta, noise, scaling)
    with torch.no_grad():
        out = net(xt)
        sd = torch.sqrt(st**2 + torch.exp(out[:, 1]))
        snr = ((yt - out[:, 0]) / sd).numpy().astype(np.float64)
    gain = 1.0 / (sd.numpy().astype(np.float64) * scaling.beta_scale)
    return snr, gain


def default_metric(e: np.ndarray) -> np.ndarray:
    """Weights of β: inverse squared typical errors of the fainter half of the library, so β is
    the matched filter of a typical faint star."""
    faint = e[np.argsort(np.median(e, axis=1))[len(e) // 2 :]]
    return 1.0 / np.median(faint, axis=0) ** 2


__all__ = ["Augmenter", "NetworkSettings", "Scaling", "line_template", "predict", "train"]
