"""Gaussian blur of the patch over all its non-channel axes (the published code blurs 3x3)."""
from __future__ import annotations

import math

import torch

from rlab_core.filters.registry import register_filter

# The published code blurs with a 3x3 kernel and sigma 0 in OpenCV, which then uses
# sigma = 0.3 * ((ksize - 1) / 2 - 1) + 0.8 = 0.8 for ksize 3.
PUBLISHED_SIGMA = 0.8


@register_filter("gaussian_blur", default_strength=PUBLISHED_SIGMA, strength_range=(0.1, 5.0))
def gaussian_blur(patch: torch.Tensor, strength: float, rng: torch.Generator) -> torch.Tensor:
    """Gaussian blur (sigma = strength, in elements) within the patch, over every non-channel axis.

    Args:
        patch: ``(C, *axes)`` with any number of non-channel axes; channels are blurred apart.
        strength: the kernel's sigma. The radius is ``ceil(3 * sigma)``, clipped per axis to
            ``size - 1`` so that reflect padding stays inside the patch (an axis of size 1 is left alone).
        rng: unused, the blur is deterministic.
    """
    radius = math.ceil(3 * strength)
    for axis in range(1, patch.dim()):
        patch = _blur_axis(patch, axis, strength, min(radius, patch.shape[axis] - 1))
    return patch


def _blur_axis(patch: torch.Tensor, axis: int, sigma: float, radius: int) -> torch.Tensor:
    """One pass of the separable blur, along ``axis`` (a gaussian is a product of 1D gaussians)."""
    if radius == 0:
        return patch
    offsets = torch.arange(-radius, radius + 1)
    weights = torch.exp(-offsets.to(patch.dtype) ** 2 / (2 * sigma**2))
    weights = weights / weights.sum()  # renormalised after truncation: a flat patch stays flat
    # The blur as a (size, size) matrix with the reflect padding folded into its indices: one
    # small matmul per axis, no padded copy, and the same code for any number of axes.
    size = patch.shape[axis]
    sources = (torch.arange(size)[:, None] + offsets).abs()        # reflect at the start ...
    sources = torch.where(sources > size - 1, 2 * (size - 1) - sources, sources)  # ... and at the end
    matrix = torch.zeros(size, size, dtype=patch.dtype)
    matrix.scatter_add_(1, sources, weights.expand(size, -1).contiguous())
    rows = patch.movedim(axis, -1).contiguous()  # strided batched matmuls took a slow path here
    return (rows @ matrix.T.to(patch.device)).movedim(-1, axis)
