"""The model-parameter randomisation test (Adebayo et al., "Sanity checks for saliency maps", NeurIPS 2018).

A map that explains the model must change when the model's weights are destroyed. For each
method: the Spearman rank correlation between its map of one class on the trained victim and its
map of the same class index on the same architecture with every parameter re-initialised
(seeded). The RL methods use the same agent on both. Near 0 passes; near 1 says the map does not
depend on the weights (every control scores 1: it never asks the model).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from scipy.stats import spearmanr
from torch import nn

from rlab_core.explanations.explainer import explain
from rlab_core.victims import Victim


def randomised_network(network: nn.Module, seed: int) -> nn.Module:
    """A copy of ``network`` with every layer that has parameters re-initialised from ``seed``
    (its own initialiser, ``reset_parameters``); the global random state is left as it was."""
    fresh = copy.deepcopy(network)
    # A layer holding parameters of its own without an initialiser would keep its trained weights.
    stuck = [name or type(module).__name__ for name, module in fresh.named_modules()
             if any(True for _ in module.parameters(recurse=False)) and not callable(getattr(module, "reset_parameters", None))]
    if stuck:
        raise ValueError(f"cannot re-initialise {', '.join(stuck[:3])}: no reset_parameters")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for module in fresh.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()  # a batch norm's resets its running statistics too
    return fresh.eval()


def randomised_victim(victim: Victim, seed: int = 0) -> Victim:
    """``victim`` with a randomised network (:func:`randomised_network`), all else the same."""
    if not victim.white_box or not isinstance(victim.network, nn.Module):
        raise ValueError(f"the randomisation test re-initialises the network's weights, and {victim.name} is a black "
                         "box (an ONNX model or a bare callable): there are none to reach")
    return Victim(randomised_network(victim.network, seed), victim.input_shape, victim.class_names,
                  patch_size=victim.grid.patch_size, modality=victim.modality, strengths=victim.strengths,
                  name=f"{victim.name} (randomised)", weights=f"randomised (seed {seed})", sha256=None,
                  profile=victim.profile, multi_label=victim.multi_label, top_k=victim.top_k)


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """Spearman's rho of two maps over their elements; ``None`` where either is constant (no ranking)."""
    left, right = a.flatten().double().numpy(), b.flatten().double().numpy()
    if left.min() == left.max() or right.min() == right.max():
        return None
    return float(spearmanr(left, right).statistic)


def randomisation_test(victim: Victim, x: torch.Tensor, label: int, methods: Sequence[str], *, budget: int,
                       seed: int = 0, agent=None) -> dict[str, float | None]:
    """Per method, the rank correlation of its map of ``label`` on ``victim`` and on its randomised copy."""
    if agent is None and {"rl", "rl_hard"} & set(methods):
        from rlab_core.agents.agent import load_agent

        agent = load_agent(victim)  # the trained victim's agent serves both networks
    methods = tuple(methods)
    trained = explain(victim, x, label, methods, budget, seed, agent=agent)
    randomised = explain(randomised_victim(victim, seed), x, label, methods, budget, seed, agent=agent)
    return {name: rank_correlation(trained.maps[name].values, randomised.maps[name].values) for name in methods}
