"""Occlusion (Zeiler and Fergus, 2014), through Captum, on the attack's own patch grid.

Black-box: each patch in turn is replaced by the reference input (each channel's median) and the
drop of the true class's probability is that patch's value. The victim is queried through the
counting :class:`~rlab_core.victims.BlackBox`: one clean query plus one per patch.
"""
from __future__ import annotations

import time

import torch
from captum.attr import Occlusion

from rlab_core.explanations.base import AttributionMap, reference_input
from rlab_core.patches import PatchGrid
from rlab_core.victims.blackbox import BlackBox

PATCHES_PER_BATCH = 64


def occlusion(black_box: BlackBox, x: torch.Tensor, label: int, grid: PatchGrid) -> AttributionMap:
    """Map of shape ``x.shape[1:]``; ``grid`` must tile ``x`` exactly (no ragged edge), since
    Captum's sliding window skips a remainder."""
    if any(s % p for s, p in zip(grid.spatial_shape, grid.patch_size)):
        raise ValueError(f"Occlusion needs a grid that tiles the input exactly; {grid} leaves a remainder")
    started, spent = time.perf_counter(), black_box.queries

    def probabilities(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(black_box.probs(batch))

    window = (x.shape[0], *grid.patch_size)
    drops = Occlusion(probabilities).attribute(
        x[None], sliding_window_shapes=window, strides=window, baselines=reference_input(x)[None], target=label,
        perturbations_per_eval=PATCHES_PER_BATCH)
    # Every channel of a patch carries the same drop (the window spans them all): keep one.
    return AttributionMap("occlusion", drops[0, 0].float(), False, black_box.queries - spent, time.perf_counter() - started)
