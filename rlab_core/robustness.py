"""Adversarial fine-tuning of a victim against its own RL agent, and the before/after report.

Reads top to bottom, its settings in :class:`RobustnessConfig` (presets ``quick``, ``default``
and ``full`` per victim, :func:`config_for`):

1. **Attack.** The victim's shipped agent attacks correctly classified items of the *training*
   split, each input with one filter setting in turn (the mixture, then each filter), at the
   report's budget and the 20% patch cap. Every attack that fools the victim gives an
   adversarial sample, kept at its true label. Items of the *validation* split are attacked the
   same way, for early stopping only.
2. **Fine-tune.** From the shipped weights, every batch mixes clean training items (with the
   victim's own training augmentation) and adversarial samples: a share ``ratio`` of each batch is
   adversarial, as ``ratio`` in ART's ``AdversarialTrainer`` (here drawn from the fixed pool of
   step 1, since an RL attack per batch would cost far more). After each epoch the validation
   score is the mean of the clean and the adversarial validation accuracy; the best epoch is
   kept (epoch 0, the shipped weights, included) and training stops after ``patience`` epochs
   without gain. The hardened weights go *beside* the shipped ones (``<victim>-hardened.pt``),
   never over them (:func:`save_hardened` refuses any victim's shipped weights path).
3. **Report** on the *test* split, which neither step saw, before (shipped weights) and after
   (hardened): clean accuracy; the shipped agent's success rate and median queries (a failure
   counts the whole budget) with the mixture and with each filter; ART's Square Attack (Linf) at
   a fixed ``eps``; and the accuracy on the adversarial samples that fooled the shipped weights
   (held out: made from test inputs). Then an **adaptive** attacker: an agent trained again,
   against the hardened victim, with the shipped agent's own recipe and number of PPO steps
   (the quick preset shrinks it, and says so), attacking the same test inputs.

Every query count comes from the :class:`~rlab_core.victims.blackbox.BlackBox` of each attack
(:class:`~rlab_core.attacks.rl.RLAttack` and :class:`~rlab_core.attacks.square.SquareLinfAttack`,
run on the shipped and on the hardened :class:`~rlab_core.victims.Victim`). Test inputs are the first
``n_eval`` items of the seeded test split that both networks classify correctly, so that both
sides are attacked on the same inputs; ``clean_accuracy`` covers the whole test split.

Long runs report progress through :class:`Progress` (bars on stderr, and a JSON file that the
app's Robustness page polls); the page runs ``python -m rlab_core robustness`` in the background
(``rlab_app.jobs.start_robustness``), in ``runs/robustness/<victim>/``. A run given a ``phases``
folder (``<out stem>.phases/`` on the command line) keeps each finished step there (:data:`STEPS`:
the attacks on the training split, fine-tuning, the test attacks before, after, and the adaptive
attacker's), so that a killed run resumes from its last finished step (:class:`RunSteps`). Every
step is seeded, so a resumed run gives the numbers of one never stopped.
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rlab_core import ROOT, background, relative_to_root
from rlab_core.agents.agent import (
    Agent,
    AgentTrainConfig,
    adaptive_agent_path,
    agent_path,
    load_agent,
    recipe,
    train_agent,
    training_inputs,
)
from rlab_core.attacks.rl import RLAttack
from rlab_core.attacks.session import default_max_patches
from rlab_core.attacks.square import SquareLinfAttack
from rlab_core.files import atomic_path, atomic_write_text
from rlab_core.filters import MIX
from rlab_core.run_record import run_record
from rlab_core.victims import PROFILES, Victim, file_sha256, get_profile, hardened_path
from rlab_core.victims.train import accuracy, flip_and_shift, stretch_and_noise
from rlab_core.victims.train import config_for as training_config
from rlab_core.victims.victim import Network, hardened_run_folder

SETTINGS = ("mix", *MIX)  # the filter settings of every RL attack here, in turn
PRESETS = ("quick", "default", "full")
REPORTS = ROOT / "benchmarks"  # the shipped reports: benchmarks/robustness-<victim>.json
PHASES = {"attack": "Attacking the training split", "fine-tune": "Fine-tuning",
          "evaluate": "Attacking the test split, before and after", "adaptive": "The adaptive attacker"}


class RobustnessError(ValueError):
    """A victim or setting that adversarial fine-tuning cannot serve."""


@dataclass(frozen=True)
class RobustnessConfig:
    victim: str
    preset: str = "default"
    seed: int = 0
    # 1. Adversarial samples from the shipped agent
    n_attack_inputs: int = 1000  # training inputs attacked (correctly classified ones)
    n_val_attacks: int = 200     # validation inputs attacked, for early stopping
    # 2. Fine-tuning
    ratio: float = 0.5           # adversarial share of every batch (ART AdversarialTrainer's ratio)
    epochs: int = 20
    patience: int = 4            # epochs without a better validation score before stopping
    lr: float = 5e-4
    batch_size: int = 64
    clean_per_epoch: int | None = None  # clean training items per epoch (a fresh random subset); None: all
    # 3. Report
    budget: int = 500            # queries per attack, the clean prediction included
    n_eval: int = 200            # test inputs attacked on each side
    n_square: int = 100          # of them, attacked by Square Attack too
    square_eps: float = 0.05     # Square Attack's Linf radius, in [0, 1] input scale
    n_samples: int = 4           # examples that fooled the shipped weights but not the hardened ones
    # The adaptive attacker: the shipped agent's recipe, with its own PPO steps unless set here
    adaptive_steps: int | None = None
    adaptive_recipe: dict = field(default_factory=dict)  # other overrides of that recipe (quick only)

    def command(self) -> str:
        flag = "" if self.preset == "default" else f" --{self.preset}"
        seed = "" if self.seed == 0 else f" --seed {self.seed}"
        return f"python -m rlab_core robustness --modality {get_profile(self.victim).modality} --victim {self.victim}{flag}{seed}"


# The adaptive attacker of a quick run: imitation only, on few inputs (a check of the pipeline,
# not a measurement).
QUICK_ADAPTIVE = {"n_inputs": 60, "imitation_epochs": 10, "dagger_rounds": 0, "n_val": 10, "val_budget": 100}
SIZES: dict[str, dict[str, Any]] = {
    "quick": {"n_attack_inputs": 120, "n_val_attacks": 40, "epochs": 4, "patience": 2, "budget": 100, "n_eval": 20,
              "n_square": 10, "n_samples": 3, "clean_per_epoch": 5000, "adaptive_steps": 0,
              "adaptive_recipe": QUICK_ADAPTIVE},
    "default": {"n_attack_inputs": 1000, "n_val_attacks": 200, "epochs": 20, "patience": 4, "budget": 500,
                "n_eval": 200, "n_square": 100},
    "full": {"n_attack_inputs": 5000, "n_val_attacks": 750, "epochs": 40, "patience": 6, "budget": 1000,
             "n_eval": 500, "n_square": 500},
}
def config_for(victim: str, preset: str = "default", seed: int = 0, **overrides) -> RobustnessConfig:
    """The settings of ``preset`` for ``victim``, with ``overrides``."""
    profile = get_profile(victim)
    if preset not in PRESETS:
        raise RobustnessError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    if profile.robustness is None or profile.agent_recipe is None:
        tunable = [name for name, p in PROFILES.items() if p.robustness is not None]
        raise RobustnessError(f"{victim} cannot be fine-tuned here (pretrained, or no agent recipe); "
                              f"fine-tunable victims: {', '.join(tunable)}")
    settings = {k: v for k, v in profile.robustness.items() if k != "sizes"}
    sizes = {**SIZES[preset], **profile.robustness.get("sizes", {}).get(preset, {})}
    return RobustnessConfig(victim, preset, seed, **{**settings, **sizes, **overrides})


# ------------------------------------------------------------------------------------ progress

class Progress(background.Progress):
    """Where a robustness run is (see :class:`rlab_core.background.Progress`), its phases named by :data:`PHASES`."""

    def __init__(self, path: Path | None = None, bars: bool = False, log: Callable[[str], Any] | None = None,
                 **info) -> None:
        super().__init__(path, bars=bars, labels=PHASES, **info)
        self.log = log

    def on_message(self, message: str, warning: bool = False) -> None:
        super().on_message(message, warning)
        if self.log is not None:
            self.log(f"warning: {message}" if warning else message)


# ------------------------------------------------------------------------- weights, never over

def shipped_weights() -> set[Path]:
    return {profile.weights_path.resolve() for profile in PROFILES.values() if profile.trained_here}


def save_hardened(state: dict, path: Path) -> None:
    """Save fine-tuned weights at ``path``; refuse any victim's shipped weights file."""
    path = Path(path)
    if path.resolve() in shipped_weights():
        raise RobustnessError(f"{path} holds a victim's shipped weights: hardened weights never go there")
    with atomic_path(path) as partial:
        torch.save(state, partial)


