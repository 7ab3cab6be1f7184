"""Attacks: one class per attack, all with one entry point, ``run`` (see :mod:`.base`).

``rl`` and ``adaptive`` (the RL agent), ``random`` and ``greedy`` drive the victim's patch grid
and filters through an :class:`AttackSession`; ``square``, ``square_linf`` and ``simba`` are
ART's attacks through the same query-counting black box (:mod:`.art_bridge`; ART is imported only
when one of them runs). :data:`ATTACKS` is the table every caller looks up.
"""
from rlab_core.attacks.base import DEFAULT_BUDGET, Attack
from rlab_core.attacks.distortion import Distortion, default_context, patch_seed
from rlab_core.attacks.greedy import GreedyAttack
from rlab_core.attacks.patch import PatchAttack, attack_filters
from rlab_core.attacks.random_order import RandomOrderAttack
from rlab_core.attacks.registry import ATTACKS, attack_class, make_attack, parameters
from rlab_core.attacks.result import AttackResult, StepRecord
from rlab_core.attacks.rl import AdaptiveRLAttack, RLAttack
from rlab_core.attacks.session import AttackSession
from rlab_core.attacks.simba import SimBAAttack
from rlab_core.attacks.square import SquareAttack, SquareLinfAttack

__all__ = [
    "ATTACKS",
    "DEFAULT_BUDGET",
    "AdaptiveRLAttack",
    "Attack",
    "AttackResult",
    "AttackSession",
    "Distortion",
    "GreedyAttack",
    "PatchAttack",
    "RLAttack",
    "RandomOrderAttack",
    "SimBAAttack",
    "SquareAttack",
    "SquareLinfAttack",
    "StepRecord",
    "attack_class",
    "attack_filters",
    "default_context",
    "make_attack",
    "parameters",
    "patch_seed",
]
