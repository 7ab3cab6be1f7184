"""Dead pixels: a random part of the patch's elements go flat (the published code's 0/1 dropout)."""
from __future__ import annotations

import torch

from rlab_core.filters.base import FilterContext
from rlab_core.filters.registry import register_filter


@register_filter("dead_pixel", default_strength=0.5, strength_range=(0.0, 1.0))
def dead_pixel(patch: torch.Tensor, strength: float, rng: torch.Generator, ctx: FilterContext) -> torch.Tensor:
    """A random fraction (strength) of the elements die: 0 on images and video, the baseline on ECG.

    Args:
        patch: ``(C, *axes)``. One mask over the non-channel axes serves every channel: a dead
            pixel is dead in all colours, a dead sample flat in all leads.
        strength: the probability that an element dies (the published code: 0.5).
        rng: draws the mask.
        ctx: ``ctx.baseline`` ``(C,)`` is where a dead element sits: zeros for images and video,
            the lead's median for ECG ("dead" on an ECG is a flat line at the baseline, not zero).
    """
    dead = torch.rand(patch.shape[1:], generator=rng) < strength
    baseline = ctx.baseline.to(patch).view(-1, *([1] * (patch.dim() - 1)))
    return torch.where(dead.to(patch.device), baseline, patch)
