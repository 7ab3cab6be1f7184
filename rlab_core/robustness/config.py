"""What a robustness run is told: :class:`RobustnessConfig`, its presets, and the victims it serves.

The preset (``--quick``, ``--full``; ``default`` is neither) and the seed are the run's command-line
options (:mod:`rlab_core.options`); the sizes come with the preset (:data:`SIZES`, then the
victim's own ``robustness.sizes`` in its profile), so a report's ``command`` reruns it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlab_core import options
from rlab_core.filters import MIX
from rlab_core.victims import PROFILES, get_profile

SETTINGS = ("mix", *MIX)  # the filter settings of every RL attack here, in turn
PRESETS = ("quick", "default", "full")
# The phases a run's progress counts, in order, and what the page calls them.
PHASES = {"attack": "Attacking the training split", "fine-tune": "Fine-tuning",
          "evaluate": "Attacking the test split, before and after", "adaptive": "The adaptive attacker"}


class RobustnessError(ValueError):
    """A victim or setting that adversarial fine-tuning cannot serve."""


@dataclass(frozen=True)
class RobustnessConfig:
    victim: str
    preset: str = options.option("default", choices=PRESETS, presets=True,
                                 help="the run's size, other than the default (quick: a check in minutes; full: long)")
    seed: int = options.option(0, help="seeds every attack, the fine-tuning and the adaptive agent")
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

    def argv(self) -> list[str]:
        """The ``robustness`` command's arguments that rebuild this config (the app's worker runs them)."""
        return ["--modality", get_profile(self.victim).modality, "--victim", self.victim, *options.argv(self)]

    def command(self) -> str:
        return " ".join(["python -m rlab_core robustness", *self.argv()])


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
