"""``random``: distort patches in a random order, one query each.

The reference every RL figure is read against: it has the agent's action space, patch grid,
filters and success rule, and no knowledge. It adds a random filter (of those on offer) to a
random clean patch each step; once the patch cap is reached, it removes a random distorted patch
and goes on adding, so that a capped attack keeps searching until its budget is spent.
Distance: L0 in patches, as ``rl``.
"""
from __future__ import annotations

import numpy as np

from rlab_core.attacks.patch import PatchAttack, drive
from rlab_core.attacks.session import AttackSession


class RandomOrderAttack(PatchAttack):
    """Random-order patch attack; arguments as :class:`~rlab_core.attacks.patch.PatchAttack`,
    the order seeded by ``run``'s ``seed``."""

    name = "random"

    def search(self, session: AttackSession, seed: int) -> None:
        rng = np.random.default_rng(seed)

        def choose(s: AttackSession) -> tuple[int, int]:
            legal = s.action_mask()
            adds, removes = legal[:-1], legal[-1]
            if adds.any():
                patches = np.flatnonzero(adds.any(axis=0))
                patch = int(rng.choice(patches))
                return int(rng.choice(np.flatnonzero(adds[:, patch]))), patch
            return len(s.filters), int(rng.choice(np.flatnonzero(removes)))

        drive(session, choose, self.prune)
