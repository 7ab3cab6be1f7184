"""Visual explanations: the RL agent's maps beside Captum's, scored against ground truth.

One file per method, each returning an :class:`AttributionMap` over the input's elements:
``rl`` / ``rl_hard`` (black-box, from attacks), ``saliency``, ``integrated_gradients``,
``gradcam`` (white-box: they read the network's gradients), ``occlusion`` (black-box, queries
counted), and their black-box peers at a query budget (:data:`PEERS`: Captum's Feature Ablation,
Shapley Value Sampling, Kernel SHAP and LIME, and RISE). Beside them, the controls
(:mod:`.controls`: ``model_free``, ``edges``, ``random``, and ``model_free_in_cell``, which reads
the ground truth) ask nothing of the model: a method is only as good as its margin over them.
:func:`explain` runs any of them on one input and scores them with :mod:`.metrics` (with
:func:`validity`, the check that a set can tell them apart); :func:`randomisation_test` is
Adebayo et al.'s sanity check.
"""
from rlab_core.explanations.base import AttributionMap, reference_input
from rlab_core.explanations.captum_peers import at_budgets, feature_ablation, kernel_shap, lime, shapley
from rlab_core.explanations.controls import CONTROLS, MODEL_FREE, edges, model_free, model_free_in_cell, random_map
from rlab_core.explanations.explainer import (
    BLACK_BOX,
    KNOWN,
    METHODS,
    PEERS,
    WHITE_BOX,
    Explanation,
    Target,
    class_index,
    default_methods,
    explain,
    parse_methods,
    target_of,
)
from rlab_core.explanations.gradcam import gradcam
from rlab_core.explanations.integrated_gradients import integrated_gradients
from rlab_core.explanations.metrics import (
    dice,
    dice_at_rl_area,
    gridpg,
    iou,
    pointing,
    score,
    top_k_mask,
    validity,
)
from rlab_core.explanations.occlusion import occlusion
from rlab_core.explanations.randomisation import randomisation_test, randomised_victim, rank_correlation
from rlab_core.explanations.rise import rise, rise_at_budgets
from rlab_core.explanations.rl import rl_at_budgets, rl_attacks, rl_maps
from rlab_core.explanations.saliency import saliency

__all__ = [
    "BLACK_BOX",
    "CONTROLS",
    "KNOWN",
    "METHODS",
    "MODEL_FREE",
    "PEERS",
    "WHITE_BOX",
    "AttributionMap",
    "Explanation",
    "Target",
    "dice",
    "at_budgets",
    "class_index",
    "default_methods",
    "dice_at_rl_area",
    "edges",
    "explain",
    "feature_ablation",
    "gradcam",
    "gridpg",
    "integrated_gradients",
    "iou",
    "kernel_shap",
    "lime",
    "model_free",
    "model_free_in_cell",
    "occlusion",
    "parse_methods",
    "pointing",
    "random_map",
    "randomisation_test",
    "randomised_victim",
    "rank_correlation",
    "reference_input",
    "rise",
    "rise_at_budgets",
    "rl_at_budgets",
    "rl_attacks",
    "rl_maps",
    "saliency",
    "score",
    "shapley",
    "target_of",
    "top_k_mask",
    "validity",
]
