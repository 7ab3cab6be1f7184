"""Controls: maps that use no model and no query, the floor every explanation must clear.

On a set where a control scores well, the object is simply wherever the input stands out, and a
good score says nothing about the model (Adebayo et al., NeurIPS 2018, make the same point of
edge detectors). Each returns an :class:`AttributionMap` over ``x.shape[1:]`` with no queries:

- ``model_free``: ``|x - reference|`` summed over channels, the reference being each channel's
  median (the one IG and Occlusion use, :func:`~rlab_core.explanations.base.reference_input`);
- ``edges``: ``|x - blur(x)|`` (a Gaussian of one element's sigma along every non-channel axis)
  summed over channels, plus on video the frame-to-frame difference ``|x_t - x_(t-1)|``;
- ``random``: seeded uniform noise;
- ``model_free_in_cell``: ``model_free`` kept only inside the ground truth's cell (its bounding
  box where no cell is given). It reads the ground truth (``uses_ground_truth``): it is the
  ceiling of "find the cell, then keep whatever is bright", not a competitor.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from rlab_core.explanations.base import AttributionMap, reference_input

BLUR_SIGMA = 1.0  # in elements
CONTROLS = ("model_free", "edges", "random", "model_free_in_cell")
MODEL_FREE = ("model_free", "edges", "random")  # the controls that use neither the model nor the ground truth


def model_free(x: torch.Tensor) -> AttributionMap:
    """``|x - reference|`` over ``x``'s non-channel axes (``x``: ``(C, *axes)``)."""
    started = time.perf_counter()
    values = (x - reference_input(x)).abs().sum(dim=0)
    return AttributionMap("model_free", values.float(), False, 0, time.perf_counter() - started)


def gaussian_blur(x: torch.Tensor, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """``x`` ``(C, *axes)`` blurred along every non-channel axis (separable; edges replicated)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel = (kernel / kernel.sum()).to(x.dtype if x.is_floating_point() else torch.float32)
    out = x.float()
    for axis in range(1, x.dim()):
        moved = out.movedim(axis, -1)
        rows = moved.reshape(-1, 1, moved.shape[-1])
        padded = F.pad(rows, (radius, radius), mode="replicate")
        blurred = F.conv1d(padded, kernel.float().view(1, 1, -1)).reshape(moved.shape)
        out = blurred.movedim(-1, axis)
    return out


def edges(x: torch.Tensor) -> AttributionMap:
    """``|x - blur(x)|`` summed over channels; on video (``(C, T, H, W)``) plus the frame difference."""
    started = time.perf_counter()
    values = (x.float() - gaussian_blur(x)).abs().sum(dim=0)
    if x.dim() == 4:
        change = (x[:, 1:] - x[:, :-1]).abs().sum(dim=0).float()
        values = values + torch.cat([change[:1], change])  # frame 0 takes the change into frame 1
    return AttributionMap("edges", values, False, 0, time.perf_counter() - started)


def random_map(x: torch.Tensor, seed: int) -> AttributionMap:
    """Uniform noise over ``x``'s non-channel axes, from ``seed`` alone."""
    started = time.perf_counter()
    values = torch.rand(tuple(x.shape[1:]), generator=torch.Generator().manual_seed(seed))
    return AttributionMap("random", values, False, 0, time.perf_counter() - started)


def bounding_box(truth: torch.Tensor) -> torch.Tensor:
    """The smallest axis-aligned box holding every element of bool mask ``truth`` (empty for an empty mask)."""
    box = torch.zeros_like(truth, dtype=torch.bool)
    if not truth.any():
        return box
    where = truth.nonzero()
    box[tuple(slice(int(lo), int(hi) + 1) for lo, hi in zip(where.min(dim=0).values, where.max(dim=0).values))] = True
    return box


def model_free_in_cell(x: torch.Tensor, truth: torch.Tensor, cell: torch.Tensor | None = None) -> AttributionMap:
    """``model_free`` inside ``cell`` (bool, ``x.shape[1:]``; default the ground truth's bounding box), 0 outside."""
    started = time.perf_counter()
    inside = bounding_box(truth.bool()) if cell is None else cell.bool()
    if tuple(inside.shape) != tuple(x.shape[1:]):
        raise ValueError(f"the cell {tuple(inside.shape)} does not cover the input's axes {tuple(x.shape[1:])}")
    values = model_free(x).values * inside
    return AttributionMap("model_free_in_cell", values, False, 0, time.perf_counter() - started, uses_ground_truth=True)
