"""A robustness run top to bottom: attack, fine-tune, attack again, and the adaptive attacker.

:func:`run_robustness` runs each step through :class:`~rlab_core.robustness.steps.RunSteps`, so a
run given a ``phases`` folder resumes from its last finished step; the report it returns is
:class:`~rlab_core.robustness.report.RobustnessReport`.
"""
from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from rlab_core import relative_to_root
from rlab_core.attacks.session import default_max_patches
from rlab_core.callbacks import Callback, CallbackList
from rlab_core.robustness.config import SETTINGS, RobustnessConfig, RobustnessError
from rlab_core.robustness.evaluate import (
    TestInput,
    adaptive_config,
    by_setting,
    eval_inputs,
    rl_attacks,
    sample_record,
    side_report,
    square_attacks,
    summary,
)
from rlab_core.robustness.hardener import AdversarialSet, Hardener, save_hardened, shipped_weights
from rlab_core.robustness.report import AdaptiveReport, RobustnessReport, SideReport
from rlab_core.robustness.steps import STEPS, RunSteps, run_settings
from rlab_core.run_record import run_record
from rlab_core.victims import Victim, file_sha256, get_profile, hardened_path

if TYPE_CHECKING:
    from rlab_core.agents.agent import Agent, AgentTrainConfig

# rlab_core.agents.agent (Stable-Baselines3) is imported only when a run starts: the command line
# declares its options without it.


def attack_step(config: RobustnessConfig, hardener: Hardener, callbacks: CallbackList) -> dict:
    """1. Adversarial samples from the training split (and the validation split, for stopping)."""
    from rlab_core.agents.agent import training_inputs

    rng = np.random.default_rng(config.seed)
    train_inputs = training_inputs(hardener.victim, config.n_attack_inputs, "train", False, rng)
    val_inputs = training_inputs(hardener.victim, config.n_val_attacks, "val", False,
                                 np.random.default_rng(config.seed + 1))
    callbacks.on_phase("attack", len(train_inputs) + len(val_inputs),
                       f"The shipped agent attacks {len(train_inputs)} training and {len(val_inputs)} validation inputs")
    train_adv = hardener.generate(train_inputs, config.budget, config.seed, callbacks)
    val_adv = hardener.generate(val_inputs, config.budget, config.seed + len(train_inputs), callbacks)
    callbacks.on_phase_end()
    return {"train": train_adv.saved(), "val": val_adv.saved()}


def fine_tune_step(config: RobustnessConfig, hardener: Hardener, train_adv: AdversarialSet, val_adv: AdversarialSet,
                   callbacks: CallbackList) -> dict:
    """2. Fine-tuning from the shipped weights."""
    if not len(train_adv):
        raise RobustnessError(f"the shipped agent fooled none of the {config.n_attack_inputs} training inputs "
                              f"within {config.budget} queries: nothing to fine-tune on")
    tuned = hardener.fit(train_adv, val_adv, callbacks)
    return {"state": tuned.state, "history": tuned.history, "best_epoch": tuned.best_epoch}


