"""Grad-CAM (Selvaraju et al., 2017) on the victim's last convolution, through Captum's LayerGradCam.

White-box: the last convolution's activations weighted by the mean gradient of the true class's
logit over their positions, summed over its channels, kept where positive, then upsampled to the
input's non-channel shape (linear, bilinear or trilinear). A network that runs an image model on
every frame of a clip (``video-imagenet-frames``) gives one map per frame; they are stacked in time.
"""
from __future__ import annotations

import time

import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from rlab_core.explanations.base import AttributionMap

INTERPOLATION = {1: "linear", 2: "bilinear", 3: "trilinear"}


def last_convolution(model: nn.Module) -> nn.Module:
    """The network's last ``Conv1d``, ``Conv2d`` or ``Conv3d`` module (in registration order)."""
    convolutions = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    if not convolutions:
        raise ValueError(f"{type(model).__name__} has no convolution for Grad-CAM")
    return convolutions[-1]


def gradcam(model: nn.Module, x: torch.Tensor, label: int) -> AttributionMap:
    """Map of shape ``x.shape[1:]`` for one input ``x`` ``(C, *axes)`` and its class ``label``."""
    started = time.perf_counter()
    cam = LayerGradCam(model, last_convolution(model)).attribute(x[None], target=label, relu_attributions=True)
    axes = x.dim() - 1
    if cam.dim() - 2 == axes - 1:  # one 2D map per frame: (T, 1, h, w) -> (1, 1, T, h, w)
        cam = cam.transpose(0, 1)[None]
    upsampled = LayerAttribution.interpolate(cam.detach(), tuple(x.shape[1:]), interpolate_mode=INTERPOLATION[axes])
    return AttributionMap("gradcam", upsampled[0, 0], True, None, time.perf_counter() - started)
