"""The two training phases of the denoising autoencoder, as readable loops (nanoGPT style).

Phase 1 (unsupervised, every training-split source): hide all of BP or all of RP (the
reference design) or, optionally, a random block of coefficients, add noise drawn from the
quoted errors, and reconstruct every measured coefficient under an error-weighted loss.
Data arrive as (x, err) chunks from any iterator, so the same loop trains from the Dask feed
or from in-memory tensors. A checkpoint (model args, config, weights, optimizer, epoch,
history) is written every epoch next to config.json; ``resume`` continues from it.

Phase 2 (labelled): a head on the frozen encoder (default), a linear probe, or a low-LR
partial unfreeze that keeps the reconstruction loss on so the latent space cannot collapse.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sql.errors import XphaError
from training.autoencoder.model import (
    DAEConfig,
    DenoisingAutoencoder,
    EmitterClassifier,
    HeadConfig,
)
from training.settings import Phase1Config, Phase2Config

CHECKPOINT = "checkpoint.pt"
N_BAND = 55
PHASE2_MODES = ("frozen", "linear", "unfreeze")


def pick_device(setting: str = "auto") -> tuple[torch.device, torch.dtype | None]:
    """The device and its autocast dtype: CUDA with bfloat16 AMP when available, else CPU."""
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda"):
        if not torch.cuda.is_available():
            raise XphaError("XPHA_TRAINING_DEVICE asks for CUDA but no CUDA device is available")
        return torch.device(setting), torch.bfloat16
    return torch.device(setting), None


def _autocast(device: torch.device, amp: torch.dtype | None):
    return torch.autocast(device.type, dtype=amp, enabled=amp is not None)


# --- phase 1 ------------------------------------------------------------------------------------
def get_lr(step: int, total: int, config: Phase1Config) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < config.dae_warmup_steps:
        return config.dae_lr * (step + 1) / config.dae_warmup_steps
    progress = min(1.0, (step - config.dae_warmup_steps) / max(1, total - config.dae_warmup_steps))
    return config.dae_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def corrupt(
    x: torch.Tensor, err: torch.Tensor, config: Phase1Config, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy x, hidden mask): one band or a block hidden per row, noise from the errors."""
    n, d = x.shape
    device = x.device
    draw = torch.rand(n, generator=generator, device=device)
    column = torch.arange(d, device=device)[None, :]
    which = torch.rand(n, generator=generator, device=device) < 0.5
    is_bp = column < N_BAND
    hidden = (draw < config.dae_p_band)[:, None] & torch.where(which[:, None], is_bp, ~is_bp)
    if config.dae_mask_mode == "band+block":
        lo, hi = config.dae_block_length
        length = torch.randint(lo, hi + 1, (n, 1), generator=generator, device=device)
        start = (torch.rand(n, 1, generator=generator, device=device) * (d - length)).long()
        in_block = (column >= start) & (column < start + length)
        block_rows = (draw >= config.dae_p_band) & (draw < config.dae_p_band + config.dae_p_block)
        hidden |= block_rows[:, None] & in_block
    noisy = x + config.dae_noise * err * torch.randn(x.shape, generator=generator, device=device)
    return noisy, hidden


def phase1_loss(
    model: DenoisingAutoencoder,
    x: torch.Tensor,
    err: torch.Tensor,
    config: Phase1Config,
    generator: torch.Generator,
) -> torch.Tensor:
    valid = torch.isfinite(x) & torch.isfinite(err)
    x, err = torch.nan_to_num(x), torch.nan_to_num(err)
    noisy, hidden = corrupt(x, err, config, generator)
    recon, _ = model(noisy, hidden | ~valid)
    return model.weighted_loss(recon, x, err, valid)


@torch.no_grad()
def estimate_loss(
    model: DenoisingAutoencoder,
    val: tuple[np.ndarray, np.ndarray],
    config: Phase1Config,
    device: torch.device,
    amp: torch.dtype | None,
) -> float:
    """Validation loss on a fixed set with a fixed corruption seed (comparable across epochs)."""
    generator = torch.Generator(device=device).manual_seed(config.training_seed + 1)
    total, count = 0.0, 0
    for lo in range(0, len(val[0]), 8192):
        x = torch.from_numpy(val[0][lo : lo + 8192]).to(device)
        e = torch.from_numpy(val[1][lo : lo + 8192]).to(device)
        with _autocast(device, amp):
            total += float(phase1_loss(model, x, e, config, generator)) * len(x)
        count += len(x)
    return total / max(count, 1)


