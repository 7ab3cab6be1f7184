"""The Gymnasium environment: one episode is one attack on one input, one query per step.

Observation (only what a black-box attacker may see), a dict of float32 arrays:

- ``view``  ``(2C, *view_shape)``: the clean input and the current adversarial input, average-pooled
  to ``view_shape`` (a whole number of cells per patch);
- ``mask``  ``(n_filters, *grid)``: one-hot of the filter on each patch (all zero where clean);
- ``state`` ``(11,)``: the victim's last probabilities (true class, best other class, margin, top-5
  sorted), the share of the query budget spent, the share of the patch cap used, and whether the
  last action was a removal.

Grid axes of length 1 are dropped from ``view`` and ``mask`` (a clip cut into whole-clip cubes is
seen like an image), so that one agent can serve a frame-level video victim and its image victim.

Action ``a`` in ``Discrete((n_filters + 1) * n_patches)``: ``kind, patch = divmod(a, n_patches)``;
``kind < n_filters`` adds filter ``kind`` to ``patch``, ``kind == n_filters`` removes ``patch``'s
distortion. Illegal actions are masked (:meth:`action_masks`, for MaskablePPO); an unmasked policy
that takes one anyway ends its episode with reward -1 and no query. The reward is described in
``docs/reward.md``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces

from rlab_core.attacks.session import AttackSession
from rlab_core.filters import Filter
from rlab_core.patches import PatchGrid
from rlab_core.victims import BlackBox, Victim

STATE_SIZE = 11
ILLEGAL_ACTION_REWARD = -1.0  # and the episode ends, with no query sent


@dataclass(frozen=True)
class Reward:
    """``progress * (margin before - margin after) - query_cost - patch_cost * used share of the
    cap, plus success_bonus * (1 - 0.5 * used share) on the flip``. See docs/reward.md."""

    progress: float = 1.0
    query_cost: float = 0.02
    patch_cost: float = 0.05
    success_bonus: float = 1.0

    def __call__(self, margin_before: float, margin_after: float, used_share: float, flipped: bool) -> float:
        reward = self.progress * (margin_before - margin_after) - self.query_cost - self.patch_cost * used_share
        return reward + (self.success_bonus * (1.0 - 0.5 * used_share) if flipped else 0.0)


def squeeze_grid(grid: PatchGrid) -> tuple[int, ...]:
    """The grid's axes without those of length 1."""
    return tuple(n for n in grid.grid_shape if n > 1) or (1,)


def view_shape(grid: PatchGrid, cells_per_patch: Sequence[int]) -> tuple[int, ...]:
    return tuple(n * c for n, c in zip(grid.grid_shape, cells_per_patch) if n > 1) or (1,)


def pool(x: torch.Tensor, grid: PatchGrid, cells_per_patch: Sequence[int]) -> torch.Tensor:
    """Average-pool ``(C, *spatial)`` to ``(C, *view_shape)``, dropping grid axes of length 1."""
    spatial = tuple(n * c for n, c in zip(grid.grid_shape, cells_per_patch))
    pools: dict[int, Callable[..., torch.Tensor]] = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
    pooled = pools[x.dim() - 1](x[None], spatial)[0]
    keep = [0] + [1 + d for d, n in enumerate(grid.grid_shape) if n > 1]
    if len(keep) == 1:
        return pooled.reshape(x.shape[0], 1)
    drop = [1 + d for d, n in enumerate(grid.grid_shape) if n == 1]
    return pooled.mean(dim=drop) if drop else pooled


def observe(session: AttackSession, cells_per_patch: Sequence[int], last_was_remove: bool,
            filter_slots: Sequence[int] | None = None, n_slots: int | None = None) -> dict[str, np.ndarray]:
    """The observation of ``session``. ``filter_slots[i]`` is the agent's slot of the session's
    filter ``i`` (``-1``: a filter the agent never saw, marked as ``1 / n_slots`` in every slot)."""
    grid = session.grid
    view = torch.cat([pool(session.x, grid, cells_per_patch), pool(session.distortion.adversarial(), grid, cells_per_patch)])
    slots = list(range(len(session.filters))) if filter_slots is None else list(filter_slots)
    n_slots = n_slots or len(session.filters)
    mask = np.zeros((n_slots, grid.n_patches), dtype=np.float32)
    for patch, index in enumerate(session.distortion.assignment.tolist()):
        if index >= 0:
            if slots[index] >= 0:
                mask[slots[index], patch] = 1.0
            else:
                mask[:, patch] = 1.0 / n_slots
    probs = session.probs
    top = np.sort(probs)[::-1][:5]
    budget = session.victim.budget or max(1, session.victim.queries)
    state = np.zeros(STATE_SIZE, dtype=np.float32)
    state[0], state[1], state[2] = session.true_prob, np.delete(probs, session.label).max(), session.margin
    state[3:3 + len(top)] = top
    state[8] = session.victim.queries / budget
    state[9] = session.distortion.n_distorted / session.max_patches
    state[10] = float(last_was_remove)
    return {"view": view.numpy().astype(np.float32), "mask": mask.reshape((n_slots, *squeeze_grid(grid))), "state": state}


