"""Adversarial fine-tuning as a component: :class:`Hardener`, shaped like ART's ``AdversarialTrainer``.

ART's trainer is built from a classifier, its attacks and a ``ratio`` (the adversarial share of
each batch) and has a ``fit``. A :class:`Hardener` is built from a built-in
:class:`~rlab_core.victims.Victim`, the RL agent that attacks it and the same ``ratio``:

- :meth:`Hardener.generate` lets the agent attack inputs, each with the next filter setting in
  turn (:data:`~rlab_core.robustness.config.SETTINGS`), and keeps every success at its true label;
- :meth:`Hardener.fit` fine-tunes a copy of the victim's network on batches of clean training
  items (with the victim's own training augmentation) and adversarial samples, ``ratio`` of each
  batch, drawn from the fixed pool :meth:`generate` made (an RL attack per batch would cost far
  more). After each epoch the validation score is the mean of the clean and the adversarial
  validation accuracy; the best epoch is kept (epoch 0, the shipped weights, included) and
  training stops after ``patience`` epochs without gain.

The two are apart so that a run keeps each as a step it can resume from. Hardened weights never
go over a victim's shipped weights (:func:`save_hardened`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from rlab_core.attacks.rl import RLAttack
from rlab_core.callbacks import Callback, CallbackList, as_callbacks
from rlab_core.files import atomic_path
from rlab_core.robustness.config import SETTINGS, RobustnessConfig, RobustnessError
from rlab_core.victims import PROFILES, Victim
from rlab_core.victims.train import accuracy, flip_and_shift, stretch_and_noise
from rlab_core.victims.train import config_for as training_config

if TYPE_CHECKING:
    from rlab_core.agents.agent import Agent


@dataclass
class AdversarialSet:
    """Adversarial samples at their true labels, and how many attacks of each setting fooled."""

    x: list[torch.Tensor] = field(default_factory=list)
    y: list[int] = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # setting -> {"attacked": n, "fooled": k}

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.stack(self.x), torch.tensor(self.y, dtype=torch.long)

    def saved(self) -> dict:
        """The set as a run's kept step holds it: tensors, numbers and strings (``torch.load(weights_only=True)``)."""
        x, y = self.arrays() if len(self) else (torch.empty(0), torch.empty(0, dtype=torch.long))
        return {"x": x, "y": y, "counts": self.counts}

    @classmethod
    def from_saved(cls, saved: dict) -> AdversarialSet:
        return cls(list(saved["x"]), saved["y"].tolist(), saved["counts"])

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class FineTuned:
    """What :meth:`Hardener.fit` gives: the best state, the history (epoch 0 is the shipped weights) and the best epoch."""

    state: dict
    history: list[dict]
    best_epoch: int


