"""The RL agent's explanations: the patches it needed to fool the victim.

Black-box: built from attacks through the counting victim, so their queries are reported.

- ``rl`` (soft): over several attacks (filters x seeds), the share of successful attacks whose
  final, pruned distortion holds each patch; ties are broken by the order in which patches were
  first added over all attacks (earlier first), so that even a patch no success kept still ranks
  above one the agent never touched.
- ``rl_hard``: the patches still distorted at the flip, after pruning, of the first successful
  attack (the deterministic policy with the mixture comes first); empty when none succeeded. Its
  queries are those of the attacks up to and including that one (all of them when none succeeded).
"""
from __future__ import annotations

import time

import torch

from rlab_core.attacks.result import AttackResult
from rlab_core.attacks.rl import RLAttack
from rlab_core.explanations.base import AttributionMap
from rlab_core.patches import PatchGrid
from rlab_core.victims import Victim

RL_FILTERS = ("mix", "gaussian_noise", "illuminate")
RL_SEEDS = 2  # the first seed follows the policy's best action; later ones sample from it


def rl_attacks(victim: Victim, x: torch.Tensor, label: int, agent, budget: int, seed: int,
               filters: tuple[str, ...] = RL_FILTERS, seeds: int = RL_SEEDS) -> list[AttackResult]:
    """The attacks the RL maps are made of, in a fixed order (filter-major, then seed)."""
    return [RLAttack(agent, name, deterministic=k == 0).run(victim, x, label, budget=budget, seed=seed + k)
            for name in filters for k in range(seeds)]


def first_added_order(results: list[AttackResult], n_patches: int) -> torch.Tensor:
    """Each patch's rank in the order of first addition over all ``results`` (``n_patches`` if never)."""
    rank = torch.full((n_patches,), n_patches, dtype=torch.long)
    seen = 0
    for result in results:
        for step in result.trajectory:
            if step.action == "add" and rank[step.patch] == n_patches:
                rank[step.patch], seen = seen, seen + 1
    return rank


def rl_maps(results: list[AttackResult], grid: PatchGrid, seconds: float = 0.0) -> tuple[AttributionMap, AttributionMap]:
    """``(rl, rl_hard)`` at element resolution from the attacks of :func:`rl_attacks`."""
    started = time.perf_counter()
    n = grid.n_patches
    wins = [r for r in results if r.success]
    needed = torch.zeros(n)
    for result in wins:
        needed += result.mask.float()
    share = needed / max(1, len(results))
    rank = first_added_order(results, n)
    # The tie-break is below the gap between two shares (1 / len(results)), so it never reorders them.
    tie_break = (rank < n).float() * (n - rank).float() / n * (0.5 / max(1, len(results)))
    soft = share + tie_break
    hard = wins[0].mask.clone() if wins else torch.zeros(n, dtype=torch.bool)
    seconds += time.perf_counter() - started
    queries = sum(r.queries_total for r in results)
    # rl_hard costs every attack run until the first success (all of them when none succeeded).
    first_win = next((i for i, r in enumerate(results) if r.success), len(results) - 1)
    hard_queries = sum(r.queries_total for r in results[:first_win + 1])
    return (AttributionMap("rl", grid.expand(soft), False, queries, seconds),
            AttributionMap("rl_hard", grid.element_mask(hard).float(), False, hard_queries, seconds))


def rl_at_budgets(victim: Victim, x: torch.Tensor, label: int, agent, budgets: tuple[int, ...],
                  seed: int) -> dict[int, AttributionMap | None]:
    """The ``rl`` map at each total budget ``b``: its attacks share ``b`` (each gets ``b`` over their
    count), so a map never spends more than ``b`` queries; ``None`` where ``b`` buys no attack
    beyond the clean query. Each budget is a run of its own (an attack's path depends on its budget)."""
    runs = len(RL_FILTERS) * RL_SEEDS
    maps: dict[int, AttributionMap | None] = {}
    for b in budgets:
        if b // runs < 2:
            maps[b] = None
            continue
        started = time.perf_counter()
        results = rl_attacks(victim, x, label, agent, b // runs, seed)
        maps[b] = rl_maps(results, victim.grid, time.perf_counter() - started)[0]
    return maps
