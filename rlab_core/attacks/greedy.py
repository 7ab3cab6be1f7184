"""The ``greedy`` baseline: the search of the published RLAB code (Sarkar et al., AAAI 2024 demo).

Each step it queries every legal single addition on its own (every clean patch under every filter
on offer: one query each, in one batch through the same black box), then distorts the two that
lowered the true class's probability most, and checks the result. It never removes. On a grid of
``P`` patches and ``F`` filters a step costs ``F * P + 2`` queries here (the published code checks
both additions with one query; our session queries after every change). Distance: L0 in patches.
"""
from __future__ import annotations

import numpy as np

from rlab_core.attacks.patch import PatchAttack
from rlab_core.attacks.session import AttackSession
from rlab_core.victims.blackbox import BudgetExhausted

PATCHES_PER_STEP = 2


def probe(session: AttackSession) -> tuple[np.ndarray, np.ndarray]:
    """The true-class probability after each legal single addition: ``(candidates (k, 2), probs (k,))``.
    Raises :class:`BudgetExhausted`, with no query sent, when the budget left cannot pay for them all."""
    candidates = np.argwhere(session.action_mask()[:-1])
    remaining = session.victim.remaining
    if remaining is not None and len(candidates) > remaining:
        raise BudgetExhausted(f"a probe of {len(candidates)} queries, with {remaining} left")
    true_probs = [session.victim.probs(batch)[:, session.label] for batch in session.distortion.each_addition(candidates)]
    return candidates, np.concatenate(true_probs)


class GreedyAttack(PatchAttack):
    """The published greedy search; arguments as :class:`~rlab_core.attacks.patch.PatchAttack`."""

    name = "greedy"

    def search(self, session: AttackSession, seed: int) -> None:
        try:
            while not session.already_misclassified and not session.misclassified and session.action_mask()[:-1].any():
                if session.victim.remaining is not None and session.victim.remaining < 1 + PATCHES_PER_STEP:
                    break
                candidates, true_probs = probe(session)
                taken: set[int] = set()
                for index in np.argsort(true_probs, kind="stable"):
                    f, p = (int(v) for v in candidates[index])
                    if p in taken or session.out_of_budget or not session.action_mask()[f, p]:
                        continue
                    session.add(p, f)
                    taken.add(p)
                    if len(taken) == PATCHES_PER_STEP or session.misclassified:
                        break
            if self.prune:
                session.prune()
        except BudgetExhausted:  # a probe larger than what is left of the budget
            pass
