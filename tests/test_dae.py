"""The denoising autoencoder: corruption, error weighting, checkpoints/resume, phase-2 modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sql.errors import XphaError
from training.autoencoder import train as dae_train
from training.autoencoder.model import (
    DAEConfig,
    DenoisingAutoencoder,
    EmitterClassifier,
    HeadConfig,
)
from training.evaluate import latent_geometry

# the small head these tests were written for (64 wide, one layer, no dropout), on the CPU
SMALL_HEAD = {"head_hidden": 64, "head_depth": 1, "head_dropout": 0.0, "training_device": "cpu"}


def _arrays(n: int, seed: int = 0):
    """Low-rank 'spectra' with errors, and labels that depend on a narrow RP feature."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(4, 110))
    y = (rng.random(n) < 0.2).astype(np.float32)
    x = (rng.normal(size=(n, 4)) + 2.5 * y[:, None] * [1, -1, 0, 0]) @ basis
    x[:, 60:64] += 3 * y[:, None]
    err = np.full((n, 110), 0.1)
    x = x + rng.normal(size=x.shape) * err
    side = rng.normal(size=(n, 2))
    return x.astype(np.float32), err.astype(np.float32), side.astype(np.float32), y


@pytest.mark.parametrize(
    ("mode", "p_band", "p_block"), [("band", 1.0, 0.0), ("band+block", 0.0, 1.0)]
)
def test_corruption_hides_a_whole_band_or_one_block(mode, p_band, p_block):
    config = dae_train.Phase1Config(dae_mask_mode=mode, dae_p_band=p_band, dae_p_block=p_block)
    x = torch.zeros(500, 110)
    _, hidden = dae_train.corrupt(x, torch.zeros_like(x), config, torch.Generator().manual_seed(0))
    counts = hidden.sum(1)
    if mode == "band":
        assert torch.all(counts == 55)
        assert torch.all(hidden[:, :55].all(1) | hidden[:, 55:].all(1))
    else:
        lo, hi = config.dae_block_length
        assert torch.all((counts >= lo) & (counts <= hi))
        first = hidden.float().argmax(1)
        assert all(hidden[i, first[i] : first[i] + counts[i]].all() for i in range(50))


def test_error_weighted_loss_ignores_missing_and_downweights_noisy():
    model = DenoisingAutoencoder(DAEConfig())
    x = torch.zeros(1, 110)
    recon = torch.ones(1, 110)
    valid = torch.ones(1, 110, dtype=torch.bool)
    precise, noisy = torch.full((1, 110), 0.01), torch.full((1, 110), 0.01)
    noisy[0, :55] = 100.0
    assert model.weighted_loss(recon, x, precise, valid) == pytest.approx(1.0)
    # residuals of 3 on the noisy half barely count
    recon_bad = recon.clone()
    recon_bad[0, :55] = 3.0
    assert float(model.weighted_loss(recon_bad, x, noisy, valid)) < 1.01
    valid[0, :55] = False
    assert float(model.weighted_loss(recon_bad, x, precise, valid)) == pytest.approx(1.0)


def _phase1(tmp_path, epochs: int, resume: bool = False):
    x, err, _, _ = _arrays(1200)

    def chunks(epoch):
        return [(x[:600], err[:600]), (x[600:], err[600:])]

    config = dae_train.Phase1Config(
        dae_epochs=epochs, dae_batch_size=200, training_device="cpu", dae_warmup_steps=5
    )
    return dae_train.train_phase1(
        chunks,
        1200,
        (x[:300], err[:300]),
        DAEConfig(hidden=64, latent=8),
        config,
        tmp_path,
        resume=resume,
    )