def train_phase1(
    epoch_chunks: Callable[[int], Iterable[tuple[np.ndarray, np.ndarray]]],
    n_rows: int,
    val: tuple[np.ndarray, np.ndarray],
    model_config: DAEConfig,
    config: Phase1Config,
    checkpoint_dir: Path,
    resume: bool = False,
) -> tuple[DenoisingAutoencoder, list[dict]]:
    """Train on ``epoch_chunks(epoch)`` (an iterable of (x, err) numpy chunks per epoch)."""
    device, amp = pick_device(config.training_device)
    torch.manual_seed(config.training_seed)
    model = DenoisingAutoencoder(model_config).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.dae_lr, weight_decay=config.dae_weight_decay
    )
    start_epoch, step, best_val, history = 0, 0, math.inf, []
    checkpoint = Path(checkpoint_dir) / CHECKPOINT
    if resume:
        if not checkpoint.exists():
            raise XphaError(f"cannot resume: {checkpoint} does not exist")
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, step = state["epoch"] + 1, state["step"]
        best_val, history = state["best_val"], state["history"]
    total_steps = config.dae_epochs * max(1, math.ceil(n_rows / config.dae_batch_size))
    generator = torch.Generator(device=device).manual_seed(config.training_seed + start_epoch)
    rng = np.random.default_rng(config.training_seed + start_epoch)
    for epoch in range(start_epoch, config.dae_epochs):
        model.train()
        seen, running = 0, 0.0
        bar = tqdm(
            total=n_rows, desc=f"DAE phase 1 epoch {epoch + 1}/{config.dae_epochs}", unit="src"
        )
        for x_chunk, e_chunk in epoch_chunks(epoch):
            order = rng.permutation(len(x_chunk))
            x_all = torch.from_numpy(x_chunk[order]).to(device, non_blocking=True)
            e_all = torch.from_numpy(e_chunk[order]).to(device, non_blocking=True)
            for lo in range(0, len(order), config.dae_batch_size):
                for group in optimizer.param_groups:
                    group["lr"] = get_lr(step, total_steps, config)
                x, e = (
                    x_all[lo : lo + config.dae_batch_size],
                    e_all[lo : lo + config.dae_batch_size],
                )
                with _autocast(device, amp):
                    loss = phase1_loss(model, x, e, config, generator)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                step += 1
                running += float(loss.detach()) * len(x)
                seen += len(x)
                bar.update(len(x))
            bar.set_postfix(loss=f"{running / max(seen, 1):.4f}")
        bar.close()
        model.eval()
        val_loss = estimate_loss(model, val, config, device, amp)
        history.append(
            {
                "phase": 1,
                "epoch": epoch + 1,
                "train_loss": running / max(seen, 1),
                "val_loss": val_loss,
            }
        )
        best_val = min(best_val, val_loss)
        _save_checkpoint(checkpoint, model, optimizer, config, epoch, step, best_val, history)
    return model.cpu(), history


