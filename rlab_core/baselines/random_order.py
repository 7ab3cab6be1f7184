"""The ``random`` baseline: distort patches in a random order, one query each.

The reference every RL figure is read against: it has the agent's action space, patch grid,
filters and success rule, and no knowledge. It adds a random filter (of those on offer) to a
random clean patch each step; once the patch cap is reached, it removes a random distorted patch
and goes on adding, so that a capped attack keeps searching until its budget is spent.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rlab_core.attack.result import AttackResult
from rlab_core.attack.runner import DEFAULT_BUDGET, drive, open_session
from rlab_core.attack.session import AttackSession


def random_attack(victim: str, x: torch.Tensor, y: int | None, filter: str = "mix", budget: int = DEFAULT_BUDGET,
                  max_patches: int | None = None, seed: int = 0, *, strength: float | None = None,
                  prune: bool = True, on_step=None, model: nn.Module | None = None) -> AttackResult:
    """Random-order patch attack on built-in ``victim``; arguments as :func:`rlab_core.attack.attack`."""
    session = open_session(victim, x, y, filter, budget, max_patches, seed, strength, on_step, model=model)
    rng = np.random.default_rng(seed)

    def choose(s: AttackSession) -> tuple[int, int]:
        legal = s.action_mask()
        adds, removes = legal[:-1], legal[-1]
        if adds.any():
            patches = np.flatnonzero(adds.any(axis=0))
            patch = int(rng.choice(patches))
            return int(rng.choice(np.flatnonzero(adds[:, patch]))), patch
        return len(s.filters), int(rng.choice(np.flatnonzero(removes)))

    drive(session, choose, prune)
    return session.result("random")