def shipped_copy(victim: str) -> nn.Module:
    """A fresh copy of the victim's shipped network, safe to train (the cached one is never touched)."""
    model = get_profile(victim).build()
    network = Victim.builtin(victim).network
    assert isinstance(network, nn.Module)  # a built-in victim's network is a torch module
    model.load_state_dict(network.state_dict())
    return model


# ------------------------------------------------------------------------- 1. adversarial samples

@dataclass
class AdversarialSet:
    """Adversarial samples at their true labels, and how many attacks of each setting fooled."""

    x: list[torch.Tensor] = field(default_factory=list)
    y: list[int] = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # setting -> {"attacked": n, "fooled": k}

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.stack(self.x), torch.tensor(self.y, dtype=torch.long)

    def saved(self) -> dict:
        """The set as a run's kept step holds it: tensors, numbers and strings (see :class:`RunSteps`)."""
        x, y = self.arrays() if len(self) else (torch.empty(0), torch.empty(0, dtype=torch.long))
        return {"x": x, "y": y, "counts": self.counts}

    @classmethod
    def from_saved(cls, saved: dict) -> AdversarialSet:
        return cls(list(saved["x"]), saved["y"].tolist(), saved["counts"])

    def __len__(self) -> int:
        return len(self.y)


def adversarial_samples(victim: Victim, agent: Agent, inputs: list[tuple[torch.Tensor, int]], budget: int, seed: int,
                        progress: Progress) -> AdversarialSet:
    """The shipped agent attacks each input with the next filter setting (:data:`SETTINGS`);
    every success is kept. Input ``k`` is attacked with seed ``seed + k``."""
    found = AdversarialSet(counts={s: {"attacked": 0, "fooled": 0} for s in SETTINGS})
    for k, (x, y) in enumerate(inputs):
        setting = SETTINGS[k % len(SETTINGS)]
        result = RLAttack(agent, setting).run(victim, x, y, budget=budget, seed=seed + k)
        found.counts[setting]["attacked"] += 1
        if result.success:
            found.counts[setting]["fooled"] += 1
            found.x.append(result.x_adv.detach().float())
            found.y.append(int(y))
        progress.on_advance()
    return found