class PatchAttackEnv(gym.Env):
    """Attack inputs drawn from ``inputs`` (pairs of clean input and true class) one per episode.

    Args:
        victim: the :class:`Victim` attacked (queried through a fresh :class:`BlackBox` per episode;
            it gives the patch grid and the modality).
        inputs: correctly classified ``(x, label)`` pairs to attack.
        filters: the filters on offer (the agent picks per step), at ``strengths`` (``None``: their defaults).
        cells_per_patch: the observation's resolution per patch along each axis.
        budget: queries per episode (the clean prediction included; ``None``: unlimited).
        max_patches: the patch cap (``None``: 20% of the grid).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # as gym.Env declares it

    def __init__(self, victim: Victim, inputs: Sequence[tuple[torch.Tensor, int]], filters: Sequence[Filter],
                 cells_per_patch: Sequence[int], *, strengths: Sequence[float] | None = None, budget: int | None = 200,
                 max_patches: int | None = None, reward: Reward = Reward()) -> None:
        super().__init__()
        grid = victim.grid
        self.victim, self.inputs, self.grid, self.filters = victim, list(inputs), grid, list(filters)
        self.cells_per_patch, self.budget, self.max_patches = tuple(cells_per_patch), budget, max_patches
        self.reward, self.strengths = reward, strengths
        channels = grid.input_shape[0]
        self.observation_space = spaces.Dict({
            "view": spaces.Box(0.0, 1.0, (2 * channels, *view_shape(grid, self.cells_per_patch)), np.float32),
            "mask": spaces.Box(0.0, 1.0, (len(self.filters), *squeeze_grid(grid)), np.float32),
            "state": spaces.Box(-1.0, 1.0, (STATE_SIZE,), np.float32),
        })
        self.action_space = spaces.Discrete((len(self.filters) + 1) * grid.n_patches)
        self.session: AttackSession | None = None
        self._last_was_remove = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        index = (options or {}).get("index", int(self.np_random.integers(len(self.inputs))))
        x, label = self.inputs[index]
        self.session = AttackSession(BlackBox(self.victim, budget=self.budget), x, label, self.filters,
                                     strengths=self.strengths, seed=int(self.np_random.integers(2**31)),
                                     max_patches=self.max_patches)
        self._last_was_remove = False
        return self._observe(), {"index": index, "already_misclassified": self.session.already_misclassified}

    def step(self, action: int):
        session = self.session
        assert session is not None  # reset() comes first
        kind, patch = divmod(int(action), self.grid.n_patches)
        if not session.action_mask()[kind, patch]:  # only an unmasked policy gets here
            return self._observe(), ILLEGAL_ACTION_REWARD, False, True, {"queries": session.victim.queries, "illegal": True}
        margin_before = session.margin
        if kind < len(self.filters):
            session.add(patch, kind)
        else:
            session.remove(patch)
        self._last_was_remove = kind == len(self.filters)
        flipped = session.misclassified
        used = session.distortion.n_distorted / session.max_patches
        reward = self.reward(margin_before, session.margin, used, flipped)
        truncated = not flipped and (session.out_of_budget or not session.action_mask().any())
        info = {"queries": session.victim.queries, "success": flipped}
        return self._observe(), float(reward), flipped, truncated, info

    def action_masks(self) -> np.ndarray:
        assert self.session is not None  # reset() comes first
        return self.session.action_mask().reshape(-1)

    def describe(self, action: int) -> str:
        kind, patch = divmod(int(action), self.grid.n_patches)
        return f"remove patch {patch}" if kind == len(self.filters) else f"add {self.filters[kind].name} to patch {patch}"

    def _observe(self) -> dict[str, np.ndarray]:
        assert self.session is not None  # reset() comes first
        return observe(self.session, self.cells_per_patch, self._last_was_remove)
