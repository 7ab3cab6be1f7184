"""The black-box peers at equal query budgets (Captum's Feature Ablation, Shapley Value Sampling,
Kernel SHAP and LIME, and RISE): maps of the input's non-channel shape, every query counted by the
black box and within the budget, repeatable for a seed, and the one patch that matters ranked first."""
from __future__ import annotations

import pytest
import torch
from counting import CountingModel
from torch import nn

from rlab_core.explanations.captum_peers import (
    at_budgets,
    feature_ablation,
    kernel_shap,
    lime,
    patch_ids,
    shapley,
)
from rlab_core.explanations.occlusion import occlusion
from rlab_core.explanations.rise import random_masks, rise, rise_at_budgets
from rlab_core.patches import PatchGrid
from rlab_core.victims import BlackBox, Victim

SAMPLING = {"shapley": shapley, "kernel_shap": kernel_shap, "lime": lime, "rise": rise}
# ECG-like (2 leads), an image with a ragged edge, a video clip: each tiny
SHAPES = {"ecg": ((2, 24), (4,)), "image": ((3, 6, 8), (2, 3)), "video": ((1, 4, 6, 6), (2, 3, 3))}
BUDGETS = (20, 50, 100)


class Recording(nn.Module):
    """A seeded random linear classifier over three classes that keeps every sample it is sent."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(int(torch.tensor(shape).prod()), 3)
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen += list(x.clone())
        return self.linear(x.flatten(1))


def tiny(kind: str) -> tuple[Victim, CountingModel, torch.Tensor]:
    shape, patch = SHAPES[kind]
    model = CountingModel(Recording(shape))
    generator = torch.Generator().manual_seed(1)
    return Victim(model, shape, ("a", "b", "c"), patch_size=patch), model, torch.rand(shape, generator=generator)


def run(name: str, black_box: BlackBox, x: torch.Tensor, grid: PatchGrid, budget: int, seed: int = 0):
    return SAMPLING[name](black_box, x, 1, grid, budget, seed)


# -- shapes, counts, budgets ------------------------------------------------------------------

def test_the_feature_mask_is_each_elements_patch_on_every_channel() -> None:
    grid = PatchGrid((2, 5, 5), (2, 2))  # ragged: 3 x 3 patches
    ids = patch_ids(grid)
    assert tuple(ids.shape) == (1, 2, 5, 5) and torch.equal(ids[0, 0], ids[0, 1])
    assert torch.equal(ids[0, 0], grid.expand(torch.arange(grid.n_patches)))


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_feature_ablation_costs_one_plus_the_patches_and_matches_occlusion(kind: str) -> None:
    victim, model, x = tiny(kind)
    black_box = BlackBox(victim)
    attribution = feature_ablation(black_box, x, 1, victim.grid)
    assert attribution.queries == 1 + victim.grid.n_patches == black_box.queries == model.samples
    assert tuple(attribution.values.shape) == x.shape[1:] and torch.isfinite(attribution.values).all()
    assert attribution.method == "feature_ablation" and attribution.white_box is False
    if kind == "ecg":  # a grid that tiles the input: Occlusion is the same computation
        torch.testing.assert_close(attribution.values, occlusion(BlackBox(victim), x, 1, victim.grid).values)


@pytest.mark.parametrize("kind", sorted(SHAPES))
@pytest.mark.parametrize("name", sorted(SAMPLING))
def test_sampling_methods_count_every_query_and_keep_to_the_budget(kind: str, name: str) -> None:
    victim, model, x = tiny(kind)
    for budget in BUDGETS:
        before = model.samples
        black_box = BlackBox(victim)
        attribution = run(name, black_box, x, victim.grid, budget)
        assert attribution.queries == black_box.queries == model.samples - before <= budget, budget
        assert tuple(attribution.values.shape) == x.shape[1:] and torch.isfinite(attribution.values).all()
        assert attribution.method == name and attribution.white_box is False
    n_patches = victim.grid.n_patches
    assert run("shapley", BlackBox(victim), x, victim.grid, 1 + 2 * n_patches).queries == 1 + 2 * n_patches
    if name != "shapley":  # the others spend the whole budget
        assert run(name, BlackBox(victim), x, victim.grid, 37).queries == 37


@pytest.mark.parametrize("name", ["shapley", "kernel_shap", "lime"])
def test_the_captum_maps_are_constant_on_every_patch(name: str) -> None:
    victim, _, x = tiny("image")
    values = run(name, BlackBox(victim), x, victim.grid, 50).values
    for index in range(victim.grid.n_patches):
        patch = values[victim.grid.slices(index)[1:]]
        assert bool((patch == patch.flatten()[0]).all())


@pytest.mark.parametrize(("name", "least"), [("shapley", 1 + 9), ("kernel_shap", 3), ("lime", 1), ("rise", 1)])
def test_a_budget_that_buys_no_sample_is_refused_before_any_query(name: str, least: int) -> None:
    victim, model, x = tiny("image")  # 9 patches
    with pytest.raises(ValueError, match=rf"{name} needs .*at least {least}.* budget is {least - 1}"):
        run(name, BlackBox(victim), x, victim.grid, least - 1)
    assert model.samples == 0
    assert run(name, BlackBox(victim), x, victim.grid, least).queries == least


# -- seeds ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SAMPLING))
def test_a_seed_repeats_its_map_and_leaves_the_global_random_state_alone(name: str) -> None:
    victim, _, x = tiny("ecg")
    state = torch.get_rng_state()
    first = run(name, BlackBox(victim), x, victim.grid, 50, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first.values, run(name, BlackBox(victim), x, victim.grid, 50, seed=3).values)
    assert not torch.equal(first.values, run(name, BlackBox(victim), x, victim.grid, 50, seed=4).values)


@pytest.mark.parametrize("name", sorted(SAMPLING))
def test_a_smaller_budgets_samples_are_the_prefix_of_a_larger_ones(name: str) -> None:
    victim, model, x = tiny("ecg")
    recorder = model.model
    assert isinstance(recorder, Recording)
    seen = []
    for budget in (20, 50):
        recorder.seen = []
        run(name, BlackBox(victim), x, victim.grid, budget, seed=5)
        seen.append(torch.stack(recorder.seen))
    assert torch.equal(seen[1][:len(seen[0])], seen[0])


def test_at_budgets_runs_each_budget_apart_and_skips_those_that_buy_nothing() -> None:
    victim, model, x = tiny("ecg")  # 6 patches: Shapley needs 7
    maps = at_budgets("shapley", lambda: BlackBox(victim), x, 1, victim.grid, [5, 20, 50], seed=2)
    assert maps[5] is None and model.samples == 19 + 49
    for budget in (20, 50):
        attribution = maps[budget]
        assert attribution is not None and attribution.queries == 1 + (budget - 1) // 6 * 6
        assert torch.equal(attribution.values, shapley(BlackBox(victim), x, 1, victim.grid, budget, 2).values)
    assert at_budgets("kernel_shap", lambda: BlackBox(victim), x, 1, victim.grid, [2, 3], 0)[2] is None
    fixed = at_budgets("feature_ablation", lambda: BlackBox(victim), x, 1, victim.grid, [5, 20, 50], 0)
    assert list(fixed) == [7] and fixed[7] is not None and fixed[7].queries == 7
    with pytest.raises(ValueError, match="choose from"):
        at_budgets("occlusion", lambda: BlackBox(victim), x, 1, victim.grid, [50], 0)


# -- RISE -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_rise_masks_are_smooth_shifted_and_kept_half_the_time(kind: str) -> None:
    shape, patch = SHAPES[kind]
    grid = PatchGrid(shape, patch)
    masks = random_masks(grid, 400, torch.Generator().manual_seed(0))
    assert tuple(masks.shape) == (400, *shape[1:])
    assert masks.min() >= 0 and masks.max() <= 1
    assert abs(float(masks.mean()) - 0.5) < 0.05
    assert not torch.equal(masks[0], masks[1])


def test_rise_at_budgets_reads_one_run_and_matches_rise_at_each_budget() -> None:
    victim, model, x = tiny("image")
    black_box = BlackBox(victim)
    maps = rise_at_budgets(black_box, x, 1, victim.grid, [100, 20, 50], seed=7)
    assert list(maps) == [100, 20, 50] and black_box.queries == model.samples == 100
    for budget, attribution in maps.items():
        assert attribution.queries == budget and attribution.method == "rise"
        alone = rise(BlackBox(victim), x, 1, victim.grid, budget, seed=7, batch=7)  # another batching, same masks
        torch.testing.assert_close(attribution.values, alone.values)
    with pytest.raises(ValueError, match="at least 1"):
        rise_at_budgets(BlackBox(victim), x, 1, victim.grid, [20, 0], seed=7)


def test_rise_of_a_constant_victim_is_its_probability_everywhere() -> None:
    # P(label) = 1/3 whatever the input: the saliency is 1/3 * E[m] / p = 1/3 on average.
    victim = Victim(lambda b: torch.zeros(len(b), 3), (1, 8, 8), ("a", "b", "c"), patch_size=(2, 2))
    values = rise(BlackBox(victim), torch.rand(1, 8, 8), 0, victim.grid, 2000, seed=0).values
    assert abs(float(values.mean()) - 1 / 3) < 0.02


# -- known evidence ---------------------------------------------------------------------------

class OnePatch(nn.Module):
    """Class 1's logit is ``8 * (mean of one patch - 1/2)``, class 0's is 0: nothing else matters.
    Centred, so that masking the patch moves the probability across most of (0, 1): RISE's
    estimate at 200 masks drowns a probability that barely moves."""

    def __init__(self, grid: PatchGrid, patch: int) -> None:
        super().__init__()
        self.window = (slice(None), *grid.slices(patch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        evidence = x[self.window].flatten(1).mean(dim=1)
        return torch.stack([torch.zeros_like(evidence), 8.0 * (evidence - 0.5)], dim=1)


@pytest.mark.parametrize("name", ["feature_ablation", *sorted(SAMPLING)])
def test_the_one_patch_that_drives_the_class_ranks_first(name: str) -> None:
    grid = PatchGrid((2, 6, 8), (2, 3))  # 3 x 3 patches, the last column ragged
    model = CountingModel(OnePatch(grid, 3))
    victim = Victim(model, grid.input_shape, ("no", "yes"), patch_size=grid.patch_size)
    # A faint background (its median is the reference) and patch 3 bright: masking the patch takes
    # the class-1 probability from about 0.98 to about 0.03.
    x = 0.1 * torch.rand(grid.input_shape, generator=torch.Generator().manual_seed(0))
    x[grid.slices(3)] = 1.0
    black_box = BlackBox(victim)
    if name == "feature_ablation":
        attribution = feature_ablation(black_box, x, 1, grid)
    else:
        attribution = run(name, black_box, x, grid, 200)
    per_patch = torch.stack([attribution.values[grid.slices(i)[1:]].mean() for i in range(grid.n_patches)])
    assert int(per_patch.argmax()) == 3, per_patch
    assert attribution.queries == model.samples <= max(200, 1 + grid.n_patches)
