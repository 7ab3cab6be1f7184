"""Train a built-in victim on its training split and save the weights that score best on val.

Read top to bottom: the settings, the data, the loop, the save. Run it as
``python -m rlab_core train-victim --victim NAME [--seed S]``; the shipped weights were made with
the victim's profile's ``training`` settings (:mod:`rlab_core.victims.profiles`) and seed 0.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rlab_core.callbacks import Callback, as_callbacks
from rlab_core.files import atomic_path
from rlab_core.victims.profiles import PROFILES, VictimProfile, get_profile


@dataclass(frozen=True)
class TrainConfig:
    victim: str
    seed: int = 0
    epochs: int = 12
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    fresh_data_each_epoch: bool = False  # clips draw new motions every epoch
    flip_and_shift: bool = False  # image augmentation: horizontal flip and up to 2 px shift
    stretch_and_noise: bool = False  # ECG augmentation: up to 6% time stretch or squeeze, slight noise


def stretch_and_noise(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Resample each beat ``(B, 1, T)`` from a window 6% wider or narrower, centred, then add noise."""
    batch, _, length = x.shape
    scale = 1 + (torch.rand(batch, generator=rng) - 0.5) * 0.12
    positions = torch.linspace(-1, 1, length)[None, :] * scale[:, None]
    grid = torch.stack([positions, torch.zeros_like(positions)], dim=-1)[:, None]  # (B, 1, T, 2)
    warped = F.grid_sample(x[:, :, None, :], grid, padding_mode="border", align_corners=True)[:, :, 0]
    return (warped + 0.01 * torch.randn(warped.shape, generator=rng)).clamp(0, 1)


def flip_and_shift(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    flip = torch.rand(len(x), generator=rng) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = F.pad(x, (2, 2, 2, 2))
    dy, dx = torch.randint(0, 5, (2,), generator=rng).tolist()
    return padded[..., dy:dy + x.shape[-2], dx:dx + x.shape[-1]]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    model.eval()
    hits = sum((model(x[i:i + batch_size]).argmax(-1) == y[i:i + batch_size]).sum().item()
               for i in range(0, len(x), batch_size))
    return hits / len(y)


@torch.no_grad()
def present_accuracy(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, batch_size: int = 256) -> float:
    """For a multi-label victim: the share of items whose ``k`` highest scores are exactly their ``k``
    classes present (``k`` per item, from the multi-hot ``targets``)."""
    model.eval()
    hits = 0
    for i in range(0, len(x), batch_size):
        scores, present = model(x[i:i + batch_size]), targets[i:i + batch_size].bool()
        k = present.sum(dim=1)
        order = scores.argsort(dim=1, descending=True)
        ranks = torch.empty_like(order)
        ranks.scatter_(1, order, torch.arange(scores.shape[1]).expand_as(order))
        hits += int(((ranks < k[:, None]) == present).all(dim=1).sum())
    return hits / len(x)


def train_victim(config: TrainConfig, callbacks: Callback | Sequence[Callback] = ()) -> dict:
    """Train ``config.victim``; write its weights to ``assets/victims``; return a summary. ``callbacks``
    follow the epochs (a phase ``"epochs"``, a message each)."""
    callbacks = as_callbacks(callbacks)
    spec: VictimProfile = get_profile(config.victim)
    if not spec.trained_here:
        raise ValueError(f"{spec.name} is pretrained and needs no training")
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)

    x_val, y_val = spec.dataset("val").arrays()
    x_train, y_train = spec.dataset("train").arrays()
    # A multi-label victim learns each class present on its own (targets are multi-hot), and is scored
    # by whether its top scores are exactly the classes present.
    loss_of = F.binary_cross_entropy_with_logits if spec.multi_label else partial(F.cross_entropy, label_smoothing=0.05)
    score_of = present_accuracy if spec.multi_label else accuracy
    model = spec.build()
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(x_train) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch)

    best_acc, best_state, started = -1.0, None, time.time()
    callbacks.on_phase("epochs", config.epochs, f"[{spec.name}] training for {config.epochs} epochs")
    for epoch in range(config.epochs):
        if config.fresh_data_each_epoch and epoch > 0:
            x_train, y_train = type(spec.dataset("train"))("train", epoch=epoch).arrays()
        model.train()
        order = torch.randperm(len(x_train), generator=rng)
        total_loss = 0.0
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            xb = x_train[idx]
            if config.flip_and_shift:
                xb = flip_and_shift(xb, rng)
            if config.stretch_and_noise:
                xb = stretch_and_noise(xb, rng)
            loss = loss_of(model(xb), y_train[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total_loss += loss.item() * len(idx)
        val_acc = score_of(model, x_val, y_val)
        if val_acc > best_acc:
            best_acc, best_state = val_acc, {k: v.detach().clone() for k, v in model.state_dict().items()}
        callbacks.on_advance(1, f"[{spec.name}] epoch {epoch + 1}/{config.epochs} loss {total_loss / len(order):.4f} "
                                f"val_acc {val_acc:.4f} ({time.time() - started:.0f}s)")
    callbacks.on_phase_end()

    with atomic_path(spec.weights_path) as written:
        torch.save(best_state, written)
    return {"victim": spec.name, "seed": config.seed, "best_val_accuracy": best_acc,
            "seconds": round(time.time() - started, 1), "weights": str(spec.weights_path)}


def config_for(victim: str, seed: int = 0) -> TrainConfig:
    """The training settings of built-in ``victim`` (its profile's ``training``) with ``seed``."""
    settings = get_profile(victim).training
    if settings is None:
        trainable = [name for name, profile in PROFILES.items() if profile.trained_here]
        raise ValueError(f"no training recipe for {victim!r}; trainable victims: {', '.join(trainable)}")
    return TrainConfig(victim, seed=seed, **settings)
