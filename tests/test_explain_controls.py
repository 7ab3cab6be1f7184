"""The controls (maps that ask nothing of the model), the grid pointing game, the validity check
of a set, and the model-parameter randomisation test."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from rlab_core.explanations import (
    MODEL_FREE,
    edges,
    explain,
    gridpg,
    model_free,
    model_free_in_cell,
    random_map,
    randomisation_test,
    randomised_victim,
    rank_correlation,
    reference_input,
    validity,
)
from rlab_core.explanations.randomisation import randomised_network
from rlab_core.victims import Victim, get_profile


def test_model_free_is_the_distance_from_each_channels_median() -> None:
    x = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    attribution = model_free(x)
    assert attribution.queries == 0 and not attribution.white_box and not attribution.uses_ground_truth
    assert torch.allclose(attribution.values, (x - reference_input(x)).abs().sum(dim=0))


def test_edges_are_zero_on_a_flat_input_and_peak_at_a_step() -> None:
    assert edges(torch.full((1, 40), 0.3)).values.abs().max() < 1e-6
    step = torch.zeros(1, 40)
    step[0, 20:] = 1.0
    values = edges(step).values
    assert int(values.argmax()) in (19, 20) and values[:10].max() < 1e-6 and values[30:].max() < 1e-6
    # On video, a still clip has only its frames' edges; a pixel that changes adds the frame difference.
    still = torch.zeros(1, 4, 16, 16)
    moving = still.clone()
    moving[0, 2:, 8, 8] = 1.0  # appears in frame 2
    change = edges(moving).values - edges(still).values
    assert change[2, 8, 8] > change[1, 8, 8] >= 0 and change[0, 0, 0] == 0


def test_the_random_map_depends_on_its_seed_alone() -> None:
    x = torch.rand(1, 4, 8, 8)
    assert torch.equal(random_map(x, 3).values, random_map(torch.zeros_like(x), 3).values)
    assert not torch.equal(random_map(x, 3).values, random_map(x, 4).values)
    assert random_map(x, 3).values.shape == (4, 8, 8)


def test_model_free_in_cell_keeps_to_the_cell_and_says_it_reads_the_ground_truth() -> None:
    x = torch.rand(1, 10, 10, generator=torch.Generator().manual_seed(1))
    truth = torch.zeros(10, 10, dtype=torch.bool)
    truth[2, 3] = truth[5, 6] = True
    attribution = model_free_in_cell(x, truth)
    assert attribution.uses_ground_truth
    inside = torch.zeros(10, 10, dtype=torch.bool)
    inside[2:6, 3:7] = True  # the bounding box of the two elements
    assert (attribution.values[~inside] == 0).all()
    assert torch.equal(attribution.values[inside], model_free(x).values[inside])
    cell = torch.zeros(10, 10, dtype=torch.bool)
    cell[:5, :5] = True
    assert (model_free_in_cell(x, truth, cell).values[~cell] == 0).all()
    with pytest.raises(ValueError, match="does not cover"):
        model_free_in_cell(x, truth, cell[:5])


def test_explain_runs_the_controls_without_a_query_and_refuses_the_cell_one_without_truth() -> None:
    victim = Victim.builtin("image-loc-cnn")
    sample = victim.dataset("test")[0]
    explanation = explain(victim, sample.x, sample.y, (*MODEL_FREE, "model_free_in_cell"), truth=sample.mask)
    for name, attribution in explanation.maps.items():
        assert attribution.queries == 0 and attribution.values.shape == sample.mask.shape, name
    summary = explanation.summary()["methods"]
    assert [name for name, entry in summary.items() if entry["uses_ground_truth"]] == ["model_free_in_cell"]
    assert summary["model_free_in_cell"]["dice"] >= summary["model_free"]["dice"]
    with pytest.raises(ValueError, match="reads the ground truth"):
        explain(victim, sample.x, sample.y, ("model_free_in_cell",))


def test_gridpg_is_the_share_of_positive_attribution_in_the_cell() -> None:
    values = torch.tensor([[1.0, 3.0], [-5.0, 0.0]])
    cell = torch.tensor([[True, False], [True, False]])
    assert gridpg(values, cell) == pytest.approx(0.25)  # 1 of 4; the negative element counts nothing
    assert gridpg(-values.abs(), cell) == 0.0
    assert gridpg(torch.ones(2, 2), torch.ones(2, 2, dtype=torch.bool)) == 1.0


def test_a_set_is_valid_only_while_every_model_free_control_stays_under_the_bound() -> None:
    fine = {"model_free": {"dice": 0.2, "gridpg": 0.3}, "edges": {"dice": 0.35}, "random": {"dice": 0.1}}
    assert validity(fine) == {"valid": True, "bound": 0.35, "failures": []}
    leaky = {**fine, "edges": {"dice": 0.5, "gridpg": 0.36}}
    check = validity(leaky)
    assert not check["valid"] and check["failures"] == ["edges scores dice 0.500 > 0.35", "edges scores gridpg 0.360 > 0.35"]


# -- the randomisation test -----------------------------------------------------------------------

def tiny_victim() -> Victim:
    torch.manual_seed(123)  # not the randomisation's seed: that would rebuild these very weights
    network = nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.BatchNorm1d(4), nn.ReLU(), nn.Flatten(),
                            nn.Linear(4 * 32, 3))
    return Victim(network.eval(), (1, 32), ("a", "b", "c"), patch_size=(4,), name="tiny")


def test_randomising_a_network_changes_every_weight_and_leaves_the_original_and_the_rng_alone() -> None:
    victim = tiny_victim()
    before = {k: v.clone() for k, v in victim.network.state_dict().items()}
    state = torch.random.get_rng_state()
    randomised = randomised_victim(victim, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(v, before[k]) for k, v in victim.network.state_dict().items())
    for (name, fresh), (_, trained) in zip(randomised.network.named_parameters(), victim.network.named_parameters()):
        if trained.std() > 0:  # a batch norm's weights start at one, its biases at zero
            assert not torch.equal(fresh, trained), name
    again = randomised_victim(victim, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(again.network.parameters(), randomised.network.parameters()))
    assert randomised.input_shape == victim.input_shape and randomised.grid == victim.grid


def test_a_multi_label_victims_randomised_copy_keeps_its_sigmoid_scores_and_top_k() -> None:
    trained = tiny_victim()
    victim = Victim(trained.network, (1, 32), ("a", "b", "c"), patch_size=(4,), name="tiny", multi_label=True, top_k=2)
    randomised = randomised_victim(victim, seed=5)
    assert randomised.multi_label and randomised.top_k == 2
    x = torch.rand(1, 32, generator=torch.Generator().manual_seed(2))
    logits = randomised.network(x[None])[0].detach().double()
    assert torch.allclose(torch.from_numpy(randomised.probabilities(x)), logits.sigmoid())  # no softmax


def test_a_layer_it_cannot_reinitialise_is_refused() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.scale

    with pytest.raises(ValueError, match="no reset_parameters"):
        randomised_network(nn.Sequential(nn.Flatten(), nn.Linear(32, 3), Scaled()), 0)


def test_the_controls_do_not_change_with_the_weights_and_a_gradient_map_does() -> None:
    victim = tiny_victim()
    x = torch.rand(1, 32, generator=torch.Generator().manual_seed(2))
    correlations = randomisation_test(victim, x, 1, ("model_free", "edges", "random", "saliency", "occlusion"),
                                      budget=50)
    assert correlations["model_free"] == correlations["edges"] == correlations["random"] == pytest.approx(1.0)
    assert correlations["saliency"] is not None and correlations["saliency"] < 0.9
    assert correlations["occlusion"] is None or correlations["occlusion"] < 0.9


def test_rank_correlation_of_constant_maps_is_undefined() -> None:
    assert rank_correlation(torch.ones(5), torch.arange(5.0)) is None
    assert rank_correlation(torch.arange(5.0), torch.arange(5.0)) == pytest.approx(1.0)
    assert rank_correlation(torch.arange(5.0), -torch.arange(5.0)) == pytest.approx(-1.0)


def test_an_onnx_like_black_box_cannot_be_randomised() -> None:
    spec = get_profile("ecg-cnn")
    bare = Victim(lambda batch: torch.zeros(len(batch), len(spec.class_names)), spec.input_shape, spec.class_names,
                  patch_size=spec.patch_size, name="bare")
    with pytest.raises(ValueError, match="black box"):
        randomised_victim(bare)