def _save_checkpoint(path, model, optimizer, config, epoch, step, best_val, history) -> None:
    """Checkpoint plus a human-readable config.json next to it; written atomically."""
    state = {
        "model_args": model.config.to_dict(),
        "config": config.model_dump(include=set(Phase1Config.model_fields)),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "step": step,
        "best_val": best_val,
        "history": history,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    (path.parent / "phase1_config.json").write_text(
        json.dumps({"model_args": state["model_args"], "config": state["config"]}, indent=2)
    )


def load_phase1(checkpoint_dir: Path) -> DenoisingAutoencoder:
    state = torch.load(Path(checkpoint_dir) / CHECKPOINT, map_location="cpu", weights_only=False)
    model = DenoisingAutoencoder(DAEConfig(**state["model_args"]))
    model.load_state_dict(state["model"])
    return model


# --- phase 2 ------------------------------------------------------------------------------------
LabelledArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x, err, side, y


def train_phase2(
    dae: DenoisingAutoencoder,
    train: LabelledArrays,
    val: LabelledArrays,
    config: Phase2Config,
    mode: str = "frozen",
    corruption: Phase1Config | None = None,
) -> tuple[EmitterClassifier, list[dict]]:
    """Fit the head; keep the epoch with the best validation average precision (and stop after
    ``head_patience`` epochs without a better one). The head's side inputs are ``train[2]``'s
    columns. ``mode``: frozen (MLP head), linear (probe), or unfreeze (low-LR last encoder layers,
    keeping the reconstruction loss under ``corruption``, phase 1's by default)."""
    from sklearn.metrics import average_precision_score

    if mode not in PHASE2_MODES:
        raise XphaError(f"phase-2 mode must be one of {PHASE2_MODES}, not {mode!r}")
    device, amp = pick_device(config.training_device)
    torch.manual_seed(config.training_seed)
    head = HeadConfig(
        kind="linear" if mode == "linear" else "mlp",
        residual=config.head_residual and mode != "linear",
        hidden=config.head_hidden,
        depth=config.head_depth,
        dropout=config.head_dropout,
        n_side=train[2].shape[1],
    )
    model = EmitterClassifier(copy.deepcopy(dae), head).to(device)
    for parameter in model.dae.parameters():
        parameter.requires_grad_(False)
    groups = [{"params": list(model.head.parameters()), "lr": config.head_lr}]
    if mode == "unfreeze":
        top = [*model.dae.encoder[-2].parameters(), *model.dae.encoder[-1].parameters()]
        for parameter in top:
            parameter.requires_grad_(True)
        groups.append({"params": top, "lr": config.head_lr * config.head_unfreeze_lr_factor})
    optimizer = torch.optim.AdamW(groups, weight_decay=config.head_weight_decay)
    y_train = train[3]
    pos_weight = torch.tensor((1 - y_train).sum() / max(y_train.sum(), 1), device=device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    tensors = [torch.from_numpy(a).to(device) for a in train]
    generator = torch.Generator(device=device).manual_seed(config.training_seed)
    recon_config = corruption or Phase1Config(training_seed=config.training_seed)
    best: tuple[float, dict[str, Any] | None] = (-1.0, None)
    best_epoch = 0
    history: list[dict] = []
    for epoch in tqdm(range(config.head_epochs), desc=f"DAE phase 2 ({mode})", unit="epoch"):
        model.train()
        order = torch.randperm(len(y_train), generator=generator, device=device)
        running = 0.0
        for lo in range(0, len(order), config.head_batch_size):
            index = order[lo : lo + config.head_batch_size]
            x, e, side, y = (t[index] for t in tensors)
            with _autocast(device, amp):
                logit, _ = model(x, e, side)
                loss = loss_fn(logit.float(), y)
                if mode == "unfreeze" and config.head_recon_weight > 0:
                    loss = loss + config.head_recon_weight * phase1_loss(
                        model.dae, x, e, recon_config, generator
                    )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += float(loss.detach()) * len(index)
        val_scores = predict_logits(model, val[0], val[1], val[2], device)[0]
        val_ap = float(average_precision_score(val[3], val_scores))
        history.append(
            {"phase": 2, "epoch": epoch + 1, "train_loss": running / len(y_train), "val_ap": val_ap}
        )
        if val_ap > best[0]:
            best, best_epoch = (val_ap, copy.deepcopy(model.state_dict())), epoch
        elif config.head_patience and epoch - best_epoch >= config.head_patience:
            break
    if best[1] is not None:  # the best epoch's weights (none when no epoch ran)
        model.load_state_dict(best[1])
    return model.cpu(), history


@torch.no_grad()
def predict_logits(
    model: EmitterClassifier,
    x: np.ndarray,
    err: np.ndarray,
    side: np.ndarray,
    device: torch.device | None = None,
    chunk: int = 65536,
) -> tuple[np.ndarray, np.ndarray]:
    """(logits, latents) for numpy inputs, in chunks (memory flat at any size)."""
    device = device or next(model.parameters()).device
    model.eval()
    logits, latents = [], []
    for lo in range(0, len(x), chunk):
        parts = [torch.from_numpy(a[lo : lo + chunk]).to(device) for a in (x, err, side)]
        logit, z = model(*parts)
        logits.append(logit.float().cpu().numpy())
        latents.append(z.float().cpu().numpy())
    if not logits:
        return np.zeros(0, np.float32), np.zeros((0, model.dae.config.latent), np.float32)
    return np.concatenate(logits), np.concatenate(latents)
