"""Peer attacks run in the same harness as the RL agent: same victim wrapper, same patch grid."""
from rlab_core.baselines.greedy import greedy_attack
from rlab_core.baselines.random_order import random_attack

__all__ = ["greedy_attack", "random_attack"]
