"""Captum's black-box perturbation methods on the attack's own patch grid, at a given query budget.

Four peers of the RL maps, each asking the victim only for probabilities through the counting
:class:`~rlab_core.victims.BlackBox` (so the wrapper's count is the cost reported):

* Feature Ablation (Captum's generalisation of occlusion to a feature mask): each patch in turn set
  to the reference input; fixed cost ``1 + P`` (the clean input, then one per patch).
* Shapley Value Sampling (Castro, Gomez and Tejada, "Polynomial calculation of the Shapley value
  based on sampling", Computers & Operations Research 2009): patches added to the reference in
  random orders; ``1 + n * P`` (the reference, then ``P`` per permutation).
* Kernel SHAP (Lundberg and Lee, "A unified approach to interpreting model predictions", NeurIPS
  2017): a weighted linear fit over random coalitions of patches; ``n`` (all patches and none are
  Captum's first two samples).
* LIME (Ribeiro, Singh and Guestrin, "Why should I trust you?", KDD 2016): a Lasso fit over random
  coalitions weighted by their closeness to the input; ``n``.

``P`` is ``grid.n_patches``. The features are the grid's patches (every channel of an element
shares its patch's id) and "absent" is :func:`~rlab_core.explanations.base.reference_input`. Every
map has shape ``x.shape[1:]``, one value per patch; larger means more evidence for ``label``.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from captum.attr import FeatureAblation, KernelShap, Lime, ShapleyValueSampling

from rlab_core.explanations.base import AttributionMap, reference_input
from rlab_core.patches import PatchGrid
from rlab_core.victims.blackbox import BlackBox

PERTURBATIONS_PER_EVAL = 64  # samples per victim call: the cost counts samples, so batching is free
SAMPLING = ("shapley", "kernel_shap", "lime")
KERNEL_SHAP_FIXED = 2  # Captum's first two Kernel SHAP samples: every patch present, then none


def patch_ids(grid: PatchGrid) -> torch.Tensor:
    """Captum's feature mask ``(1, *grid.input_shape)``: every element's patch index, on all channels."""
    ids = torch.empty(grid.input_shape, dtype=torch.long)
    for index in range(grid.n_patches):
        ids[grid.slices(index)] = index
    return ids[None]


def _forward(black_box: BlackBox) -> Callable[[torch.Tensor], torch.Tensor]:
    def probabilities(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(black_box.probs(batch))

    return probabilities


def _attribution_map(method: str, values: torch.Tensor, black_box: BlackBox, spent: int, started: float) -> AttributionMap:
    # The mask gives every channel of a patch the same value: keep one channel.
    return AttributionMap(method, values[0, 0].detach().float(), False, black_box.queries - spent,
                          time.perf_counter() - started)


def feature_ablation(black_box: BlackBox, x: torch.Tensor, label: int, grid: PatchGrid) -> AttributionMap:
    """Each patch's drop of ``label``'s probability when set to the reference; ``1 + P`` queries."""
    started, spent = time.perf_counter(), black_box.queries
    drops = FeatureAblation(_forward(black_box)).attribute(
        x[None], baselines=reference_input(x)[None], target=label, feature_mask=patch_ids(grid),
        perturbations_per_eval=PERTURBATIONS_PER_EVAL)
    return _attribution_map("feature_ablation", drops, black_box, spent, started)


def minimum_budget(method: str, grid: PatchGrid) -> int:
    """The fewest queries that buy ``method`` one sample (one permutation for Shapley)."""
    return {"feature_ablation": 1 + grid.n_patches, "shapley": 1 + grid.n_patches,
            "kernel_shap": KERNEL_SHAP_FIXED + 1, "lime": 1}[method]


def _check_budget(method: str, budget: int, grid: PatchGrid, why: str) -> None:
    least = minimum_budget(method, grid)
    if budget < least:
        raise ValueError(f"{method} needs a budget of at least {least} queries ({why}); the budget is {budget}")


def permutations_for(budget: int, grid: PatchGrid) -> int:
    """Shapley Value Sampling's permutations within ``budget``: ``(budget - 1) // P``, since Captum
    evaluates the reference once and then every prefix of each permutation (``P`` samples)."""
    _check_budget("shapley", budget, grid, f"the reference, then one permutation of the {grid.n_patches} patches")
    return (budget - 1) // grid.n_patches


def shapley(black_box: BlackBox, x: torch.Tensor, label: int, grid: PatchGrid, budget: int, seed: int) -> AttributionMap:
    """Shapley Value Sampling over ``(budget - 1) // P`` random patch orders: ``1 + n * P <= budget``
    queries. Each patch's value is its mean marginal gain in ``label``'s probability."""
    n = permutations_for(budget, grid)
    started, spent = time.perf_counter(), black_box.queries
    with torch.random.fork_rng(devices=[]):  # Captum draws on the CPU generator; leave the caller's state alone
        torch.manual_seed(seed)
        values = ShapleyValueSampling(_forward(black_box)).attribute(
            x[None], baselines=reference_input(x)[None], target=label, feature_mask=patch_ids(grid), n_samples=n,
            perturbations_per_eval=PERTURBATIONS_PER_EVAL)
    return _attribution_map("shapley", values, black_box, spent, started)


def _fit(method: str, explainer: KernelShap | Lime, x: torch.Tensor, label: int, grid: PatchGrid, budget: int,
         seed: int, black_box: BlackBox) -> AttributionMap:
    """Run a Lime-family ``explainer`` with ``n_samples=budget``: for one input Captum sends exactly
    ``n_samples`` samples to the victim and no other forward pass."""
    started, spent = time.perf_counter(), black_box.queries
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        values = explainer.attribute(
            x[None], baselines=reference_input(x)[None], target=label, feature_mask=patch_ids(grid), n_samples=budget,
            perturbations_per_eval=PERTURBATIONS_PER_EVAL)
    return _attribution_map(method, values, black_box, spent, started)


def kernel_shap(black_box: BlackBox, x: torch.Tensor, label: int, grid: PatchGrid, budget: int, seed: int) -> AttributionMap:
    """Kernel SHAP with ``budget`` samples, exactly ``budget`` queries: the two fixed coalitions
    (every patch, none) and ``budget - 2`` random ones, so at least 3."""
    _check_budget("kernel_shap", budget, grid, "every patch present, none present, then one random coalition")
    return _fit("kernel_shap", KernelShap(_forward(black_box)), x, label, grid, budget, seed, black_box)


def lime(black_box: BlackBox, x: torch.Tensor, label: int, grid: PatchGrid, budget: int, seed: int) -> AttributionMap:
    """LIME with ``budget`` random coalitions (each patch kept with probability 1/2), exactly
    ``budget`` queries, fitted by Captum's default Lasso (alpha 0.01)."""
    _check_budget("lime", budget, grid, "one random coalition")
    return _fit("lime", Lime(_forward(black_box)), x, label, grid, budget, seed, black_box)


