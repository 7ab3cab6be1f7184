"""Saliency (Simonyan et al., 2014, "Deep Inside Convolutional Networks"), through Captum.

White-box: the absolute gradient of the true class's logit with respect to each input element,
summed over channels. One forward and one backward pass; no victim query is counted.
"""
from __future__ import annotations

import time

import torch
from captum.attr import Saliency
from torch import nn

from rlab_core.explanations.base import AttributionMap, fold_channels


def saliency(model: nn.Module, x: torch.Tensor, label: int) -> AttributionMap:
    """Map of shape ``x.shape[1:]`` for one input ``x`` ``(C, *axes)`` and its class ``label``."""
    started = time.perf_counter()
    grads = Saliency(model).attribute(x[None].clone().requires_grad_(True), target=label, abs=True)
    return AttributionMap("saliency", fold_channels(grads), True, None, time.perf_counter() - started)
