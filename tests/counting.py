"""A victim network that counts every sample reaching it: the tests' check on the BlackBox's query counts."""
from __future__ import annotations

import torch
from torch import nn

from rlab_core.victims import load_model


class CountingModel(nn.Module):
    """Wraps a victim network and counts the samples it sees."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.samples = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.samples += len(x)
        return self.model(x)


def count_victim_calls(monkeypatch, *modules) -> dict[str, CountingModel]:
    """Make each module's ``load_model`` hand out one :class:`CountingModel` per victim; returns them by name."""
    models: dict[str, CountingModel] = {}

    def load(name: str) -> CountingModel:
        models.setdefault(name, CountingModel(load_model(name)))
        return models[name]

    for module in modules:
        monkeypatch.setattr(module, "load_model", load)
    return models
