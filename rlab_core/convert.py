"""Fit decoded arrays to a victim's input shape: the one place where resizing happens."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_frames(frames: np.ndarray, channels: int, height: int, width: int) -> torch.Tensor:
    """``(T, H, W, C)`` floats in ``[0, 1]`` or uint8 -> ``(channels, T, height, width)`` in ``[0, 1]``.

    The shorter side is resized to fit and the centre cropped (as ImageNet models expect), so
    nothing is stretched; colour is averaged to gray, or gray repeated to colour, as needed.
    """
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32)).permute(0, 3, 1, 2)
    if frames.dtype == np.uint8:
        x = x / 255.0
    if x.shape[1] != channels:
        gray = x.mean(dim=1, keepdim=True)
        x = gray.expand(-1, channels, -1, -1)
    scale = max(height / x.shape[2], width / x.shape[3])
    size = (max(height, round(x.shape[2] * scale)), max(width, round(x.shape[3] * scale)))
    if size != tuple(x.shape[2:]):
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    top, left = (size[0] - height) // 2, (size[1] - width) // 2
    x = x[:, :, top:top + height, left:left + width].clamp(0, 1)
    return x.permute(1, 0, 2, 3).contiguous()


def fit_image(image: np.ndarray, shape: tuple[int, int, int]) -> torch.Tensor:
    """``(H, W, C)`` floats in ``[0, 1]`` -> a ``(C, H, W)`` victim input of ``shape``."""
    return fit_frames(image[None], *shape)[:, 0]


def sample_frame_indices(n_frames: int, wanted: int) -> np.ndarray:
    """``wanted`` frame indices spread evenly over a clip of ``n_frames`` (repeats if it is shorter)."""
    return np.linspace(0, n_frames - 1, wanted).round().astype(int)


def resample_signal(signal: np.ndarray, length: int) -> np.ndarray:
    """Linear resampling of a ``(leads, time)`` signal to ``length`` samples."""
    old = np.linspace(0.0, 1.0, signal.shape[1])
    new = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, lead) for lead in signal]).astype(np.float32)


def scale_to_unit(signal: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Min-max scale a ``(leads, time)`` recording to ``[0, 1]``, returning the scale to undo it."""
    low, high = float(signal.min()), float(signal.max())
    span = high - low if high > low else 1.0
    return ((signal - low) / span).astype(np.float32), (low, low + span)
