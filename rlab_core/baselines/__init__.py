"""Peer attacks run in the same harness as the RL agent: same victim wrapper, same success rule.

``random`` and ``greedy`` drive the RL agent's patch grid and filters; ``square``,
``square_linf`` and ``simba`` are ART's attacks, run through the same query-counting
:class:`~rlab_core.victims.blackbox.BlackBox` (see :mod:`rlab_core.baselines.art_bridge`).
ART is imported only when one of them runs.
"""
from rlab_core.baselines.greedy import greedy_attack
from rlab_core.baselines.random_order import random_attack
from rlab_core.baselines.simba import simba_attack
from rlab_core.baselines.square import square_attack, square_linf_attack

__all__ = ["greedy_attack", "random_attack", "simba_attack", "square_attack", "square_linf_attack"]