class Hardener:
    """Adversarial fine-tuning of built-in ``victim`` against ``agent`` (see the module's docstring).

    Args:
        victim: a built-in victim (its profile gives the training data and augmentation).
        agent: the RL agent whose successes become training samples.
        ratio: the adversarial share of every batch, in ``[0, 1)``.
        epochs, patience, lr, batch_size: of the fine-tuning (AdamW, cosine schedule).
        clean_per_epoch: clean training items per epoch (a fresh random subset); ``None``: all.
        seed: fixes the batches and the augmentation.
    """

    def __init__(self, victim: Victim, agent: Agent, *, ratio: float = 0.5, epochs: int = 20, patience: int = 4,
                 lr: float = 5e-4, batch_size: int = 64, clean_per_epoch: int | None = None, seed: int = 0) -> None:
        if victim.profile is None or not victim.profile.trained_here:
            raise RobustnessError(f"{victim.name} is not a victim trained here: there is no training split to fine-tune on")
        if not 0 <= ratio < 1:
            raise RobustnessError(f"ratio must be in [0, 1), got {ratio}")
        if epochs < 1 or patience < 1 or batch_size < 2 or not lr > 0:
            raise RobustnessError("epochs and patience are at least 1, batch_size at least 2, lr positive")
        self.victim, self.agent, self.ratio, self.seed = victim, agent, ratio, seed
        self.epochs, self.patience, self.lr, self.batch_size = epochs, patience, lr, batch_size
        self.clean_per_epoch = clean_per_epoch

    @classmethod
    def from_config(cls, config: RobustnessConfig, victim: Victim, agent: Agent) -> Hardener:
        return cls(victim, agent, ratio=config.ratio, epochs=config.epochs, patience=config.patience, lr=config.lr,
                   batch_size=config.batch_size, clean_per_epoch=config.clean_per_epoch, seed=config.seed)

    def generate(self, inputs: list[tuple[torch.Tensor, int]], budget: int, seed: int,
                 callbacks: Callback | Sequence[Callback] = ()) -> AdversarialSet:
        """The agent attacks each input with the next filter setting; every success is kept.
        Input ``k`` is attacked with seed ``seed + k``; each attack is a step for ``callbacks``."""
        callbacks = as_callbacks(callbacks)
        found = AdversarialSet(counts={s: {"attacked": 0, "fooled": 0} for s in SETTINGS})
        for k, (x, y) in enumerate(inputs):
            setting = SETTINGS[k % len(SETTINGS)]
            result = RLAttack(self.agent, setting).run(self.victim, x, y, budget=budget, seed=seed + k)
            found.counts[setting]["attacked"] += 1
            if result.success:
                found.counts[setting]["fooled"] += 1
                found.x.append(result.x_adv.detach().float())
                found.y.append(int(y))
            callbacks.on_advance()
        return found

    def fit(self, train_adv: AdversarialSet, val_adv: AdversarialSet,
            callbacks: Callback | Sequence[Callback] = ()) -> FineTuned:
        """Fine-tune a copy of the victim's network on ``train_adv``, stopping on ``val_adv``;
        ``callbacks`` follow a phase ``"fine-tune"`` of one step per batch, and each epoch's scores."""
        if not len(train_adv):
            raise RobustnessError("the agent fooled none of the training inputs: nothing to fine-tune on")
        callbacks = as_callbacks(callbacks)
        torch.manual_seed(self.seed)
        rng = torch.Generator().manual_seed(self.seed)
        model = network_copy(self.victim)
        assert self.victim.profile is not None  # checked in __init__
        train = self.victim.profile.dataset("train").arrays()
        val = self.victim.profile.dataset("val").arrays()
        n_adv = max(1, round(self.ratio * self.batch_size)) if self.ratio > 0 else 0
        per_epoch = min(len(train[1]), self.clean_per_epoch or len(train[1]))
        steps = -(-per_epoch // (self.batch_size - n_adv))
        optimiser = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=self.epochs * steps)
        history = [_score(model, val, val_adv, 0, None)]
        best, best_state, waited = history[0], _copy(model), 0
        callbacks.on_phase("fine-tune", self.epochs * steps,
                           f"Fine-tuning on {per_epoch} clean items per epoch and {len(train_adv)} adversarial samples "
                           f"({n_adv} of every {self.batch_size}); shipped weights: validation score {best['score']:.3f}")
        for epoch in range(1, self.epochs + 1):
            loss = self._epoch(model, optimiser, schedule, train, train_adv, n_adv, per_epoch, rng, callbacks)
            entry = _score(model, val, val_adv, epoch, loss)
            history.append(entry)
            better = entry["score"] > best["score"]
            best, best_state, waited = (entry, _copy(model), 0) if better else (best, best_state, waited + 1)
            callbacks.on_message(f"epoch {epoch}/{self.epochs}: loss {entry['loss']:.4f}, validation clean "
                                 f"{entry['val_clean_accuracy']:.3f}, adversarial {entry['val_adversarial_accuracy']}, "
                                 f"score {entry['score']:.3f}{' (best)' if better else ''}")
            if waited >= self.patience:
                callbacks.on_message(f"no better validation score for {waited} epochs: stopping after epoch {epoch}")
                break
        callbacks.on_phase_end()
        return FineTuned(best_state, history, best["epoch"])

    def _epoch(self, model: nn.Module, optimiser: torch.optim.Optimizer, schedule, train: tuple[torch.Tensor, torch.Tensor],
               train_adv: AdversarialSet, n_adv: int, per_epoch: int, rng: torch.Generator,
               callbacks: CallbackList) -> float:
        """One epoch of mixed batches; the mean loss per sample."""
        assert self.victim.profile is not None
        augment = training_config(self.victim.profile.name, self.seed)  # the victim's own training augmentation
        x_train, y_train = train
        x_adv, y_adv = train_adv.arrays()
        n_clean = self.batch_size - n_adv
        model.train()
        order, total, seen = torch.randperm(len(x_train), generator=rng)[:per_epoch], 0.0, 0
        for start in range(0, len(order), n_clean):
            idx = order[start:start + n_clean]
            xb, yb = x_train[idx], y_train[idx]
            if augment.flip_and_shift:
                xb = flip_and_shift(xb, rng)
            if augment.stretch_and_noise:
                xb = stretch_and_noise(xb, rng)
            if n_adv:
                pick = torch.randint(len(x_adv), (n_adv,), generator=rng)
                xb, yb = torch.cat([xb, x_adv[pick]]), torch.cat([yb, y_adv[pick]])
            loss = F.cross_entropy(model(xb), yb, label_smoothing=0.05)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total, seen = total + loss.item() * len(yb), seen + len(yb)
            callbacks.on_advance()
        return total / seen



def _score(model: nn.Module, val: tuple[torch.Tensor, torch.Tensor], val_adv: AdversarialSet, epoch: int,
           loss: float | None) -> dict:
    """An epoch's validation figures; its ``score`` (what picks the best epoch) is the mean of the clean
    and the adversarial accuracy."""
    clean = accuracy(model, *val)
    adversarial = accuracy(model, *val_adv.arrays()) if len(val_adv) else None
    return {"epoch": epoch, "loss": None if loss is None else round(loss, 4), "val_clean_accuracy": round(clean, 4),
            "val_adversarial_accuracy": None if adversarial is None else round(adversarial, 4),
            "score": round(clean if adversarial is None else (clean + adversarial) / 2, 4)}


def _copy(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def network_copy(victim: Victim) -> nn.Module:
    """A fresh copy of built-in ``victim``'s network, safe to train (the cached one is never touched)."""
    assert victim.profile is not None
    model = victim.profile.build()
    network = victim.network
    assert isinstance(network, nn.Module)  # a built-in victim's network is a torch module
    model.load_state_dict(network.state_dict())
    return model


def shipped_copy(victim: str) -> nn.Module:
    """A fresh copy of built-in ``victim``'s shipped network."""
    return network_copy(Victim.builtin(victim))


def shipped_weights() -> set[Path]:
    return {profile.weights_path.resolve() for profile in PROFILES.values() if profile.trained_here}


def save_hardened(state: dict, path: Path) -> None:
    """Save fine-tuned weights at ``path``; refuse any victim's shipped weights file."""
    path = Path(path)
    if path.resolve() in shipped_weights():
        raise RobustnessError(f"{path} holds a victim's shipped weights: hardened weights never go there")
    with atomic_path(path) as partial:
        torch.save(state, partial)
