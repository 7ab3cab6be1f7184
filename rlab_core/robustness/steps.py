"""A run's finished steps, kept so that a killed run resumes from its last finished one.

A run (:func:`rlab_core.robustness.run_robustness`) is five steps (:data:`STEPS`): the attacks on
the training split, the fine-tuning, the test attacks before and after, and the adaptive
attacker's. Each finished step is one file in the run's ``phases`` folder (``<out stem>.phases/``
beside its report), written whole or not at all (:mod:`rlab_core.files`), beside the settings it
was made with. Every step is seeded, so a resumed run gives the numbers of one never stopped.
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from rlab_core import background, relative_to_root
from rlab_core.callbacks import Callback, CallbackList, Tally, as_callbacks
from rlab_core.files import atomic_path
from rlab_core.robustness.config import RobustnessConfig, RobustnessError
from rlab_core.victims import file_sha256, get_profile

# A run's steps, each kept in a file of its own once finished, and the phase (progress bar) each counts in.
STEPS = {"attack": "attack", "fine-tune": "fine-tune", "before": "evaluate", "after": "evaluate", "adaptive": "adaptive"}
TENSOR_STEPS = ("attack", "fine-tune")  # kept with torch.save (adversarial inputs, weights); the others as JSON
SETTINGS_FILE = "settings.json"


def phases_folder(out: Path) -> Path:
    """Where the run that writes report ``out`` keeps its finished steps: ``<out stem>.phases/`` beside it."""
    return Path(out).with_suffix(".phases")


def run_settings(config: RobustnessConfig) -> dict:
    """What a resumed run must share with the run it continues: the settings, the shipped weights and agent."""
    from rlab_core.agents.agent import agent_path  # Stable-Baselines3: only when asked

    settings = {"config": asdict(config), "shipped_weights_sha256": file_sha256(get_profile(config.victim).weights_path),
                "shipped_agent_sha256": file_sha256(agent_path(config.victim))}
    return json.loads(json.dumps(settings))  # as read back from its file


def resumable(folder: Path, config: RobustnessConfig) -> bool:
    """Whether ``folder`` holds steps of a run with ``config``'s settings."""
    return background.read_json(Path(folder) / SETTINGS_FILE) == run_settings(config)


class RunSteps:
    """The finished steps of a run, one file each in ``folder`` (``None`` keeps nothing).

    ``callbacks`` are told of every step's events (:attr:`callbacks`, which the run's steps use,
    adds a :class:`~rlab_core.callbacks.Tally`: what a kept step records of its phase), and of a
    step read back, by ``on_resume`` at the count it had."""

    def __init__(self, folder: Path | None, settings: dict, resume: bool,
                 callbacks: Callback | Sequence[Callback] = ()) -> None:
        self.folder, self.tally = folder, Tally()
        self.callbacks: CallbackList = CallbackList([*as_callbacks(callbacks).callbacks, self.tally])
        self.resumed_seconds = 0.0  # the time the steps read back took in the run that made them
        if folder is None:
            return
        earlier = background.read_json(folder / SETTINGS_FILE) if resume else None
        if earlier is None:
            if resume:
                self.callbacks.on_message(f"nothing to resume in {relative_to_root(folder)}; starting afresh")
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
        kept, with its time and its phase's count (what a resumed run shows of it)."""
        phase = STEPS[step]
        saved = self._load(step)
        if saved is not None:
            self.resumed_seconds += saved["seconds"]
            kept = saved["progress"]
            message = f"resumed: the {step} step was finished by an earlier run ({relative_to_root(self.path(step))})"
            self.callbacks.on_resume(phase, kept["done"], kept["total"], kept["seconds"], message)
            return saved
        clock = time.time()
        made = make()
        made.update(seconds=round(time.time() - clock, 1), progress=dict(self.tally.phases[phase]))
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