def before_step(config: RobustnessConfig, original: Victim, hardened: Victim, shipped: Agent,
                inputs: list[TestInput], callbacks: CallbackList) -> dict:
    """3a. The shipped weights attacked; what fooled them, shown to the hardened weights."""
    callbacks.on_phase("evaluate", 2 * (len(SETTINGS) * len(inputs) + len(inputs[:config.n_square])),
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
        rl = rl_attacks(original, shipped, inputs, config.budget, callbacks, on_result=keep)
    square = square_attacks(original, inputs[:config.n_square], config.square_eps, config.budget, callbacks)
    return {"rl": rl, "square": square, "hits": hits, "candidates": candidates}


def after_step(config: RobustnessConfig, hardened: Victim, shipped: Agent, inputs: list[TestInput],
               callbacks: CallbackList) -> dict:
    """3b. The hardened weights attacked the same way."""
    rl = rl_attacks(hardened, shipped, inputs, config.budget, callbacks)
    square = square_attacks(hardened, inputs[:config.n_square], config.square_eps, config.budget, callbacks)
    callbacks.on_phase_end()
    return {"rl": rl, "square": square}


def adaptive_step(config: RobustnessConfig, adaptive: AgentTrainConfig, hardened: Victim, agent_file: Path,
                  inputs: list[TestInput], callbacks: CallbackList) -> dict:
    """The adaptive attacker: the shipped recipe, trained against the hardened network, on the same test inputs."""
    from rlab_core.agents.agent import train_agent

    callbacks.on_phase("adaptive", len(inputs) + 1, f"Training an agent against the hardened victim "
                                                    f"({adaptive.ppo_steps} PPO steps, {adaptive.n_inputs} training inputs)")
    agent = train_agent(adaptive, callbacks, victim=hardened, path=agent_file)
    callbacks.on_advance(message="The adaptive agent attacks the test inputs")
    rl = rl_attacks(hardened, agent, inputs, config.budget, callbacks, settings=("mix",))
    callbacks.on_phase_end()
    return {"rl": rl, **{key: agent.meta.get(key) for key in ("validation", "chosen", "training_seconds")}}


def run_robustness(config: RobustnessConfig, weights: Path | None = None,
                   callbacks: Callback | Sequence[Callback] = (), *, phases: Path | None = None,
                   resume: bool = False) -> RobustnessReport:
    """Fine-tune ``config.victim`` against its shipped agent, save the hardened weights at
    ``weights`` (default :func:`~rlab_core.victims.hardened_path`), and return the before/after report.

    ``callbacks`` follow the phases of :data:`~rlab_core.robustness.config.PHASES`. ``phases``: a
    folder where each finished step is kept (:class:`~rlab_core.robustness.steps.RunSteps`); with
    ``resume``, the steps an earlier run of the same settings finished there are read back, not run again."""
    from rlab_core.agents.agent import adaptive_agent_path, agent_path, load_agent

    weights = Path(weights) if weights is not None else hardened_path(config.victim)
    if weights.resolve() in shipped_weights():
        raise RobustnessError(f"{weights} holds a victim's shipped weights: hardened weights never go there")
    started = time.time()
    steps = RunSteps(phases, run_settings(config), resume, callbacks)
    events = steps.callbacks  # the caller's callbacks, and the tally each kept step records
    original = Victim.builtin(config.victim)
    shipped = load_agent(original, events)
    hardener = Hardener.from_config(config, original, shipped)

    attacked = steps.run("attack", lambda: attack_step(config, hardener, events))
    train_adv, val_adv = AdversarialSet.from_saved(attacked["train"]), AdversarialSet.from_saved(attacked["val"])
    events.on_message(f"{len(train_adv)} adversarial training samples, {len(val_adv)} for validation")

    # The hardened weights go beside the shipped ones (again from the kept step, on a resumed run).
    tuned = steps.run("fine-tune", lambda: fine_tune_step(config, hardener, train_adv, val_adv, events))
    save_hardened(tuned["state"], weights)
    hardened = Victim.builtin(config.victim, weights)
    events.on_message(f"saved the hardened weights (epoch {tuned['best_epoch']}) at {relative_to_root(weights)}")

    # Before and after, on test inputs both networks classify correctly; then the adaptive attacker.
    inputs = eval_inputs([original, hardened], config.n_eval)
    before = steps.run("before", lambda: before_step(config, original, hardened, shipped, inputs, events))
    after = steps.run("after", lambda: after_step(config, hardened, shipped, inputs, events))
    adaptive = adaptive_config(config, shipped)
    agent_file = adaptive_agent_path(weights)
    attacker = steps.run("adaptive", lambda: adaptive_step(config, adaptive, hardened, agent_file, inputs, events))

    done = {"attack": attacked, "fine-tune": tuned, "before": before, "after": after, "adaptive": attacker}
    seconds: dict[str, float] = {}
    for step, phase in STEPS.items():
        seconds[phase] = round(seconds.get(phase, 0.0) + done[step]["seconds"], 1)
    # total: this run's time, and that of the steps it read back from an earlier run
    seconds["total"] = round(time.time() - started + steps.resumed_seconds, 1)
    grid = original.grid
    return RobustnessReport(
        run=run_record(seed=config.seed, victim=config.victim),
        config=config,
        modality=get_profile(config.victim).modality,
        command=config.command(),
        hardened_weights=relative_to_root(weights),
        hardened_weights_sha256=file_sha256(weights),
        shipped_agent_sha256=file_sha256(agent_path(config.victim)),
        evaluation={"split": "test", "inputs": len(inputs), "budget": config.budget,
                    "max_patches": default_max_patches(grid), "n_patches": grid.n_patches,
                    "square": {"norm": "linf", "eps": config.square_eps, "inputs": len(inputs[:config.n_square])},
                    "rule": "the first test items both networks classify correctly; input i attacked with seed i; "
                            "a failure counts the whole budget in a median"},
        generation={"train": train_adv.counts, "val": val_adv.counts, "train_samples": len(train_adv),
                    "val_samples": len(val_adv)},
        fine_tuning={"history": tuned["history"], "best_epoch": tuned["best_epoch"],
                     "epochs_run": len(tuned["history"]) - 1, "ratio": config.ratio},
        before=SideReport.from_json(side_report(original, before["rl"], before["square"], config.budget,
                                                [False] * len(before["hits"]))),
        after=SideReport.from_json(side_report(hardened, after["rl"], after["square"], config.budget, before["hits"])),
        adaptive=AdaptiveReport(**summary(attacker["rl"], config.budget), filter="mix",
                                agent=relative_to_root(agent_file),
                                recipe={**asdict(adaptive), "cells_per_patch": list(adaptive.cells_per_patch)},
                                validation=attacker["validation"], chosen=attacker["chosen"],
                                training_seconds=attacker["training_seconds"], attacks=by_setting(attacker["rl"])),
        samples=held_out_samples(before["candidates"], after["rl"], config.n_samples),
        seconds=seconds,
        machine=f"{platform.machine()}, {torch.get_num_threads()} torch thread(s)",
    )


def held_out_samples(candidates: list[dict], after_rl: list[dict], n: int) -> list[dict]:
    """Up to ``n`` inputs that fooled the shipped weights and not the hardened ones, each with what
    the shipped agent did to the hardened weights; those it could not fool again first."""
    after_mix = {r["index"]: r for r in after_rl if r["filter"] == "mix"}
    samples = [{**c, "after_attack": {k: after_mix[c["index"]][k] for k in ("success", "queries")}} for c in candidates]
    samples.sort(key=lambda s: s["after_attack"]["success"])
    return samples[:n]