# ----------------------------------------------------------------------------- 2. fine-tuning

def fine_tune(config: RobustnessConfig, train_adv: AdversarialSet, val_adv: AdversarialSet,
              progress: Progress) -> tuple[dict, list[dict], int]:
    """Fine-tune a copy of the shipped network; return the best state, the history (epoch 0 is
    the shipped weights) and the best epoch."""
    profile = get_profile(config.victim)
    if not len(train_adv):
        raise RobustnessError(f"the shipped agent fooled none of the {config.n_attack_inputs} training inputs "
                              f"within {config.budget} queries: nothing to fine-tune on")
    if not 0 <= config.ratio < 1:
        raise RobustnessError(f"ratio must be in [0, 1), got {config.ratio}")
    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    augment = training_config(config.victim, config.seed)  # the victim's own training augmentation
    model = shipped_copy(config.victim)
    x_train, y_train = profile.dataset("train").arrays()
    x_val, y_val = profile.dataset("val").arrays()
    x_adv, y_adv = train_adv.arrays()
    x_val_adv, y_val_adv = val_adv.arrays() if len(val_adv) else (None, None)
    n_adv = max(1, round(config.ratio * config.batch_size)) if config.ratio > 0 else 0
    n_clean = config.batch_size - n_adv
    per_epoch = min(len(x_train), config.clean_per_epoch or len(x_train))
    steps = -(-per_epoch // n_clean)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs * steps)

    def score(epoch: int, loss: float | None) -> dict:
        clean = accuracy(model, x_val, y_val)
        adversarial = accuracy(model, x_val_adv, y_val_adv) if x_val_adv is not None and y_val_adv is not None else None
        return {"epoch": epoch, "loss": None if loss is None else round(loss, 4), "val_clean_accuracy": round(clean, 4),
                "val_adversarial_accuracy": None if adversarial is None else round(adversarial, 4),
                "score": round(clean if adversarial is None else (clean + adversarial) / 2, 4)}

    history = [score(0, None)]
    best, best_state, waited = history[0], {k: v.clone() for k, v in model.state_dict().items()}, 0
    progress.on_phase("fine-tune", config.epochs * steps,
                   f"Fine-tuning on {per_epoch} clean items per epoch and {len(x_adv)} adversarial samples "
                   f"({n_adv} of every {config.batch_size}); shipped weights: validation score {best['score']:.3f}")
    for epoch in range(1, config.epochs + 1):
        model.train()
        order, total = torch.randperm(len(x_train), generator=rng)[:per_epoch], 0.0
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
            total += loss.item() * len(yb)
            progress.on_advance()
        entry = score(epoch, total / (len(order) + steps * n_adv))
        history.append(entry)
        better = entry["score"] > best["score"]
        if better:
            best, best_state, waited = entry, {k: v.detach().clone() for k, v in model.state_dict().items()}, 0
        else:
            waited += 1
        progress.on_message(f"epoch {epoch}/{config.epochs}: loss {entry['loss']:.4f}, validation clean "
                      f"{entry['val_clean_accuracy']:.3f}, adversarial {entry['val_adversarial_accuracy']}, "
                      f"score {entry['score']:.3f}{' (best)' if better else ''}")
        if waited >= config.patience:
            progress.on_message(f"no better validation score for {waited} epochs: stopping after epoch {epoch}")
            break
    progress.on_phase_end()
    return best_state, history, best["epoch"]


# ------------------------------------------------------------------------------ 3. the report

def summary(records: list[dict], budget: int) -> dict:
    """Success rate and median queries (a failure counts the whole budget) of attack records."""
    if not records:
        return {"inputs": 0, "success_rate": None, "median_queries": None}
    return {"inputs": len(records), "success_rate": round(float(np.mean([r["success"] for r in records])), 4),
            "median_queries": float(np.median([r["queries"] if r["success"] else budget for r in records]))}


def record(result, index: int, setting: str) -> dict:
    """What the report keeps of one attack: the black box's counts."""
    return {"attack": result.attack, "filter": setting, "index": index, "success": bool(result.success),
            "queries": int(result.queries), "queries_total": int(result.queries_total)}


RECORD_COLUMNS = ("index", "success", "queries", "queries_total")


def by_setting(records: list[dict]) -> dict:
    """Attack records as the report keeps them: per setting (``mix``, a filter, ``square_linf``),
    one list per field, in input order."""
    table: dict[str, dict[str, list]] = {}
    for r in records:
        columns = table.setdefault(r["filter"], {c: [] for c in RECORD_COLUMNS})
        for c in RECORD_COLUMNS:
            columns[c].append(r[c])
    return table


def records_of(table: dict, setting: str) -> list[dict]:
    """The records of ``setting`` back from :func:`by_setting`'s table."""
    columns = table.get(setting, {c: [] for c in RECORD_COLUMNS})
    return [dict(zip(RECORD_COLUMNS, values)) for values in zip(*(columns[c] for c in RECORD_COLUMNS))]


@torch.no_grad()
def predicted(model: Network, x: torch.Tensor) -> torch.Tensor:
    """Top-1 classes of a batch (direct calls: choosing inputs and scoring accuracy are not attacks)."""
    return torch.cat([model(x[i:i + 256].float()).argmax(-1) for i in range(0, len(x), 256)])


def eval_inputs(victims: list[Victim], n: int) -> list[tuple[int, torch.Tensor, int]]:
    """The first ``n`` items of the test split that every one of ``victims`` classifies correctly."""
    data = victims[0].dataset("test")
    chosen = []
    for i in range(len(data)):
        sample = data[i]
        if all(int(predicted(v.network, sample.x[None])[0]) == sample.y for v in victims):
            chosen.append((i, sample.x, int(sample.y)))
        if len(chosen) == n:
            break
    return chosen


def rl_attacks(victim: Victim, agent: Agent, inputs: list, budget: int, progress: Progress,
               settings: tuple[str, ...] = SETTINGS, on_result: Callable | None = None) -> list[dict]:
    """The agent against ``victim`` on every input with every setting (input ``i`` with seed ``i``)."""
    records = []
    for setting in settings:
        attack = RLAttack(agent, setting)
        for i, x, y in inputs:
            result = attack.run(victim, x, y, budget=budget, seed=i)
            records.append(record(result, i, setting))
            if on_result is not None:
                on_result(setting, i, x, y, result)
            progress.on_advance()
    return records


def square_attacks(victim: Victim, inputs: list, config: RobustnessConfig, progress: Progress) -> list[dict]:
    """ART's Square Attack (Linf, ``config.square_eps``) against ``victim`` (input ``i`` with seed ``i``)."""
    import warnings

    records = []
    attack = SquareLinfAttack(config.square_eps)
    for i, x, y in inputs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # ART divides by zero on flat stretches; harmless in Linf
            result = attack.run(victim, x, y, budget=config.budget, seed=i)
        records.append(record(result, i, "square_linf"))
        progress.on_advance()
    return records


def side_report(victim: Victim, rl: list[dict], square: list[dict], budget: int,
                adversarial_hits: list[bool]) -> dict:
    """One side of the report (before or after), in the contract's shape, with its attack records."""
    x_test, y_test = victim.dataset("test").arrays()
    mix = summary([r for r in rl if r["filter"] == "mix"], budget)
    squared = summary(square, budget)
    return {
        "clean_accuracy": round(float((predicted(victim.network, x_test) == y_test).float().mean()), 4),
        "rl_success_rate": mix["success_rate"],
        "rl_median_queries": mix["median_queries"],
        "square_success_rate": squared["success_rate"],
        "square_median_queries": squared["median_queries"],
        "per_filter": {f: summary([r for r in rl if r["filter"] == f], budget) for f in MIX},
        "adversarial_accuracy": round(float(np.mean(adversarial_hits)), 4) if adversarial_hits else None,
        "attacks": by_setting(rl + square),
    }


def adaptive_config(config: RobustnessConfig, shipped: Agent) -> AgentTrainConfig:
    """The shipped agent's own recipe and PPO steps, unless ``config`` overrides: the settings its
    ``rlab.json`` records, over the victim's registered recipe for any it does not (agents trained
    before a setting existed do not record it, and the class default may differ from their recipe)."""
    names = {f.name for f in fields(AgentTrainConfig)}
    known = {k: v for k, v in shipped.meta.items() if k in names}
    if "cells_per_patch" in known:  # JSON lists
        known["cells_per_patch"] = tuple(known["cells_per_patch"])
    if not isinstance(known.get("filters", ""), str):
        known["filters"] = ",".join(known["filters"])
    steps = {} if config.adaptive_steps is None else {"ppo_steps": config.adaptive_steps}
    return replace(recipe(config.victim), **{**known, "victim": config.victim, "seed": config.seed, **steps,
                                             **config.adaptive_recipe})


# ----------------------------------------------------------------------- a run's finished steps

# A run's steps, each kept in a file of its own once finished, and the phase (progress bar) each counts in.
STEPS = {"attack": "attack", "fine-tune": "fine-tune", "before": "evaluate", "after": "evaluate", "adaptive": "adaptive"}
TENSOR_STEPS = ("attack", "fine-tune")  # kept with torch.save (adversarial inputs, weights); the others as JSON
SETTINGS_FILE = "settings.json"


def phases_folder(out: Path) -> Path:
    """Where the run that writes report ``out`` keeps its finished steps: ``<out stem>.phases/`` beside it."""
    return Path(out).with_suffix(".phases")


def run_settings(config: RobustnessConfig) -> dict:
    """What a resumed run must share with the run it continues: the settings, the shipped weights and agent."""
    settings = {"config": asdict(config), "shipped_weights_sha256": file_sha256(get_profile(config.victim).weights_path),
                "shipped_agent_sha256": file_sha256(agent_path(config.victim))}
    return json.loads(json.dumps(settings))  # as read back from its file


def resumable(folder: Path, config: RobustnessConfig) -> bool:
    """Whether ``folder`` holds steps of a run with ``config``'s settings."""
    return background.read_json(Path(folder) / SETTINGS_FILE) == run_settings(config)


class RunSteps:
    """The finished steps of a run, one file each in ``folder`` (written whole or not at all, see
    :mod:`rlab_core.files`), beside the settings they were made with: a stopped run resumes from
    its last finished step. ``folder=None`` keeps nothing."""

    def __init__(self, folder: Path | None, settings: dict, resume: bool, progress: Progress) -> None:
        self.folder, self.progress = folder, progress
        self.resumed_seconds = 0.0  # the time the steps read back took in the run that made them
        if folder is None:
            return
        earlier = background.read_json(folder / SETTINGS_FILE) if resume else None
        if earlier is None:
            if resume:
                progress.on_message(f"nothing to resume in {relative_to_root(folder)}; starting afresh")
            shutil.rmtree(folder, ignore_errors=True)  # another run's steps
            background.write_json(folder / SETTINGS_FILE, settings)
        elif earlier != settings:
            changed = [k for k in settings["config"] if earlier.get("config", {}).get(k) != settings["config"][k]]
            changed += [k for k in settings if k != "config" and earlier.get(k) != settings[k]]
            raise RobustnessError(f"{folder} holds a run with other settings (not the same {', '.join(changed)}); resume "
                                  f"with the same --victim, preset and --seed, or start afresh without --resume")

    def path(self, step: str) -> Path:
        assert self.folder is not None  # only asked of a run that keeps its steps
        return self.folder / f"{step}{'.pt' if step in TENSOR_STEPS else '.json'}"

    def run(self, step: str, make: Callable[[], dict]) -> dict:
        """Step ``step``'s output: read back if an earlier run finished it, else made by ``make`` and
        kept, with its time and its phase's progress (what a resumed run shows of it)."""
        phase = STEPS[step]
        saved = self._load(step)
        if saved is not None:
            self.resumed_seconds += saved["seconds"]
            kept = saved["progress"]
            message = f"resumed: the {step} step was finished by an earlier run ({relative_to_root(self.path(step))})"
            self.progress.on_resume(phase, kept["done"], kept["total"], kept["seconds"], message)
            return saved
        clock = time.time()
        made = make()
        made.update(seconds=round(time.time() - clock, 1), progress=dict(self.progress.state["phases"][phase]))
        if self.folder is not None:
            self._save(step, made)
        return made

    def _save(self, step: str, made: dict) -> None:
        if step in TENSOR_STEPS:
            with atomic_path(self.path(step)) as partial:
                torch.save(made, partial)
        else:
            background.write_json(self.path(step), made)

    def _load(self, step: str) -> dict | None:
        if self.folder is None or not self.path(step).exists():
            return None
        if step in TENSOR_STEPS:
            return torch.load(self.path(step), weights_only=True)  # tensors, numbers and strings only: nothing unpickled
        return background.read_json(self.path(step))


# ------------------------------------------------------------------------------------ the run

def attack_step(config: RobustnessConfig, original: Victim, shipped: Agent, progress: Progress) -> dict:
    """1. Adversarial samples from the training split (and the validation split, for stopping)."""
    rng = np.random.default_rng(config.seed)
    train_inputs = training_inputs(original, config.n_attack_inputs, "train", False, rng)
    val_inputs = training_inputs(original, config.n_val_attacks, "val", False, np.random.default_rng(config.seed + 1))
    progress.on_phase("attack", len(train_inputs) + len(val_inputs),
                   f"The shipped agent attacks {len(train_inputs)} training and {len(val_inputs)} validation inputs")
    train_adv = adversarial_samples(original, shipped, train_inputs, config.budget, config.seed, progress)
    val_adv = adversarial_samples(original, shipped, val_inputs, config.budget, config.seed + len(train_inputs), progress)
    progress.on_phase_end()
    return {"train": train_adv.saved(), "val": val_adv.saved()}


def before_step(config: RobustnessConfig, original: Victim, hardened: Victim, shipped: Agent, inputs: list,
                progress: Progress) -> dict:
    """3a. The shipped weights attacked; what fooled them, shown to the hardened weights."""
    progress.on_phase("evaluate", 2 * (len(SETTINGS) * len(inputs) + len(inputs[:config.n_square])),
                   f"Attacking {len(inputs)} test inputs before and after fine-tuning")
    hits: list[bool] = []  # does the hardened network classify correctly what fooled the shipped one?
    candidates: list[dict] = []

    def keep(setting: str, i: int, x: torch.Tensor, y: int, result) -> None:
        if not result.success:
            return
        probs = hardened.scores(result.x_adv[None].float()).softmax(-1)[0].detach()
        hits.append(int(probs.argmax()) == y)
        if setting == "mix" and hits[-1] and len(candidates) < 4 * config.n_samples:
            candidates.append(sample_record(config.victim, i, y, result, probs))

    with torch.no_grad():
        rl = rl_attacks(original, shipped, inputs, config.budget, progress, on_result=keep)
    return {"rl": rl, "square": square_attacks(original, inputs[:config.n_square], config, progress), "hits": hits,
            "candidates": candidates}


def after_step(config: RobustnessConfig, hardened: Victim, shipped: Agent, inputs: list, progress: Progress) -> dict:
    """3b. The hardened weights attacked the same way."""
    rl = rl_attacks(hardened, shipped, inputs, config.budget, progress)
    square = square_attacks(hardened, inputs[:config.n_square], config, progress)
    progress.on_phase_end()
    return {"rl": rl, "square": square}


def adaptive_step(config: RobustnessConfig, adaptive: AgentTrainConfig, hardened: Victim, agent_file: Path,
                  inputs: list, progress: Progress) -> dict:
    """The adaptive attacker: the shipped recipe, trained against the hardened network, on the same test inputs."""
    progress.on_phase("adaptive", len(inputs) + 1, f"Training an agent against the hardened victim ({adaptive.ppo_steps} "
                                                f"PPO steps, {adaptive.n_inputs} training inputs)")
    agent = train_agent(adaptive, [progress], victim=hardened, path=agent_file)
    progress.on_advance(message="The adaptive agent attacks the test inputs")
    rl = rl_attacks(hardened, agent, inputs, config.budget, progress, settings=("mix",))
    progress.on_phase_end()
    return {"rl": rl, **{key: agent.meta.get(key) for key in ("validation", "chosen", "training_seconds")}}


def run_robustness(config: RobustnessConfig, weights: Path | None = None, progress: Progress | None = None, *,
                   phases: Path | None = None, resume: bool = False) -> dict:
    """Fine-tune ``config.victim`` against its shipped agent, save the hardened weights at
    ``weights`` (default :func:`hardened_path`), and return the before/after report.

    ``phases``: a folder where each finished step is kept (:class:`RunSteps`); with ``resume``,
    the steps an earlier run of the same settings finished there are read back, not run again."""
    progress = progress or Progress()
    weights = Path(weights) if weights is not None else hardened_path(config.victim)
    if weights.resolve() in shipped_weights():
        raise RobustnessError(f"{weights} holds a victim's shipped weights: hardened weights never go there")
    started = time.time()
    steps = RunSteps(phases, run_settings(config), resume, progress)
    original = Victim.builtin(config.victim)
    shipped = load_agent(original, [progress])

    attacked = steps.run("attack", lambda: attack_step(config, original, shipped, progress))
    train_adv, val_adv = AdversarialSet.from_saved(attacked["train"]), AdversarialSet.from_saved(attacked["val"])
    progress.on_message(f"{len(train_adv)} adversarial training samples, {len(val_adv)} for validation")

    # 2. Fine-tuning; the hardened weights go beside the shipped ones (again from the kept step, on a resumed run).
    tuned = steps.run("fine-tune", lambda: dict(zip(("state", "history", "best_epoch"),
                                                    fine_tune(config, train_adv, val_adv, progress))))
    save_hardened(tuned["state"], weights)
    hardened = Victim.builtin(config.victim, weights)
    progress.on_message(f"saved the hardened weights (epoch {tuned['best_epoch']}) at {relative_to_root(weights)}")

    # 3. Before and after, on test inputs both networks classify correctly; then the adaptive attacker.
    inputs = eval_inputs([original, hardened], config.n_eval)
    before = steps.run("before", lambda: before_step(config, original, hardened, shipped, inputs, progress))
    after = steps.run("after", lambda: after_step(config, hardened, shipped, inputs, progress))
    adaptive = adaptive_config(config, shipped)
    agent_file = adaptive_agent_path(weights)
    attacker = steps.run("adaptive", lambda: adaptive_step(config, adaptive, hardened, agent_file, inputs, progress))

    done = {"attack": attacked, "fine-tune": tuned, "before": before, "after": after, "adaptive": attacker}
    seconds: dict[str, float] = {}
    for step, phase in STEPS.items():
        seconds[phase] = round(seconds.get(phase, 0.0) + done[step]["seconds"], 1)
    after_mix = {r["index"]: r for r in after["rl"] if r["filter"] == "mix"}
    samples = [{**c, "after_attack": {k: after_mix[c["index"]][k] for k in ("success", "queries")}}
               for c in before["candidates"]]
    samples.sort(key=lambda s: s["after_attack"]["success"])  # those the agent cannot fool after, first
    grid = original.grid
    return {
        "run": run_record(seed=config.seed, victim=config.victim),
        "victim": config.victim,
        "modality": get_profile(config.victim).modality,
        "preset": config.preset,
        "command": config.command(),
        "config": asdict(config),
        "hardened_weights": relative_to_root(weights),
        "hardened_weights_sha256": file_sha256(weights),
        "shipped_agent_sha256": file_sha256(agent_path(config.victim)),
        "evaluation": {"split": "test", "inputs": len(inputs), "budget": config.budget,
                       "max_patches": default_max_patches(grid), "n_patches": grid.n_patches,
                       "square": {"norm": "linf", "eps": config.square_eps, "inputs": len(inputs[:config.n_square])},
                       "rule": "the first test items both networks classify correctly; input i attacked with seed i; "
                               "a failure counts the whole budget in a median"},
        "generation": {"train": train_adv.counts, "val": val_adv.counts, "train_samples": len(train_adv),
                       "val_samples": len(val_adv)},
        "fine_tuning": {"history": tuned["history"], "best_epoch": tuned["best_epoch"],
                        "epochs_run": len(tuned["history"]) - 1, "ratio": config.ratio},
        "before": side_report(original, before["rl"], before["square"], config.budget, [False] * len(before["hits"])),
        "after": side_report(hardened, after["rl"], after["square"], config.budget, before["hits"]),
        "adaptive": {**summary(attacker["rl"], config.budget), "filter": "mix", "agent": relative_to_root(agent_file),
                     "recipe": {**asdict(adaptive), "cells_per_patch": list(adaptive.cells_per_patch)},
                     "validation": attacker["validation"], "chosen": attacker["chosen"],
                     "training_seconds": attacker["training_seconds"], "attacks": by_setting(attacker["rl"])},
        "samples": samples[:config.n_samples],
        # total: this run's time, and that of the steps it read back from an earlier run
        "seconds": {**seconds, "total": round(time.time() - started + steps.resumed_seconds, 1)},
    }


def sample_record(victim: str, index: int, label: int, result, hardened_probs: torch.Tensor) -> dict:
    """An adversarial test input that fooled the shipped weights, as the page rebuilds it: the
    test index and the attack's trajectory (replayed without a query, see ``attack.replay``)."""
    names = get_profile(victim).class_names
    hardened = int(hardened_probs.argmax())
    return {"index": index, "label": label, "label_name": names[label], "filter": "mix", "seed": index,
            "before": {"adversarial_label_name": result.adversarial_label_name, "queries": result.queries,
                       "l0_patches": result.l0_patches},
            "hardened": {"label_name": names[hardened], "probability": round(float(hardened_probs[hardened]), 4)},
            "trajectory": [step.to_dict() for step in result.trajectory]}


@dataclass(frozen=True)
class ReplayedSample:
    """A report's sample rebuilt for display: the test item and the adversarial input that fooled the shipped weights."""

    sample: object  # rlab_core.sample.Sample
    x_adv: torch.Tensor
    grid: object  # PatchGrid
    patch_filters: dict


def replay_sample(victim: str, entry: dict) -> ReplayedSample:
    """Rebuild a report sample from its test index and trajectory (no query, see ``attack.replay``)."""
    from rlab_core.attacks.replay import TrajectoryReplay

    sample = get_profile(victim).dataset("test")[entry["index"]]
    state = TrajectoryReplay(sample.x, Victim.builtin(victim), entry["filter"], None, entry["seed"]).run(entry["trajectory"])
    return ReplayedSample(sample, state.x_adv(), state.grid, state.patch_filters())


def comparison_rows(report: dict) -> list[dict]:
    """The report's headline figures as table rows: before, after, and the adaptive attacker."""
    rows = []
    for name, side in (("before", report["before"]), ("after", report["after"])):
        rows.append({"": name, "clean accuracy": side["clean_accuracy"], "RL success (mix)": side["rl_success_rate"],
                     "RL median queries": side["rl_median_queries"], "Square success": side["square_success_rate"],
                     **{f: side["per_filter"][f]["success_rate"] for f in MIX},
                     "held-out adversarial accuracy": side["adversarial_accuracy"]})
    adaptive = report["adaptive"]
    rows.append({"": "adaptive agent (after)", "RL success (mix)": adaptive["success_rate"],
                 "RL median queries": adaptive["median_queries"]})
    return rows


# ------------------------------------------------------------------------------------ markdown

def markdown(report: dict) -> str:
    """A before/after table of ``report``."""
    def pct(v):
        return "–" if v is None else f"{v:.1%}"

    def num(v):
        return "–" if v is None else f"{v:g}"

    ev, before, after, adaptive = report["evaluation"], report["before"], report["after"], report["adaptive"]
    head = ["", "clean accuracy", "RL success (mix)", "RL median queries", f"Square Linf {ev['square']['eps']:g} success",
            *(f"RL {f}" for f in MIX), "accuracy on held-out adversarial samples"]
    rows = []
    for name, side in (("before (shipped weights)", before), ("after (hardened)", after)):
        rows.append([name, pct(side["clean_accuracy"]), pct(side["rl_success_rate"]), num(side["rl_median_queries"]),
                     pct(side["square_success_rate"]), *(pct(side["per_filter"][f]["success_rate"]) for f in MIX),
                     pct(side["adversarial_accuracy"])])
    rows.append(["adaptive agent vs hardened", "", pct(adaptive["success_rate"]), num(adaptive["median_queries"]),
                 "", *([""] * len(MIX)), ""])
    table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
    gen, tuning = report["generation"], report["fine_tuning"]
    return "\n".join([
        f"# `{report['victim']}`: adversarial fine-tuning, before and after", "",
        (f"{ev['inputs']} test inputs that both networks classify correctly, budget {ev['budget']} queries, patch cap "
        f"{ev['max_patches']} of {ev['n_patches']} patches; Square Attack on the first {ev['square']['inputs']}. "
        f"Fine-tuned on {gen['train_samples']} adversarial samples from the training split (ratio {tuning['ratio']}), "
        f"best validation epoch {tuning['best_epoch']} of {tuning['epochs_run']}. The adaptive agent: "
        f"{adaptive['recipe']['ppo_steps']} PPO steps on {adaptive['recipe']['n_inputs']} inputs "
        f"({adaptive['chosen']} policy chosen). Made by `{report['command']}` in {report['seconds']['total']:.0f} s "
         f"(preset {report['preset']})."), "",
        *table, "",
        ("Accuracy on held-out adversarial samples: the share of the adversarial test inputs that fooled the shipped "
         "weights (every filter setting) that the network classifies correctly (0 before, by construction)."), ""])


def save_report(report: dict, out: Path) -> None:
    """The report as ``out`` (.json, what the Robustness page reads) and its before/after table beside it (.md)."""
    background.write_json(out, report, compact=True)
    atomic_write_text(Path(out).with_suffix(".md"), markdown(report))


# ----------------------------------------------------------------- where the page's runs and reports are
def run_folder(victim: str) -> Path:
    """Where the Robustness page's run of ``victim`` goes: ``runs/robustness/<victim>/``."""
    return hardened_run_folder(victim)


def shipped_report_path(victim: str) -> Path:
    return REPORTS / f"robustness-{victim}.json"
