"""Visual explanations: the RL agent's maps beside Captum's, scored against ground truth.

One file per method, each returning an :class:`AttributionMap` over the input's elements:
``rl`` / ``rl_hard`` (black-box, from attacks), ``saliency``, ``integrated_gradients``,
``gradcam`` (white-box: they read the network's gradients), ``occlusion`` (black-box, queries
counted). :func:`explain` runs any of them on one input and scores them with :mod:`.metrics`.
"""
from rlab_core.explanations.base import AttributionMap, reference_input
from rlab_core.explanations.explainer import (
    BLACK_BOX,
    METHODS,
    WHITE_BOX,
    Explanation,
    explain,
    parse_methods,
)
from rlab_core.explanations.gradcam import gradcam
from rlab_core.explanations.integrated_gradients import integrated_gradients
from rlab_core.explanations.metrics import (
    dice,
    dice_at_rl_area,
    iou,
    pointing,
    score,
    top_k_mask,
)
from rlab_core.explanations.occlusion import occlusion
from rlab_core.explanations.rl import rl_attacks, rl_maps
from rlab_core.explanations.saliency import saliency

__all__ = [
    "BLACK_BOX",
    "METHODS",
    "WHITE_BOX",
    "AttributionMap",
    "Explanation",
    "dice",
    "dice_at_rl_area",
    "explain",
    "gradcam",
    "integrated_gradients",
    "iou",
    "occlusion",
    "parse_methods",
    "pointing",
    "reference_input",
    "rl_attacks",
    "rl_maps",
    "saliency",
    "score",
    "top_k_mask",
]
