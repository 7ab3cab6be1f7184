"""``square`` and ``square_linf``: ART's Square Attack through the same query-counting black box.

Square Attack: a query-efficient black-box adversarial attack via random search
(Andriushchenko, Croce, Flammarion, Hein, ECCV 2020, https://arxiv.org/abs/1912.00049), as
``art.attacks.evasion.SquareAttack`` implements it: random square-shaped updates, each kept when
it lowers the margin loss (here the difference of log-probabilities, which is the logits'
margin), always within an Lp ball of radius ``eps`` around the clean input.

Distance: ``square`` is L2 (``norm=2``), ``square_linf`` Linf (``norm=np.inf``). In the benchmark,
``square``'s ``eps`` is the L2 that the RL attack reached on the same input (its pruned
adversarial input), or the RL attack's median L2 over the run when it failed on this input;
``square_linf``'s is 0.05, the published ImageNet setting (all in ``[0, 1]`` input scale).

ECG and video are shown to ART as images (see :mod:`rlab_core.baselines.art_bridge`). ART's
square schedule assumes square images; on a folded ECG (10 x 14 for 140 samples) the first
square is limited to fit the fold's height (``p_init`` is lowered until it does).
"""
from __future__ import annotations

import numpy as np
import torch

from rlab_core.attack.result import AttackResult
from rlab_core.attack.runner import DEFAULT_BUDGET
from rlab_core.baselines.art_bridge import art_attack, image_shape
from rlab_core.victims import get_spec

LINF_EPS = 0.05
P_INIT = 0.8  # ART's default: the first square covers 80% of the image, then shrinks


def fitting_p_init(shape: tuple[int, int, int], p_init: float = P_INIT) -> float:
    """The largest ``p <= p_init`` whose first square is smaller than the image's height.

    ART sizes the square from ``p * H * W`` (at least 3 pixels and odd for L2) and places it
    within the height only: a square as tall as the image has no room, so ART would fail.
    """
    _, h, w = shape
    side = h - 1 if (h - 1) % 2 else h - 2  # the largest odd side that leaves room
    return float(min(p_init, (side - 0.5) ** 2 / (h * w)))


def square_attack(victim: str, x: torch.Tensor, y: int | None, eps: float, budget: int = DEFAULT_BUDGET,
                  seed: int = 0, *, norm: float = 2, p_init: float = P_INIT, reuse_answers: bool = True,
                  model: torch.nn.Module | None = None) -> AttackResult:
    """Square Attack (untargeted) on one input of built-in ``victim``.

    Args:
        victim: a built-in victim's name.
        x: its input, ``spec.input_shape`` (ECG ``(L, T)``, image ``(C, H, W)``, video
            ``(C, T, H, W)``), values in ``[0, 1]``.
        y: the true class (``None``: the victim's clean top-1).
        eps: the radius of the ball, in ``[0, 1]`` input scale (L2 for ``norm=2``, Linf for ``np.inf``).
        budget: queries, the clean prediction included; ART's ``max_iter`` is the budget (each
            iteration costs at least one query), so its square-size schedule spans the budget.
        seed: seeds ART's random generators.
        norm: 2 or ``np.inf``. p_init: ART's initial fraction of the image a square covers.
        reuse_answers: see :mod:`rlab_core.baselines.art_bridge`.
        model: query this network instead of the victim's shipped one (e.g. a fine-tuned copy).

    Returns:
        An :class:`AttackResult` named ``square`` (L2) or ``square_linf``; ``queries`` is the
        black box's count at the first misclassified sample (the budget on failure);
        ``details`` holds ``eps``, ``norm``, ``p_init`` and ``estimator_calls``.
    """
    from art.attacks.evasion import SquareAttack

    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    norm_name = "l2" if norm == 2 else "linf"
    p = fitting_p_init(image_shape(get_spec(victim).input_shape), p_init)

    def make(classifier):
        return SquareAttack(classifier, norm=norm, eps=float(eps), max_iter=int(budget), p_init=p, nb_restarts=1,
                            batch_size=1, verbose=False)

    return art_attack("square" if norm == 2 else "square_linf", victim, x, y, make, budget=budget, seed=seed,
                      output="log_probs", reuse_answers=reuse_answers, model=model,
                      details={"eps": float(eps), "norm": norm_name, "p_init": round(p, 6)})


def square_linf_attack(victim: str, x: torch.Tensor, y: int | None, budget: int = DEFAULT_BUDGET, seed: int = 0,
                       *, eps: float = LINF_EPS, reuse_answers: bool = True,
                       model: torch.nn.Module | None = None) -> AttackResult:
    """Square Attack in Linf at ``eps`` (default 0.05); arguments as :func:`square_attack`."""
    return square_attack(victim, x, y, eps, budget, seed, norm=np.inf, reuse_answers=reuse_answers, model=model)
