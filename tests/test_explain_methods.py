"""Every explanation method gives a map of the input's non-channel shape, says whether it is
white-box and counts its queries; the RL maps are built from attacks as documented."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from rlab_core.callbacks import Record
from rlab_core.explanations import (
    METHODS,
    WHITE_BOX,
    explain,
    gradcam,
    integrated_gradients,
    occlusion,
    parse_methods,
    reference_input,
    rl_maps,
    saliency,
)
from rlab_core.patches import PatchGrid
from rlab_core.victims import BlackBox, Victim, get_profile

PROFILES = ("ecg-loc-cnn", "image-loc-cnn", "video-cnn")
GRADIENT_METHODS = {"saliency": saliency, "ig": integrated_gradients, "gradcam": gradcam}


def untrained(victim: str) -> nn.Module:
    """The victim's architecture with seeded random weights: map shapes and query counts do not
    depend on training (and the localisation victims may still be training)."""
    torch.manual_seed(0)
    return get_profile(victim).build().eval()


def a_sample(victim: str):
    return get_profile(victim).dataset("test")[1]


# -- the gradient methods ---------------------------------------------------------------------

@pytest.mark.parametrize("victim", PROFILES)
@pytest.mark.parametrize("name", sorted(GRADIENT_METHODS))
def test_gradient_methods_give_the_inputs_shape_white_box_and_no_queries(victim: str, name: str) -> None:
    spec = get_profile(victim)
    x = a_sample(victim).x
    attribution = GRADIENT_METHODS[name](untrained(victim), x, 1)
    assert attribution.method == name and name in WHITE_BOX
    assert tuple(attribution.values.shape) == spec.input_shape[1:]
    assert attribution.white_box is True and attribution.queries is None
    assert torch.isfinite(attribution.values).all() and not attribution.values.requires_grad
    assert attribution.values.min() >= 0  # absolute values (Grad-CAM: kept where positive)


class TinyFrameNet(nn.Module):
    """A 2D CNN for (3, 20, 24) frames, to run per frame inside FramesClassifier."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def test_gradcam_of_a_per_frame_2d_model_gives_one_map_per_frame() -> None:
    from rlab_core.victims.imagenet import FramesClassifier

    torch.manual_seed(0)
    model = FramesClassifier(TinyFrameNet()).eval()
    x = torch.rand(3, 5, 20, 24)
    attribution = gradcam(model, x, 2)
    assert tuple(attribution.values.shape) == (5, 20, 24)
    assert attribution.white_box and attribution.queries is None
    # Each frame's map comes from that frame: changing frame 3 changes mostly frame 3's map
    # (the others only through the averaged probabilities).
    changed = x.clone()
    changed[:, 3] = torch.rand(3, 20, 24)
    shift = (gradcam(model, changed, 2).values - attribution.values).abs().flatten(1).amax(dim=1)
    assert int(shift.argmax()) == 3 and shift[3] > 100 * shift[[0, 1, 2, 4]].max()


def test_gradcam_needs_a_convolution() -> None:
    with pytest.raises(ValueError, match="no convolution"):
        gradcam(nn.Sequential(nn.Flatten(), nn.Linear(8, 2)), torch.rand(1, 8), 0)


# -- occlusion --------------------------------------------------------------------------------