def test_phase1_learns_checkpoints_and_resumes(tmp_path):
    _, history = _phase1(tmp_path, epochs=2)
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["val_loss"] < history[0]["val_loss"] * 1.5
    assert (tmp_path / dae_train.CHECKPOINT).exists()
    assert (tmp_path / "phase1_config.json").exists()
    resumed, history = _phase1(tmp_path, epochs=4, resume=True)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    reloaded = dae_train.load_phase1(tmp_path)
    for a, b in zip(reloaded.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(XphaError, match="cannot resume"):
        _phase1(tmp_path, epochs=1, resume=True)


@pytest.fixture(scope="module")
def phase1_model(tmp_path_factory):
    return _phase1(tmp_path_factory.mktemp("phase1"), epochs=1)[0]


@pytest.mark.parametrize("mode", ["frozen", "linear", "unfreeze"])
def test_phase2_modes_touch_only_what_they_should(phase1_model, mode):
    dae = phase1_model
    before = {k: v.clone() for k, v in dae.state_dict().items()}
    x, err, side, y = _arrays(1000, seed=1)
    train = (x[:600], err[:600], side[:600], y[:600])
    val = (x[600:], err[600:], side[600:], y[600:])
    config = dae_train.Phase2Config(head_epochs=4, head_batch_size=64, head_lr=1e-2, **SMALL_HEAD)
    classifier, history = dae_train.train_phase2(dae, train, val, config, mode)
    assert max(h["val_ap"] for h in history) > 1.5 * y[600:].mean()  # clearly above chance
    for name, value in classifier.dae.state_dict().items():
        changed = not torch.equal(value, before[name])
        top_layer = name.startswith(("encoder.1.", "encoder.2."))
        assert changed == (mode == "unfreeze" and top_layer), name
    for name, value in dae.state_dict().items():  # the phase-1 model itself is never touched
        assert torch.equal(value, before[name])


def test_latent_geometry_sees_collapse():
    rng = np.random.default_rng(0)
    isotropic = rng.normal(size=(5000, 8))
    collapsed = isotropic.copy()
    collapsed[:, 0] *= 20
    healthy, sick = latent_geometry(isotropic), latent_geometry(collapsed)
    assert healthy["pc1_fraction"] < 0.2 < 0.8 < sick["pc1_fraction"]
    assert sick["effective_rank"] < healthy["effective_rank"] <= 8


def test_cpu_device_and_clear_cuda_error():
    device, amp = dae_train.pick_device("cpu")
    assert device.type == "cpu" and amp is None
    if not torch.cuda.is_available():
        assert dae_train.pick_device("auto")[0].type == "cpu"
        with pytest.raises(XphaError, match="CUDA"):
            dae_train.pick_device("cuda")


@pytest.mark.parametrize(("depth", "dropout", "n_side"), [(1, 0.0, 2), (2, 0.2, 4), (3, 0.0, 4)])
def test_head_shape_follows_its_config_and_reloads(phase1_model, depth, dropout, n_side):
    head = HeadConfig(hidden=32, depth=depth, dropout=dropout, n_side=n_side)
    model = EmitterClassifier(phase1_model, head)
    linears = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert len(linears) == depth + 1
    assert linears[0].in_features == 8 + n_side + 110
    assert any(isinstance(m, torch.nn.Dropout) for m in model.head) == (dropout > 0)
    reloaded = EmitterClassifier(phase1_model, HeadConfig(**head.to_dict()))
    reloaded.load_state_dict(model.state_dict())  # the saved config rebuilds the same head


def test_phase2_uses_extra_side_inputs_and_stops_after_patience(phase1_model):
    x, err, side, y = _arrays(1000, seed=2)
    informative = np.stack([y * 3 + np.random.default_rng(0).normal(size=len(y)), y], 1)
    side = np.concatenate([side, informative.astype(np.float32)], axis=1)
    train = (x[:600], err[:600], side[:600], y[:600])
    val = (x[600:], err[600:], side[600:], y[600:])
    config = dae_train.Phase2Config(
        head_epochs=30, head_batch_size=64, head_lr=1e-2, head_patience=2, **SMALL_HEAD
    )
    classifier, history = dae_train.train_phase2(phase1_model, train, val, config)
    assert classifier.config.n_side == 4
    assert max(h["val_ap"] for h in history) > 0.95  # the side input gives the label away
    best = int(np.argmax([h["val_ap"] for h in history]))
    assert len(history) == best + 1 + 2 < 30  # stopped two epochs after the best one
