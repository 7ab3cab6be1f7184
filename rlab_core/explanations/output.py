"""Write an explanation to a folder: what ``explain --out DIR`` promises.

Per method, ``<method>.npy`` (the map, the input's non-channel shape) and a viewable overlay in
one colour scale (each map scaled to its own ``[0, 1]``): ``.png`` for an image (heat map over the
image), ``.mp4`` for a video (the same, per frame), ``.png`` for an ECG (the trace over a band
shaded by the map). ``explanation.json`` holds the summary.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from rlab_core.attacks.output import save_mp4, save_npy, save_png
from rlab_core.explanations.explainer import Explanation
from rlab_core.files import atomic_path, atomic_write_text
from rlab_core.sample import Sample
from rlab_core.victims import Victim

COLOUR_MAP = "inferno"
OPACITY = 0.55


def unit_scale(values: torch.Tensor) -> torch.Tensor:
    """The map shifted and scaled to ``[0, 1]`` (all zeros when it is constant)."""
    values = values.float()
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else torch.zeros_like(values)


def heat_overlay(x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``(C, *axes)`` input and ``(*axes)`` map -> ``(3, *axes)`` RGB: the map's colours over the gray input."""
    from matplotlib import colormaps

    heat = torch.from_numpy(colormaps[COLOUR_MAP](unit_scale(values).numpy())[..., :3]).float()
    heat = heat.movedim(-1, 0)
    gray = x.mean(dim=0, keepdim=True).expand_as(heat)
    return (1 - OPACITY) * gray + OPACITY * heat


def save_ecg_overlay(path: Path, signal: np.ndarray, values: torch.Tensor, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = unit_scale(values).numpy()
    fig, ax = plt.subplots(figsize=(10, 2.6), dpi=100)
    low, high = float(signal.min()), float(signal.max())
    ax.imshow(weights[None, :], aspect="auto", cmap=COLOUR_MAP, alpha=0.6, extent=(0, len(signal), low, high),
              origin="lower", vmin=0, vmax=1)
    ax.plot(signal, color="black", linewidth=1)
    ax.set_title(title)
    ax.set_xlabel("sample")
    fig.tight_layout()
    with atomic_path(path) as partial:
        fig.savefig(partial)
    plt.close(fig)


def write_explanation(out: Path, explanation: Explanation, sample: Sample, summary: dict, victim: Victim) -> None:
    atomic_write_text(out / "explanation.json", json.dumps(summary, indent=2))
    for name, attribution in explanation.maps.items():
        save_npy(out / f"{name}.npy", attribution.values.numpy())
        if victim.modality == "ecg":
            low, high = sample.scale or (0.0, 1.0)
            save_ecg_overlay(out / f"{name}.png", low + sample.x[0].numpy() * (high - low), attribution.values, name)
        elif victim.modality == "image":
            save_png(out / f"{name}.png", heat_overlay(sample.x, attribution.values))
        else:
            save_mp4(out / f"{name}.mp4", heat_overlay(sample.x, attribution.values))
