"""Gaussian noise on a random half of the patch's elements, as in the published RLAB code."""
from __future__ import annotations

import torch

from rlab_core.filters.registry import register_filter

# The published code adds noise of variance 100 (std 10) to the ImageNet-normalised patch,
# x_norm = (x - mean) / std. Noise of std 10 there is noise of std 10 * std in [0, 1] units; with
# ImageNet's per-channel std (0.229, 0.224, 0.225), about 0.226 on average, that is about 2.26.
# So large a noise saturates most hit elements to 0 or 1 after clamping: salt and pepper.
IMAGENET_STD = 0.226
PUBLISHED_STD = 10.0 * IMAGENET_STD
KEEP_PROBABILITY = 0.5  # the published 50%-dropout mask


@register_filter("gaussian_noise", default_strength=PUBLISHED_STD, strength_range=(0.0, 5.0))
def gaussian_noise(patch: torch.Tensor, strength: float, rng: torch.Generator) -> torch.Tensor:
    """Gaussian noise (std = strength, in [0, 1] units) on a random half of the elements.

    Args:
        patch: ``(C, *axes)``; each element of each channel is hit independently.
        strength: the noise's standard deviation.
        rng: draws the mask, then the noise.
    """
    hit = torch.rand(patch.shape, generator=rng) < KEEP_PROBABILITY
    noise = torch.randn(patch.shape, generator=rng) * strength
    return patch + (noise * hit).to(patch)
