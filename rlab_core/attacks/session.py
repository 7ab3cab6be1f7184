"""One attack in progress: the state machine every attacker drives (the RL agent, random, greedy).

An :class:`AttackSession` holds the clean input, the :class:`Distortion`, the victim's last
answer and the trajectory. Each ``add`` or ``remove`` changes one patch and costs exactly one
query through the :class:`BlackBox`. It also knows which actions are legal (:meth:`action_mask`):
no adding to a distorted patch or past the patch cap, no removing from a clean one, and no step
back into a distortion set already visited (which rules out undoing the previous step and every
longer cycle: a deterministic policy can never oscillate).
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from rlab_core.attacks.distortion import Distortion, default_context
from rlab_core.attacks.result import AttackResult, StepRecord, l2, measure
from rlab_core.callbacks import Callback, as_callbacks
from rlab_core.filters import Filter
from rlab_core.patches import PatchGrid
from rlab_core.victims.blackbox import BlackBox

DEFAULT_PATCH_FRACTION = 0.2
TOP_K = 5
_ZOBRIST_SEED = 20240229  # fixed: state hashes only need to differ between states, not between runs


def default_max_patches(grid: PatchGrid) -> int:
    """20% of the grid: distorting everything is not an attack."""
    return max(1, int(DEFAULT_PATCH_FRACTION * grid.n_patches))


class AttackSession:
    """An attack on one input ``x`` with true class ``label`` (``None``: the clean top-1).

    Creating the session sends the clean input (the first query). ``victim`` must be a fresh
    :class:`BlackBox` for this attack: every figure comes from its count; its :class:`Victim`
    gives the patch grid, the class names and the modality.
    """

    def __init__(self, victim: BlackBox, x: torch.Tensor, label: int | None, filters: Sequence[Filter], *,
                 strengths: Sequence[float] | None = None, seed: int = 0, max_patches: int | None = None,
                 callbacks: Callback | Iterable[Callback] = ()) -> None:
        grid = victim.victim.grid
        self.victim, self.grid, self.filters = victim, grid, list(filters)
        self.distortion = Distortion(x, grid, self.filters, strengths, seed,
                                     ctx=default_context(x, victim.victim.modality))
        self.max_patches = max_patches or default_max_patches(grid)
        self.callbacks = as_callbacks(callbacks)  # each step goes to on_attack_step: a page follows it live
        self.started = time.perf_counter()
        self.clean_probs = victim.probs(x)
        self.probs = self.clean_probs
        self.label = int(self.clean_probs.argmax()) if label is None else int(label)
        self.class_names = list(victim.victim.class_names)
        self.already_misclassified = self.misclassified
        self.trajectory: list[StepRecord] = []
        self.first_flip_queries: int | None = None
        self.added_order: list[int] = []
        self._keys = np.random.default_rng(_ZOBRIST_SEED).integers(1, 2**62, size=(len(self.filters), grid.n_patches))
        self._hash = 0
        self._visited = {0}

    # ------------------------------------------------------------------ what the attacker may see
    @property
    def x(self) -> torch.Tensor:
        return self.distortion.x

    @property
    def true_prob(self) -> float:
        return float(self.probs[self.label])

    @property
    def margin(self) -> float:
        """True-class probability minus the ``k``-th best other class's (``k`` the victim's
        ``top_k``; 1: the best other): negative once the class has left the top ``k``."""
        others = np.sort(np.delete(self.probs, self.label))
        return float(self.probs[self.label] - others[-self.victim.victim.top_k])

    @property
    def misclassified(self) -> bool:
        """Whether the attacked class has left the victim's top ``top_k`` (the top-1, for most)."""
        top = np.argsort(-self.probs, kind="stable")[:self.victim.victim.top_k]  # ties: the lower class first, as argmax
        return self.label not in top

    @property
    def out_of_budget(self) -> bool:
        return self.victim.remaining == 0

    def action_mask(self) -> np.ndarray:
        """Legal actions as bool ``(n_filters + 1, n_patches)``: row ``f`` adds filter ``f`` to a
        patch, the last row removes a patch's distortion."""
        assignment = self.distortion.assignment.numpy()
        clean = assignment < 0
        visited = np.fromiter(self._visited, dtype=np.int64)
        add = clean[None, :] & ~np.isin(self._hash ^ self._keys, visited)
        if self.distortion.n_distorted >= self.max_patches:
            add[:] = False
        remove = np.zeros(self.grid.n_patches, dtype=bool)
        on = np.flatnonzero(~clean)
        remove[on] = ~np.isin(self._hash ^ self._keys[assignment[on], on], visited)
        return np.vstack([add, remove[None, :]])

    # ---------------------------------------------------------------------------- what it can do
    def add(self, patch: int, filter_index: int = 0) -> np.ndarray:
        self.distortion.add(patch, filter_index)
        self._hash ^= int(self._keys[filter_index, patch])
        self._visited.add(self._hash)
        self.added_order.append(int(patch))
        return self._query("add", int(patch), filter_index)

    def remove(self, patch: int) -> np.ndarray:
        filter_index = self.distortion.filter_of(patch)
        self.distortion.remove(patch)
        self._hash ^= int(self._keys[filter_index, patch])
        self._visited.add(self._hash)
        self.added_order.remove(int(patch))
        return self._query("remove", int(patch), filter_index)

    def prune(self) -> None:
        """After a flip, try removing each distorted patch (first added first), one query each,
        and keep a removal while the input stays misclassified. Stops if the budget runs out."""
        if not self.misclassified:
            return
        for patch in list(self.added_order):
            if self.out_of_budget:
                break
            filter_index = self.distortion.filter_of(patch)
            flipped_probs = self.probs
            self.distortion.remove(patch)
            self._query("prune", patch, filter_index)
            if self.misclassified:
                self.added_order.remove(patch)
            else:  # the patch was needed: put it back; the victim's answer there is already known
                self.distortion.add(patch, filter_index)
                self.probs = flipped_probs
                self.trajectory[-1] = StepRecord(**{**self.trajectory[-1].to_dict(), "kept": False})

    def _query(self, action: str, patch: int, filter_index: int) -> np.ndarray:
        x_adv = self.distortion.adversarial()
        self.probs = self.victim.probs(x_adv)
        if self.misclassified and self.first_flip_queries is None and action != "prune":
            self.first_flip_queries = self.victim.queries
        top = np.argsort(self.probs)[::-1][:TOP_K]
        record = StepRecord(
            step=len(self.trajectory) + 1, action=action, filter=self.filters[filter_index].name, patch=patch,
            queries=self.victim.queries, true_prob=round(self.true_prob, 6),
            top=[[self.class_names[k], round(float(self.probs[k]), 6)] for k in top],
            l0_patches=self.distortion.n_distorted, l2=round(l2(self.x, x_adv), 6), misclassified=self.misclassified)
        self.trajectory.append(record)
        self.callbacks.on_attack_step(record)
        return self.probs

    # ------------------------------------------------------------------------------ the outcome
    def result(self, attack: str) -> AttackResult:
        x_adv = self.distortion.adversarial()
        success = self.misclassified and not self.already_misclassified and self.distortion.n_distorted <= self.max_patches
        policy_steps = [r for r in self.trajectory if r.action in ("add", "remove")]
        removes = sum(r.action == "remove" for r in policy_steps)
        budget = self.victim.budget if self.victim.budget is not None else self.victim.queries
        queries = (self.first_flip_queries if success and self.first_flip_queries is not None
                   else self.victim.queries if self.already_misclassified else budget)
        return measure(attack, self.x, x_adv, label=self.label, adversarial_label=int(self.probs.argmax()),
                       class_names=self.class_names, success=success, already_misclassified=self.already_misclassified,
                       queries=queries, queries_total=self.victim.queries, mask=self.distortion.mask,
                       element_mask=self.grid.element_mask(self.distortion.mask), started=self.started,
                       remove_rate=removes / len(policy_steps) if policy_steps else 0.0, trajectory=self.trajectory)
