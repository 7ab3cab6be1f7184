"""What every explanation method returns, and the reference input the perturbation methods share."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class AttributionMap:
    """One method's map over an input's elements.

    ``values`` has the input's non-channel shape (channels are folded in by each method); larger
    means more important. ``queries`` counts the victim's forward passes for black-box methods
    (``None`` for gradient methods, which are white-box: they read the network's gradients; 0 for
    the controls, which ask nothing). ``uses_ground_truth``: the map reads the ground truth (a
    control's ceiling, never a competitor).
    """

    method: str
    values: torch.Tensor
    white_box: bool
    queries: int | None
    seconds: float
    uses_ground_truth: bool = False

    @property
    def access(self) -> str:
        return access(self.white_box, self.queries, self.uses_ground_truth)


def access(white_box: bool, queries: int | None, uses_ground_truth: bool) -> str:
    """What a map reads, as the score tables say it: ``black-box`` (the victim's answers),
    ``white-box`` (its gradients), ``control`` (nothing of the model) or ``control, reads the
    ground truth``."""
    if uses_ground_truth:
        return "control, reads the ground truth"
    if queries == 0:
        return "control"
    return "white-box" if white_box else "black-box"


def reference_input(x: torch.Tensor) -> torch.Tensor:
    """The "absent" input of Integrated Gradients and Occlusion: each channel's median, everywhere.

    On an ECG that is the recording's baseline (what the dead-pixel filter flattens to); on the
    digit clips it is the black background; on a textured image, the texture's typical grey.
    """
    median = x.flatten(1).median(dim=1).values
    return median.reshape(-1, *[1] * (x.dim() - 1)).expand_as(x).clone()


def fold_channels(attribution: torch.Tensor) -> torch.Tensor:
    """``(1, C, *axes)`` signed attributions -> ``(*axes)``: the absolute value summed over channels."""
    return attribution[0].abs().sum(dim=0).detach()
