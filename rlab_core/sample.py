"""What every dataset and every upload becomes."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Sample:
    """One input as every part of RLAB sees it.

    ``x`` is channels first, values in ``[0, 1]``: ECG ``(leads, time)``, image ``(C, H, W)``,
    video ``(C, T, H, W)``. ``y`` is the true class, or ``None`` for an unlabelled input (the
    victim's clean top-1 then stands in for it). ``mask`` is a ground-truth localisation over the
    non-channel axes where one exists. ``scale`` holds an ECG's ``(low, high)`` in its original
    units, so that ``low + x * (high - low)`` undoes the ``[0, 1]`` scaling for display.
    """

    x: torch.Tensor
    y: int | None
    name: str
    mask: torch.Tensor | None = None
    scale: tuple[float, float] | None = None
    notices: tuple[str, ...] = field(default=())
