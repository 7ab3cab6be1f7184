"""Integrated Gradients (Sundararajan et al., 2017, "Axiomatic Attribution for Deep Networks"), through Captum.

White-box: the gradient of the true class's logit integrated along the straight path from the
reference input (each channel's median, see :func:`~rlab_core.explanations.base.reference_input`) to
the input, times the difference; absolute value summed over channels.
"""
from __future__ import annotations

import math
import time

import torch
from captum.attr import IntegratedGradients
from torch import nn

from rlab_core.explanations.base import AttributionMap, fold_channels, reference_input

STEPS = 32
ELEMENTS_PER_BATCH = 2_000_000  # keeps a video's path batches within a few hundred MB


def integrated_gradients(model: nn.Module, x: torch.Tensor, label: int, steps: int = STEPS) -> AttributionMap:
    """Map of shape ``x.shape[1:]`` for one input ``x`` ``(C, *axes)`` and its class ``label``."""
    started = time.perf_counter()
    batch = max(1, min(steps, ELEMENTS_PER_BATCH // math.prod(x.shape)))
    attributions = IntegratedGradients(model).attribute(
        x[None], baselines=reference_input(x)[None], target=label, n_steps=steps, internal_batch_size=batch)
    return AttributionMap("ig", fold_channels(attributions), True, None, time.perf_counter() - started)