@pytest.mark.parametrize("victim", PROFILES)
def test_occlusion_queries_are_one_plus_the_patches_and_the_black_box_counts_them(victim: str) -> None:
    spec = get_profile(victim)
    grid = spec.grid
    black_box = BlackBox(untrained_victim(victim))
    attribution = occlusion(black_box, a_sample(victim).x, 1, grid)
    assert attribution.queries == 1 + grid.n_patches == black_box.queries
    assert tuple(attribution.values.shape) == spec.input_shape[1:]
    assert attribution.white_box is False and attribution.method == "occlusion"
    # one value per patch: the map is constant on every patch
    for index in range(0, grid.n_patches, max(1, grid.n_patches // 7)):
        patch_values = attribution.values[grid.slices(index)[1:]]
        assert bool((patch_values == patch_values.flatten()[0]).all())


def test_occlusion_values_are_each_patchs_drop_of_the_true_class_probability() -> None:
    # A "victim" that looks only at patch 2 (rows 4-7, columns 0-3) of an 8x8 image.
    def victim(batch: torch.Tensor) -> torch.Tensor:
        evidence = batch[:, 0, 4:8, 0:4].mean(dim=(1, 2))
        return torch.stack([4.0 * evidence, torch.zeros_like(evidence)], dim=1)

    x = torch.zeros(1, 8, 8)
    x[0, 4:8, 0:4] = 1.0  # the median (the reference) stays 0
    assert bool((reference_input(x) == 0).all())
    black_box = BlackBox(Victim(victim, (1, 8, 8), ("patch 2", "other"), patch_size=(4, 4)))
    attribution = occlusion(black_box, x, 0, PatchGrid((1, 8, 8), (4, 4)))
    drop = torch.sigmoid(torch.tensor(4.0, dtype=torch.float64)) - 0.5  # p(class 0) before - after
    expected = torch.zeros(8, 8)
    expected[4:8, 0:4] = float(drop)
    torch.testing.assert_close(attribution.values, expected)
    assert attribution.queries == black_box.queries == 5


def test_occlusion_refuses_a_ragged_grid() -> None:
    black_box = BlackBox(Victim(lambda b: b.flatten(1)[:, :2], (1, 10), ("a", "b"), patch_size=(4,)))
    with pytest.raises(ValueError, match="tiles"):
        occlusion(black_box, torch.rand(1, 10), 0, PatchGrid((1, 10), (4,)))
    assert black_box.queries == 0


def test_reference_input_is_each_channels_median() -> None:
    x = torch.stack([torch.tensor([[0.0, 0.1, 0.9], [0.1, 0.1, 0.3]]), torch.full((2, 3), 0.7)])
    reference = reference_input(x)
    assert reference.shape == x.shape
    assert bool((reference[0] == 0.1).all()) and bool((reference[1] == 0.7).all())


# -- the RL maps, from hand-made attack results -------------------------------------------------

def step(action: str, patch: int) -> SimpleNamespace:
    return SimpleNamespace(action=action, patch=patch)


def result(success: bool, kept: list[int], steps: list[tuple[str, int]], n: int, queries: int = 10) -> SimpleNamespace:
    mask = torch.zeros(n, dtype=torch.bool)
    mask[kept] = True
    return SimpleNamespace(success=success, mask=mask, trajectory=[step(a, p) for a, p in steps], queries_total=queries)


GRID6 = PatchGrid((1, 12), (2,))  # 6 patches of 2 samples


def patch_order(values: torch.Tensor, grid: PatchGrid) -> list[int]:
    """Patches from the highest value to the lowest (stable), read off the element map."""
    per_patch = torch.stack([values[grid.slices(i)[1:]].flatten()[0] for i in range(grid.n_patches)])
    assert torch.equal(grid.expand(per_patch), values)  # constant on each patch
    return torch.argsort(-per_patch, stable=True).tolist()


def test_a_patch_kept_by_more_successful_attacks_ranks_higher() -> None:
    results = [
        result(True, [0, 3], [("add", 0), ("add", 3)], 6),
        result(True, [3], [("add", 3), ("add", 5), ("prune", 5)], 6),
        result(False, [], [("add", 2), ("add", 3)], 6),
        result(True, [1, 3], [("add", 1), ("add", 3)], 6),
    ]
    soft, _ = rl_maps(results, GRID6)
    # 3: kept by three wins; 0 and 1: one win each, 0 added first; 5 and 2: added but never kept
    # (5 first); 4: never touched, and the only patch left at zero.
    assert patch_order(soft.values, GRID6) == [3, 0, 1, 5, 2, 4]
    assert float(soft.values[GRID6.slices(4)[1:]].max()) == 0.0
    assert float(soft.values[GRID6.slices(2)[1:]].min()) > 0.0


def test_ties_in_the_share_are_broken_by_first_added_order() -> None:
    results = [
        result(True, [4, 1], [("add", 4), ("add", 1)], 6),
        result(True, [2], [("add", 2)], 6),
        result(False, [], [("add", 0), ("remove", 0), ("add", 5)], 6),
    ]
    soft, _ = rl_maps(results, GRID6)
    assert patch_order(soft.values, GRID6) == [4, 1, 2, 0, 5, 3]
    # the tie-break never lifts a patch above one with a larger share, however early it came
    results = [result(True, [5], [("add", 0), ("add", 5), ("prune", 0)], 6)] * 2 + [result(False, [], [], 6)]
    soft, _ = rl_maps(results, GRID6)
    assert patch_order(soft.values, GRID6)[:2] == [5, 0]


def test_rl_hard_is_the_first_successful_attacks_mask() -> None:
    results = [
        result(False, [], [("add", 0)], 6, queries=50),
        result(True, [2, 5], [("add", 2), ("add", 5)], 6, queries=7),
        result(True, [0, 1, 2], [("add", 0), ("add", 1), ("add", 2)], 6, queries=9),
    ]
    soft, hard = rl_maps(results, GRID6, seconds=1.5)
    assert torch.equal(hard.values > 0, GRID6.element_mask(results[1].mask))
    assert set(hard.values.unique().tolist()) <= {0.0, 1.0}
    assert soft.method == "rl" and hard.method == "rl_hard"
    assert not soft.white_box and not hard.white_box
    assert soft.queries == 50 + 7 + 9            # every attack of the soft map
    assert hard.queries == 50 + 7                # the attacks up to its first success
    assert soft.seconds >= 1.5 and tuple(soft.values.shape) == tuple(hard.values.shape) == (12,)


def test_no_success_gives_an_empty_rl_hard() -> None:
    results = [result(False, [], [("add", 3)], 6, queries=20), result(False, [], [("add", 1)], 6, queries=20)]
    soft, hard = rl_maps(results, GRID6)
    assert not bool(hard.values.any()) and hard.queries == 40
    assert patch_order(soft.values, GRID6)[:2] == [3, 1]  # only the first-added order is left


def test_rl_maps_on_a_2d_grid_with_a_ragged_edge() -> None:
    grid = PatchGrid((1, 5, 5), (2, 2))  # 3 x 3 patches, the last row and column one element wide
    results = [result(True, [8], [("add", 8)], 9)]
    soft, hard = rl_maps(results, grid)
    assert tuple(soft.values.shape) == tuple(hard.values.shape) == (5, 5)
    assert (hard.values > 0).nonzero().tolist() == [[4, 4]]
    assert int(soft.values.argmax()) == 24


# -- parse_methods ----------------------------------------------------------------------------

def test_parse_methods_accepts_known_names_and_rejects_the_rest() -> None:
    assert parse_methods("rl, ig,occlusion") == ("rl", "ig", "occlusion")
    assert parse_methods(",".join(METHODS)) == METHODS
    assert parse_methods("saliency,saliency") == ("saliency",)
    for bad in ("bogus", "rl,bogus", "", " , ", "RL"):
        with pytest.raises(ValueError, match="choose from"):
            parse_methods(bad)


# -- explain() ----------------------------------------------------------------------------------

def untrained_victim(victim: str) -> Victim:
    """Built-in ``victim`` with an untrained network of its architecture."""
    return Victim.like(untrained(victim), victim, name=victim, weights="untrained", sha256=None)


@pytest.mark.parametrize("victim", ["ecg-loc-cnn", "image-loc-cnn"])
def test_explain_gives_every_non_rl_map_in_the_inputs_shape(victim: str) -> None:
    spec = get_profile(victim)
    x = a_sample(victim).x
    record = Record()
    methods = ("saliency", "ig", "gradcam", "occlusion")
    explanation = explain(untrained_victim(victim), x, 1, methods, callbacks=[record])
    assert tuple(explanation.maps) == methods
    for name, attribution in explanation.maps.items():
        assert tuple(attribution.values.shape) == spec.input_shape[1:], name
        assert attribution.white_box == (name in WHITE_BOX)
        assert (attribution.queries is None) == (name in WHITE_BOX)
    assert explanation.maps["occlusion"].queries == 1 + spec.grid.n_patches
    assert explanation.scores is None and explanation.rl_success is None  # no truth given, no RL run
    # One phase of four steps, each method named as it starts and counted when it ends.
    assert record.events == [("phase", ("methods", 4, "")),
                             *[event for name in methods for event in (("message", (name, False)), ("advance", (1, None)))],
                             ("phase_end", ())]
    summary = explanation.summary()
    assert summary["label"] == 1 and summary["label_name"] == spec.class_names[1]
    assert "dice" not in summary["methods"]["saliency"]


def test_explain_scores_without_dice_at_rl_area_when_only_the_scores_want_a_missing_agent(
        monkeypatch) -> None:
    from rlab_core.agents import agent as agent_module

    def no_agent(victim, callbacks=()):
        raise agent_module.AgentError(f"no agent for {victim}")

    monkeypatch.setattr(agent_module, "load_agent", no_agent)
    sample = a_sample("ecg-loc-cnn")
    assert sample.mask is not None
    explanation = explain(untrained_victim("ecg-loc-cnn"), sample.x, sample.y, ("saliency",), truth=sample.mask)
    assert set(explanation.scores["saliency"]) == {"dice", "iou", "dice_at_rl_area", "pointing"}
    assert explanation.scores["saliency"]["dice_at_rl_area"] is None
    assert any("no agent" in note for note in explanation.notes)
    with pytest.raises(agent_module.AgentError):  # an RL map that was asked for cannot be skipped
        explain(untrained_victim("ecg-loc-cnn"), sample.x, sample.y, ("rl", "saliency"), truth=sample.mask)


def test_without_the_rl_area_no_agent_is_loaded_and_no_attack_runs(monkeypatch) -> None:
    from rlab_core.agents import agent as agent_module

    def refused(*args, **kwargs):
        raise AssertionError("no agent may be loaded")

    monkeypatch.setattr(agent_module, "load_agent", refused)
    sample = a_sample("ecg-loc-cnn")
    explanation = explain(untrained_victim("ecg-loc-cnn"), sample.x, sample.y, ("occlusion",), truth=sample.mask,
                          rl_area=False)
    assert explanation.scores["occlusion"]["dice_at_rl_area"] is None and not explanation.notes
    assert explanation.rl_success is None
    assert explanation.maps["occlusion"].queries == 1 + get_profile("ecg-loc-cnn").grid.n_patches


def test_explain_refuses_a_ground_truth_of_another_shape() -> None:
    x = a_sample("image-loc-cnn").x
    with pytest.raises(ValueError, match="ground truth"):
        explain(untrained_victim("image-loc-cnn"), x, 0, ("saliency",), truth=torch.ones(28, 28, dtype=torch.bool))


VIDEO_BUDGET = 60


@pytest.fixture(scope="module")
def video_agent():
    from rlab_core.agents.agent import load_agent

    return load_agent("video-cnn")


@pytest.fixture(scope="module")
def video_explanation(video_agent):
    """Every method on test clip 0 of video-cnn (the shipped agent, a small budget), with its truth."""
    sample = get_profile("video-cnn").dataset("test")[0]
    return sample, explain(Victim.builtin("video-cnn"), sample.x, sample.y, METHODS, budget=VIDEO_BUDGET, seed=0,
                           truth=sample.mask, agent=video_agent)


def test_explain_on_video_gives_every_map_in_the_clips_shape(video_explanation) -> None:
    _, explanation = video_explanation
    assert tuple(explanation.maps) == METHODS
    for name, attribution in explanation.maps.items():
        assert tuple(attribution.values.shape) == (16, 64, 64), name
        assert torch.isfinite(attribution.values).all(), name
        assert attribution.white_box == (name in WHITE_BOX)
        assert (attribution.queries is None) == (name in WHITE_BOX), name
    assert explanation.maps["occlusion"].queries == 1 + 512
    assert explanation.rl_success is not None


def test_explain_on_video_scores_every_map_against_the_digit(video_explanation) -> None:
    _, explanation = video_explanation
    assert set(explanation.scores) == set(METHODS)
    for name, scores in explanation.scores.items():
        assert set(scores) == {"dice", "iou", "dice_at_rl_area", "pointing"}
        assert 0.0 <= scores["iou"] <= scores["dice"] <= 1.0, name
        assert isinstance(scores["pointing"], bool)
    summary = explanation.summary()
    assert summary["methods"]["occlusion"]["queries"] == 513 and summary["methods"]["saliency"]["queries"] is None
    assert summary["methods"]["ig"]["white_box"] is True and "dice" in summary["methods"]["gradcam"]


def test_explains_rl_maps_are_those_of_its_attacks(video_explanation, video_agent) -> None:
    from rlab_core.explanations import rl_attacks

    sample, explanation = video_explanation
    results = rl_attacks(Victim.builtin("video-cnn"), sample.x, sample.y, video_agent, VIDEO_BUDGET, 0)
    assert all(r.queries_total <= VIDEO_BUDGET for r in results)
    soft, hard = rl_maps(results, get_profile("video-cnn").grid)
    assert torch.equal(soft.values, explanation.maps["rl"].values)  # deterministic for a seed
    assert torch.equal(hard.values, explanation.maps["rl_hard"].values)
    assert explanation.maps["rl"].queries == sum(r.queries_total for r in results)
    wins = [r for r in results if r.success]
    assert explanation.rl_success == bool(wins)
    if wins:
        assert torch.equal(explanation.maps["rl_hard"].values > 0, wins[0].element_mask)
        rl_hard_scores = explanation.scores["rl_hard"]
        truth = sample.mask
        area = int(wins[0].element_mask.sum())
        overlap = int((wins[0].element_mask & truth).sum())
        assert rl_hard_scores["dice_at_rl_area"] == pytest.approx(2 * overlap / (area + int(truth.sum())))
    else:
        assert all(s["dice_at_rl_area"] is None for s in explanation.scores.values())


def test_rl_at_budgets_shares_each_budget_among_its_attacks_and_counts_every_query(video_agent) -> None:
    from rlab_core.explanations import rl_at_budgets
    from rlab_core.explanations.rl import RL_FILTERS, RL_SEEDS

    sample = get_profile("video-cnn").dataset("test")[0]
    runs = len(RL_FILTERS) * RL_SEEDS
    maps = rl_at_budgets(Victim.builtin("video-cnn"), sample.x, sample.y, video_agent, (runs, 12 * runs, 120), seed=0)
    assert maps[runs] is None  # one query per attack buys nothing beyond the clean one
    for budget in (12 * runs, 120):
        m = maps[budget]
        assert m is not None and m.method == "rl" and m.access == "black-box"
        assert 0 < m.queries <= budget
        # Each budget is the explanation's rl map at its share per attack, queries as the wrappers counted them.
        alone = explain(Victim.builtin("video-cnn"), sample.x, sample.y, ("rl",), budget=budget // runs, seed=0,
                        agent=video_agent)
        torch.testing.assert_close(m.values, alone.maps["rl"].values)
        assert m.queries == alone.maps["rl"].queries
