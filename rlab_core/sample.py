"""What every dataset and every upload becomes."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Part:
    """One object of a multi-object input (a mosaic's cell): its class, its pixels (bool, over the
    non-channel axes) and the cell that holds it."""

    label: int
    mask: torch.Tensor
    cell: torch.Tensor


@dataclass(frozen=True)
class Sample:
    """One input as every part of RLAB sees it.

    ``x`` is channels first, values in ``[0, 1]``: ECG ``(leads, time)``, image ``(C, H, W)``,
    video ``(C, T, H, W)``. ``y`` is the true class, or ``None`` for an unlabelled input (the
    victim's clean top-1 then stands in for it). ``mask`` is a ground-truth localisation over the
    non-channel axes where one exists. ``scale`` holds an ECG's ``(low, high)`` in its original
    units, so that ``low + x * (high - low)`` undoes the ``[0, 1]`` scaling for display.
    ``parts``: on a multi-object input (a mosaic), each object with its own ground truth and cell;
    ``y`` and ``mask`` are then those of the first.
    """

    x: torch.Tensor
    y: int | None
    name: str
    mask: torch.Tensor | None = None
    scale: tuple[float, float] | None = None
    notices: tuple[str, ...] = field(default=())
    parts: tuple[Part, ...] = field(default=())

    def part(self, label: int) -> Part | None:
        """The object of class ``label``, if the input holds one."""
        return next((part for part in self.parts if part.label == label), None)
