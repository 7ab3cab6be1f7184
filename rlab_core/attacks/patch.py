"""What the patch attacks share (``rl``, ``adaptive``, ``random``, ``greedy``): filters on the
victim's patch grid, an :class:`AttackSession` on a fresh black box, and the loop that steps it."""
from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable

import torch

from rlab_core.attacks.base import Attack
from rlab_core.attacks.result import AttackResult
from rlab_core.attacks.session import AttackSession
from rlab_core.callbacks import CallbackList
from rlab_core.filters import Filter, resolve_filters
from rlab_core.victims import BlackBox, Victim, VictimProfile


def attack_filters(victim: Victim | VictimProfile, filter: str,
                   strength: float | None = None) -> tuple[list[Filter], list[float]]:
    """The filters ``filter`` names (a name, ``"mix"`` or a comma list) and their strengths on
    ``victim``: the victim's own setting, else the filter's default (``strength`` overrides a
    single filter's)."""
    filters = resolve_filters(filter)
    if strength is not None and len(filters) != 1:
        raise ValueError("a strength can be set for a single filter only, not for a mixture")
    return filters, [strength] if strength is not None else [victim.strengths.get(f.name, f.default_strength)
                                                            for f in filters]


def drive(session: AttackSession, choose: Callable[[AttackSession], tuple[int, int]], prune: bool = True) -> None:
    """Step ``session`` with ``choose`` (returns ``(kind, patch)``; ``kind == len(filters)``
    removes) until the flip, the budget or a dead end; then prune a success."""
    if session.already_misclassified:
        return
    while not session.misclassified and not session.out_of_budget:
        legal = session.action_mask()
        if not legal.any():
            break
        kind, patch = choose(session)
        if kind == len(session.filters):
            session.remove(patch)
        else:
            session.add(patch, kind)
    if prune:
        session.prune()


class PatchAttack(Attack):
    """An attack that adds filters to patches and removes them, one query per step.

    Args:
        filter: a filter name, ``"mix"`` (every filter on offer, the attack picks per step) or a
            comma list; filters a module registered (bring your own filter) count.
        strength: one filter's strength, in place of the victim's (one filter only).
        prune: after the flip, try removing each patch (first added first) and keep the removals
            that leave the victim fooled (one query each).
    """

    def __init__(self, filter: str = "mix", strength: float | None = None, prune: bool = True) -> None:
        filters = resolve_filters(filter)  # a clear error now, not at the first input
        if strength is not None and (len(filters) != 1 or not strength > 0):
            raise ValueError("a strength is a positive number, for a single filter only" if len(filters) == 1
                             else "a strength can be set for a single filter only, not for a mixture")
        self.filter, self.strength, self.prune = filter, strength, bool(prune)

    def open_session(self, victim: Victim, x: torch.Tensor, y: int | None, budget: int, max_patches: int | None,
                     seed: int, callbacks: CallbackList) -> AttackSession:
        """A session on ``victim`` with a fresh query-counting :class:`BlackBox`."""
        filters, strengths = attack_filters(victim, self.filter, self.strength)
        return AttackSession(BlackBox(victim, budget=budget), x, y, filters, strengths=strengths, seed=seed,
                             max_patches=max_patches, callbacks=callbacks)

    def _run(self, victim: Victim, x: torch.Tensor, y: int | None, *, budget: int, max_patches: int | None,
             seed: int, callbacks: CallbackList) -> AttackResult:
        session = self.open_session(victim, x, y, budget, max_patches, seed, callbacks)
        self.search(session, seed)
        return session.result(self.name)

    @abstractmethod
    def search(self, session: AttackSession, seed: int) -> None:
        """Step ``session`` until the flip, the budget or a dead end (and prune, if asked)."""
