"""Denoising autoencoder over the 110 normalised XP coefficients, and the emitter classifier.

The encoder sees the corrupted coefficients together with the mask (which coefficients are
hidden or missing), so masking all of BP or all of RP, a random block, or a band that Gaia
never measured are the same thing to it. Phase 2 puts a head on the encoder's latent (plus
G mag, BP-RP, optionally the XP-native H-alpha EW and its S/N, and optionally the error-scaled
reconstruction residual, where a line that the continuum manifold cannot explain shows up).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

N_COEFF = 110
N_SIDE = 2
HEAD_KINDS = ("mlp", "linear")


@dataclass
class DAEConfig:
    n_coeff: int = N_COEFF
    hidden: int = 256
    latent: int = 16
    error_floor: float = 0.05  # in standardised units: caps the weight of the best-measured

    def to_dict(self) -> dict:
        return asdict(self)


def _block(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_out), nn.LayerNorm(n_out), nn.GELU())


class DenoisingAutoencoder(nn.Module):
    def __init__(self, config: DAEConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.encoder = nn.Sequential(
            _block(2 * config.n_coeff, h), _block(h, h), nn.Linear(h, config.latent)
        )
        self.decoder = nn.Sequential(
            _block(config.latent, h), _block(h, h), nn.Linear(h, config.n_coeff)
        )

    def encode(self, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """Latent of coefficients ``x`` with ``hidden`` (bool) entries zeroed and flagged."""
        visible = torch.where(hidden, torch.zeros_like(x), x)
        return self.encoder(torch.cat([visible, hidden.to(x.dtype)], dim=1))

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x, hidden)
        return self.decoder(z), z

    def weighted_loss(
        self, recon: torch.Tensor, x: torch.Tensor, err: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        """Chi-square-like loss, each coefficient weighted by 1 / (error^2 + floor^2)."""
        weight = valid.to(recon.dtype) / (err**2 + self.config.error_floor**2)
        residual = torch.where(valid, recon - x, torch.zeros_like(x))
        return (weight * residual**2).sum() / weight.sum().clamp_min(1e-12)


@dataclass
class HeadConfig:
    kind: str = "mlp"  # mlp or linear (probe)
    residual: bool = True  # also feed the error-scaled reconstruction residual
    hidden: int = 64
    depth: int = 1  # hidden layers of the MLP head
    dropout: float = 0.0
    n_side: int = N_SIDE  # G mag, BP-RP (+ XP EW and its S/N when 4)

    def to_dict(self) -> dict:
        return asdict(self)


class EmitterClassifier(nn.Module):
    """Encoder (frozen or partly unfrozen) + head; the logit is the emitter score."""

    def __init__(self, dae: DenoisingAutoencoder, config: HeadConfig) -> None:
        super().__init__()
        self.dae = dae
        self.config = config
        n_in = dae.config.latent + config.n_side + (dae.config.n_coeff if config.residual else 0)
        if config.kind == "linear":
            self.head: nn.Module = nn.Linear(n_in, 1)
        else:
            layers: list[nn.Module] = []
            for k in range(config.depth):
                layers += [nn.Linear(n_in if k == 0 else config.hidden, config.hidden), nn.GELU()]
                if config.dropout > 0:
                    layers.append(nn.Dropout(config.dropout))
            self.head = nn.Sequential(*layers, nn.Linear(config.hidden, 1))

    def forward(
        self, x: torch.Tensor, err: torch.Tensor, side: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logit, latent) for clean inputs; NaN (missing) coefficients are hidden."""
        missing = torch.isnan(x)
        x = torch.nan_to_num(x)
        z = self.dae.encode(x, missing)
        parts = [z, side]
        if self.config.residual:
            recon = self.dae.decoder(z)
            scale = torch.sqrt(torch.nan_to_num(err) ** 2 + self.dae.config.error_floor**2)
            residual = torch.where(missing, torch.zeros_like(x), (x - recon) / scale)
            parts.append(residual.clamp(-20, 20))
        return self.head(torch.cat(parts, dim=1)).squeeze(1), z
