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

ECG and video are shown to ART as images (see :mod:`rlab_core.attacks.art_bridge`). ART's
square schedule assumes square images; on a folded ECG (10 x 14 for 140 samples) the first
square is limited to fit the fold's height (``p_init`` is lowered until it does).
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from rlab_core.attacks.art_bridge import ArtAttack, image_shape
from rlab_core.victims import Victim

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


class SquareAttack(ArtAttack):
    """Square Attack (untargeted) in an L2 ball (``square``).

    Args:
        eps: the radius of the ball, in ``[0, 1]`` input scale (L2 here, Linf for :class:`SquareLinfAttack`).
        p_init: ART's initial fraction of the image a square covers (lowered to fit a folded ECG).
        reuse_answers: see :mod:`rlab_core.attacks.art_bridge`.

    ``run``'s ``budget`` is ART's ``max_iter`` (each iteration costs at least one query), so its
    square-size schedule spans the budget; ``seed`` seeds ART's random generators. The result's
    ``queries`` is the black box's count at the first misclassified sample (the budget on failure);
    ``details`` holds ``eps``, ``norm``, ``p_init`` and ``estimator_calls``. Shapes: ECG ``(L, T)``,
    image ``(C, H, W)``, video ``(C, T, H, W)``, values in ``[0, 1]``.
    """

    name = "square"
    norm: ClassVar[float] = 2
    matched_parameter: ClassVar[str | None] = "eps"

    def __init__(self, eps: float, p_init: float = P_INIT, reuse_answers: bool = True) -> None:
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        if not 0 < p_init <= 1:
            raise ValueError(f"p_init must be in (0, 1], got {p_init}")
        self.eps, self.p_init, self.reuse_answers = float(eps), float(p_init), bool(reuse_answers)

    def p_for(self, victim: Victim) -> float:
        return fitting_p_init(image_shape(victim.input_shape), self.p_init)

    def make(self, classifier, victim: Victim, budget: int):
        from art.attacks.evasion import SquareAttack as ArtSquareAttack

        return ArtSquareAttack(classifier, norm=self.norm, eps=self.eps, max_iter=budget, p_init=self.p_for(victim),
                               nb_restarts=1, batch_size=1, verbose=False)

    def details(self, victim: Victim) -> dict:
        return {"eps": self.eps, "norm": "l2" if self.norm == 2 else "linf", "p_init": round(self.p_for(victim), 6)}


class SquareLinfAttack(SquareAttack):
    """Square Attack in a Linf ball (``square_linf``), by default of 0.05; arguments as :class:`SquareAttack`."""

    name = "square_linf"
    norm = np.inf
    matched_parameter = None  # its radius is the published Linf 0.05, not an L2

    def __init__(self, eps: float = LINF_EPS, p_init: float = P_INIT, reuse_answers: bool = True) -> None:
        super().__init__(eps, p_init, reuse_answers)
