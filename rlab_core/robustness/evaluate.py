"""The report's attacks on the test split, and the figures computed from their records.

Every query count comes from the :class:`~rlab_core.victims.blackbox.BlackBox` of each attack
(:class:`~rlab_core.attacks.rl.RLAttack` and :class:`~rlab_core.attacks.square.SquareLinfAttack`,
run on the shipped and on the hardened :class:`~rlab_core.victims.Victim`). Test inputs are the
first ``n_eval`` items of the test split that both networks classify correctly, so that both
sides are attacked on the same inputs; input ``i`` is attacked with seed ``i``.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from rlab_core.attacks.rl import RLAttack
from rlab_core.attacks.square import SquareLinfAttack
from rlab_core.callbacks import Callback, as_callbacks
from rlab_core.filters import MIX
from rlab_core.robustness.config import SETTINGS, RobustnessConfig
from rlab_core.victims import Victim, get_profile
from rlab_core.victims.victim import Network

if TYPE_CHECKING:
    from rlab_core.agents.agent import Agent, AgentTrainConfig

RECORD_COLUMNS = ("index", "success", "queries", "queries_total")
TestInput = tuple[int, torch.Tensor, int]  # (test index, input, label)


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


def eval_inputs(victims: list[Victim], n: int) -> list[TestInput]:
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


def rl_attacks(victim: Victim, agent: Agent, inputs: list[TestInput], budget: int,
               callbacks: Callback | Sequence[Callback] = (), settings: tuple[str, ...] = SETTINGS,
               on_result: Callable | None = None) -> list[dict]:
    """The agent against ``victim`` on every input with every setting; each attack is a step for
    ``callbacks``, and ``on_result(setting, i, x, y, result)`` sees each result."""
    callbacks = as_callbacks(callbacks)
    records = []
    for setting in settings:
        attack = RLAttack(agent, setting)
        for i, x, y in inputs:
            result = attack.run(victim, x, y, budget=budget, seed=i)
            records.append(record(result, i, setting))
            if on_result is not None:
                on_result(setting, i, x, y, result)
            callbacks.on_advance()
    return records


def square_attacks(victim: Victim, inputs: list[TestInput], eps: float, budget: int,
                   callbacks: Callback | Sequence[Callback] = ()) -> list[dict]:
    """ART's Square Attack (Linf radius ``eps``) against ``victim``; each attack is a step for ``callbacks``."""
    callbacks = as_callbacks(callbacks)
    records = []
    attack = SquareLinfAttack(eps)
    for i, x, y in inputs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # ART divides by zero on flat stretches; harmless in Linf
            result = attack.run(victim, x, y, budget=budget, seed=i)
        records.append(record(result, i, "square_linf"))
        callbacks.on_advance()
    return records


def side_report(victim: Victim, rl: list[dict], square: list[dict], budget: int,
                adversarial_hits: list[bool]) -> dict:
    """One side of the report (before or after) as its JSON holds it, with its attack records."""
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


def adaptive_config(config: RobustnessConfig, shipped: Agent) -> AgentTrainConfig:
    """The shipped agent's own recipe and PPO steps, unless ``config`` overrides: the settings its
    ``rlab.json`` records, over the victim's registered recipe for any it does not (agents trained
    before a setting existed do not record it, and the class default may differ from their recipe)."""
    from rlab_core.agents.agent import AgentTrainConfig, recipe  # Stable-Baselines3: only when asked

    names = {f.name for f in fields(AgentTrainConfig)}
    known = {k: v for k, v in shipped.meta.items() if k in names}
    if "cells_per_patch" in known:  # JSON lists
        known["cells_per_patch"] = tuple(known["cells_per_patch"])
    if not isinstance(known.get("filters", ""), str):
        known["filters"] = ",".join(known["filters"])
    steps = {} if config.adaptive_steps is None else {"ppo_steps": config.adaptive_steps}
    return replace(recipe(config.victim), **{**known, "victim": config.victim, "seed": config.seed, **steps,
                                             **config.adaptive_recipe})
