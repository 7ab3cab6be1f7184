"""A victim network that counts every sample reaching it: the tests' check on the BlackBox's query counts."""
from __future__ import annotations

import torch
from torch import nn


class CountingModel(nn.Module):
    """Wraps a victim network and counts the samples it sees."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.samples = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.samples += len(x)
        return self.model(x)
