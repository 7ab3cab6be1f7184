"""Illuminate: brighten the patch. The published code names this filter but never implements it."""
from __future__ import annotations

import torch

from rlab_core.filters.registry import register_filter


@register_filter("illuminate", default_strength=0.5, strength_range=(0.0, 1.0))
def illuminate(patch: torch.Tensor, strength: float, rng: torch.Generator) -> torch.Tensor:
    """Brighten towards white: ``x + strength * (1 - x)``.

    Args:
        patch: ``(C, *axes)`` in ``[0, 1]``.
        strength: 0 leaves the patch as it is, 1 makes it white.
        rng: unused, the filter is deterministic.
    """
    return patch + strength * (1 - patch)
