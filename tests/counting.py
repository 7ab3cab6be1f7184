"""A victim network that counts every sample reaching it: the tests' check on the BlackBox's query counts."""
from __future__ import annotations

import torch
from torch import nn

from rlab_core.victims import victim as victim_module


class CountingModel(nn.Module):
    """Wraps a victim network and counts the samples it sees."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.samples = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.samples += len(x)
        return self.model(x)


def count_victim_calls(monkeypatch) -> dict[str, CountingModel]:
    """Make ``Victim.builtin`` hand out one :class:`CountingModel` per built-in victim's shipped
    network; returns them by name."""
    models: dict[str, CountingModel] = {}
    shipped = victim_module._shipped_network

    def load(name: str) -> CountingModel:
        models.setdefault(name, CountingModel(shipped(name)))
        return models[name]

    monkeypatch.setattr(victim_module, "_shipped_network", load)
    return models