def at_budgets(method: str, black_box_factory: Callable[[], BlackBox], x: torch.Tensor, label: int, grid: PatchGrid,
               budgets: Sequence[int], seed: int) -> dict[int, AttributionMap | None]:
    """``method``'s map at each of ``budgets``: a separate seeded run on a fresh black box each,
    ``None`` where the budget buys no sample. ``feature_ablation`` has one cost and is reported
    there only: ``{1 + P: map}``, whatever the budgets.

    With one seed, Captum draws the samples in sequence from the CPU generator (Shapley one
    ``randperm`` per permutation; Kernel SHAP one size and one ``randn`` per coalition after its two
    fixed ones; LIME one ``bernoulli`` row per coalition) and nothing else draws between them (a
    victim in eval mode draws nothing; one drawing from the global generator would break this), so
    a smaller budget's samples are the prefix of a larger one's; only the fit (Kernel SHAP, LIME)
    or the average (Shapley) over them differs.
    """
    if method == "feature_ablation":
        return {minimum_budget(method, grid): feature_ablation(black_box_factory(), x, label, grid)}
    if method not in SAMPLING:
        raise ValueError(f"unknown method {method!r}; choose from feature_ablation, {', '.join(SAMPLING)}")
    run = {"shapley": shapley, "kernel_shap": kernel_shap, "lime": lime}[method]
    least = minimum_budget(method, grid)
    return {b: run(black_box_factory(), x, label, grid, b, seed) if b >= least else None for b in budgets}
