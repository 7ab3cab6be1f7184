import re

import numpy as np
import pytest
import torch
from torch import nn

from rlab_core.victims import Victim, VictimError
from rlab_core.victims.blackbox import BlackBox, BudgetExhausted

SHAPE = (1, 6, 6)


def as_victim(network, shape) -> Victim:
    """``network`` as a victim of inputs ``shape`` (4 classes; a grid of one patch per element)."""
    return Victim(network, shape, ("a", "b", "c", "d"), patch_size=(1,) * (len(shape) - 1))


class CountingModel(nn.Module):
    """A tiny classifier that counts the calls and samples it sees, and works in place on its input."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(36, 4)
        self.calls = 0
        self.samples = 0
        self.grad_enabled: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.samples += x.shape[0]
        self.grad_enabled.append(torch.is_grad_enabled())
        x.mul_(2)  # a careless victim: must not reach the caller's tensor
        return self.linear(x.flatten(1))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return CountingModel().train()


def test_counts_equal_the_samples_the_model_saw(model):
    box = BlackBox(as_victim(model, SHAPE))
    box.probs(torch.rand(SHAPE))
    box.probs(torch.rand(5, *SHAPE))
    box.probs(torch.rand(1, *SHAPE))
    assert box.queries == model.samples == 7 and model.calls == 3
    assert box.predict_label(torch.rand(SHAPE)) in range(4)
    assert box.queries == model.samples == 8
    box.reset()
    assert box.queries == 0


def test_outputs_are_probabilities(model):
    box = BlackBox(as_victim(model, SHAPE))
    one = box.probs(torch.rand(SHAPE))
    batch = box.probs(torch.rand(3, *SHAPE))
    assert isinstance(one, np.ndarray) and one.shape == (4,) and batch.shape == (3, 4)
    assert np.issubdtype(one.dtype, np.floating)
    assert np.allclose(batch.sum(axis=1), 1.0) and np.isclose(one.sum(), 1.0)
    assert (batch >= 0).all()
    assert not model.training  # eval mode: a prediction does not depend on the batch
    assert model.grad_enabled == [False, False]


def test_input_is_never_modified(model):
    box = BlackBox(as_victim(model, SHAPE))
    x = torch.rand(2, *SHAPE, requires_grad=True)
    original = x.detach().clone()
    box.probs(x)
    assert torch.equal(x.detach(), original) and x.grad is None
    arr = np.random.default_rng(0).random(SHAPE).astype(np.float32)
    arr_copy = arr.copy()
    box.probs(arr)
    assert np.array_equal(arr, arr_copy)


def test_same_answer_batched_or_not(model):
    box = BlackBox(as_victim(model, SHAPE))
    x = torch.rand(3, *SHAPE)
    batched = box.probs(x)
    assert np.allclose(batched[1], box.probs(x[1]), atol=1e-6)


def test_budget_is_enforced_before_the_model_is_called(model):
    box = BlackBox(as_victim(model, SHAPE), budget=4)
    box.probs(torch.rand(3, *SHAPE))
    assert box.remaining == 1
    with pytest.raises(BudgetExhausted):
        box.probs(torch.rand(2, *SHAPE))
    assert box.queries == model.samples == 3 and model.calls == 1  # nothing sent, nothing counted
    box.probs(torch.rand(SHAPE))
    assert box.remaining == 0
    with pytest.raises(BudgetExhausted):
        box.predict_label(torch.rand(SHAPE))
    assert model.samples == 4
    box.set_budget(None)
    assert box.remaining is None
    box.probs(torch.rand(SHAPE))
    assert box.queries == 5


def test_zero_budget_and_bad_budget(model):
    box = BlackBox(as_victim(model, SHAPE), budget=0)
    with pytest.raises(BudgetExhausted):
        box.probs(torch.rand(SHAPE))
    assert model.calls == 0
    with pytest.raises(ValueError):
        box.set_budget(-1)


def test_function_victim():
    seen = []

    def victim(batch: torch.Tensor) -> torch.Tensor:
        seen.append(batch.shape[0])
        return torch.stack([batch.mean(dim=(1, 2)), -batch.mean(dim=(1, 2))], dim=1)

    box = BlackBox(Victim(victim, (1, 10), ("up", "down"), patch_size=(1,)))
    assert box.probs(torch.ones(4, 1, 10)).shape == (4, 2)
    assert box.queries == sum(seen) == 4


@pytest.mark.parametrize("bad_shape", [(6, 6), (1, 6, 7), (2, 1, 1, 6, 6), (0, 1, 6, 6)])
def test_wrong_shape_raises_naming_both(model, bad_shape):
    box = BlackBox(as_victim(model, SHAPE))
    with pytest.raises(ValueError, match=re.escape(str(SHAPE)) + ".*" + re.escape(str(bad_shape))):
        box.probs(torch.rand(bad_shape))
    assert box.queries == 0 and model.calls == 0


def test_nan_input_raises(model):
    box = BlackBox(as_victim(model, SHAPE))
    x = torch.rand(SHAPE)
    x[0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        box.probs(x)
    assert box.queries == 0 and model.calls == 0


def test_victim_returning_a_bad_shape_raises():
    box = BlackBox(as_victim(lambda batch: batch.sum(), (1, 4)))
    with pytest.raises(VictimError, match="must return scores"):
        box.probs(torch.rand(1, 4))
