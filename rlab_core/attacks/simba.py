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

ECG and video are shown to ART as images (see :mod:`rlab_core.attacks.art_bridge`); the pixel
basis does not care about the layout.
"""
from __future__ import annotations

from rlab_core.attacks.art_bridge import ArtAttack
from rlab_core.victims import Victim

EPSILON = 0.2  # the paper's step for the pixel and DCT bases on ImageNet, in [0, 1] scale


class SimBAAttack(ArtAttack):
    """SimBA (pixel basis, untargeted) held to an L2 limit (``simba``).

    Args:
        l2_limit: the attack stops, failed, at the first sample farther than this from ``x`` (L2,
            ``[0, 1]`` input scale).
        epsilon: the step added to or taken from one element per iteration.

    ``run``'s ``budget``: ART's ``max_iter`` is ``budget // 2`` (two queries per iteration), and the
    black box enforces the budget; ``seed`` seeds ART's random generators (the order of the
    elements). The result's ``details`` hold ``l2_limit``, ``epsilon`` and ``estimator_calls``.
    Shapes: ECG ``(L, T)``, image ``(C, H, W)``, video ``(C, T, H, W)``, values in ``[0, 1]``.
    """

    name = "simba"
    output = "probs"  # SimBA requires probabilities
    matched_parameter = "l2_limit"

    def __init__(self, l2_limit: float, epsilon: float = EPSILON) -> None:
        if not l2_limit > 0:
            raise ValueError(f"l2_limit must be positive, got {l2_limit}")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.limit, self.epsilon = float(l2_limit), float(epsilon)

    def l2_limit(self) -> float | None:
        return self.limit

    def make(self, classifier, victim: Victim, budget: int):
        from art.attacks.evasion import SimBA

        return SimBA(classifier, attack="px", max_iter=max(1, budget // 2), order="random", epsilon=self.epsilon,
                     batch_size=1, verbose=False)

    def details(self, victim: Victim) -> dict:
        return {"l2_limit": self.limit, "epsilon": self.epsilon}
