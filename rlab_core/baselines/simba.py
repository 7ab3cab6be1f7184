"""``simba``: ART's SimBA in the pixel basis, held to the L2 that the RL attack reached.

Simple Black-box Adversarial Attacks (Guo, Gardner, You, Wilson, Weinberger, ICML 2019,
https://arxiv.org/abs/1905.07121), as ``art.attacks.evasion.SimBA`` implements it with
``attack="px"``: each iteration picks an input element in a random order (without repetition
until every element has had its turn), tries it ``-epsilon`` and ``+epsilon`` (clipped to
``[0, 1]``), and keeps the change that lowers the true class's probability most, if any does.
ART queries both sides every iteration: two queries per iteration, batch of one.

Distance: L2, in ``[0, 1]`` input scale. Each kept step adds at most ``epsilon`` to one element,
so SimBA's L2 grows as it goes; it has no radius of its own. **How it is stopped**: the wrapper
refuses, before it reaches the victim (so it is not counted), the first sample whose L2 distance
to the clean input exceeds ``l2_limit`` (in the benchmark the L2 the RL attack reached on the same
input, or the RL attack's median L2 over the run when it failed on this input), and the attack
ends there as a failure. It also ends at the first misclassified sample (a success) or when the
query budget is spent (a failure). So a success never exceeds the limit, and every sample SimBA
sent within the limit is counted.

ECG and video are shown to ART as images (see :mod:`rlab_core.baselines.art_bridge`); the pixel
basis does not care about the layout.
"""
from __future__ import annotations

import torch
from torch import nn

from rlab_core.attack.result import AttackResult
from rlab_core.attack.runner import DEFAULT_BUDGET
from rlab_core.baselines.art_bridge import art_attack

EPSILON = 0.2  # the paper's step for the pixel and DCT bases on ImageNet, in [0, 1] scale


def simba_attack(victim: str, x: torch.Tensor, y: int | None, l2_limit: float, budget: int = DEFAULT_BUDGET,
                 seed: int = 0, *, epsilon: float = EPSILON, model: nn.Module | None = None) -> AttackResult:
    """SimBA (pixel basis, untargeted) on one input of built-in ``victim``.

    Args:
        victim: a built-in victim's name.
        x: its input, ``spec.input_shape`` (ECG ``(L, T)``, image ``(C, H, W)``, video
            ``(C, T, H, W)``), values in ``[0, 1]``.
        y: the true class (``None``: the victim's clean top-1).
        l2_limit: the attack stops, failed, at the first sample farther than this from ``x`` (L2,
            ``[0, 1]`` input scale).
        budget: queries, the clean prediction included; ART's ``max_iter`` is ``budget // 2``
            (two queries per iteration), and the black box enforces the budget.
        seed: seeds ART's random generators (the order of the elements).
        epsilon: the step added to or taken from one element per iteration.
        model: query this network instead of the victim's shipped one (hardened weights, an ONNX model).

    Returns:
        An :class:`AttackResult` named ``simba``; ``queries`` is the black box's count at the
        first misclassified sample (the budget on failure); ``details`` holds ``l2_limit``,
        ``epsilon`` and ``estimator_calls``.
    """
    from art.attacks.evasion import SimBA

    if not l2_limit > 0:
        raise ValueError(f"l2_limit must be positive, got {l2_limit}")

    def make(classifier):
        return SimBA(classifier, attack="px", max_iter=max(1, int(budget) // 2), order="random",
                     epsilon=float(epsilon), batch_size=1, verbose=False)

    return art_attack("simba", victim, x, y, make, budget=budget, seed=seed, output="probs", l2_limit=float(l2_limit),
                      details={"l2_limit": float(l2_limit), "epsilon": float(epsilon)}, model=model)
